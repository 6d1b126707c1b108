//! A hash aggregation by one integer key, for the order-insensitive functions (sum, mean,
//! count, size, min, max) on 64-bit numbers: the chunk and combine steps of the most common
//! group-by (`df.groupby("user_id").value.mean()`) without Polars' generic machinery.
//!
//! Polars' group-by hashes every key into a general index map, keeps a sketch of the number
//! of groups and evicts "hot" groups; for one integer key that was ~45 % of the CPU time of
//! reading Parquet and aggregating. Here a row's group is its key minus the smallest key
//! when the keys span a small range (ids, codes, years), or a number from an open-addressing
//! table otherwise (see [`groups`]), and each aggregation is one tight loop over a column
//! into per-group states. The result has exactly the columns, names and types of Polars' chunk step
//! (see [`crate::agg`]), so both paths can be mixed in one reduction.
//!
//! Null keys are skipped with `dropna` and form one group otherwise. Sums of integers wrap
//! as Polars' do; minima and maxima of floats ignore NaN unless a group holds only NaN
//! (Polars' `min`/`max`); a group whose values are all null has a null minimum and a zero sum.

mod groups;

use polars::prelude::{
    ChunkedArray, Column, DataFrame as PlFrame, DataType, Float64Type, IdxCa, IdxSize, Int64Type,
    IntoColumn, IntoSeries, PolarsNumericType, PolarsResult, Schema, Series,
};
use polars_arrow::bitmap::Bitmap;
use polars_core::series::IsSorted;
use serde::{Deserialize, Serialize};

use groups::{Grouping, nulls};

use crate::rowkeys::{RowKeys, row_key_dtypes};

/// What one output column computes from one input column, per group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Kind {
    /// Sum in the input's own type (Int64 or Float64).
    Sum,
    /// Sum of the input cast to Float64 (the first part of a mean).
    SumF64,
    /// Number of non-null values (Int64).
    Count,
    /// Number of rows (Int64).
    Size,
    /// Smallest non-null value (null when none).
    Min,
    /// Largest non-null value (null when none).
    Max,
}

/// One output column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Out {
    /// The input column (unused by `Size`).
    pub input: String,
    /// The function.
    pub kind: Kind,
    /// The output column's name.
    pub name: String,
}

/// A fast aggregation: the key columns and a list of outputs, in Polars' column order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// The key columns.
    pub keys: Vec<String>,
    /// Drop rows whose key is null.
    pub dropna: bool,
    /// The aggregated columns.
    pub outs: Vec<Out>,
}

/// The chunk and combine plans of one aggregation, when every function has a fast form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fast {
    /// Per partition.
    pub chunk: Plan,
    /// Over concatenated partial results.
    pub combine: Plan,
}

impl Fast {
    /// The plans for `aggs` by `keys`.
    /// `partial(i, k)` names part `k` of aggregation `i` (see [`crate::agg`]).
    pub fn new(
        keys: &[String],
        dropna: bool,
        aggs: &[(Kind, &str)],
        partial: impl Fn(usize, usize) -> String,
    ) -> Fast {
        let mut chunk = Vec::new();
        for (i, &(kind, input)) in aggs.iter().enumerate() {
            let out = |k: usize, kind: Kind| Out {
                input: input.to_string(),
                kind,
                name: partial(i, k),
            };
            if kind == Kind::SumF64 {
                // A mean: the sum as Float64 and the count.
                chunk.push(out(0, Kind::SumF64));
                chunk.push(out(1, Kind::Count));
            } else {
                chunk.push(out(0, kind));
            }
        }
        let combine = chunk
            .iter()
            .map(|o| Out {
                input: o.name.clone(),
                kind: match o.kind {
                    Kind::Min => Kind::Min,
                    Kind::Max => Kind::Max,
                    _ => Kind::Sum,
                },
                name: o.name.clone(),
            })
            .collect();
        Fast {
            chunk: Plan {
                keys: keys.to_vec(),
                dropna,
                outs: chunk,
            },
            combine: Plan {
                keys: keys.to_vec(),
                dropna: false,
                outs: combine,
            },
        }
    }
}

/// Whether `dt` can be a key here or in [`crate::fastjoin`] (it fits an `i64` exactly).
pub(crate) fn key_dtype(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
    )
}

impl Plan {
    /// Whether this plan can run on frames of `schema` (the right types; otherwise the
    /// reduction keeps Polars' group-by).
    pub fn supports(&self, schema: &Schema) -> bool {
        let Some(kts) = self
            .keys
            .iter()
            .map(|k| schema.get(k))
            .collect::<Option<Vec<_>>>()
        else {
            return false;
        };
        if !(matches!(kts.as_slice(), [kt] if key_dtype(kt)) || row_key_dtypes(kts)) {
            return false;
        }
        self.outs.iter().all(|o| match o.kind {
            Kind::Size => true,
            Kind::Count => schema.get(&o.input).is_some(),
            Kind::Sum | Kind::Min | Kind::Max => matches!(
                schema.get(&o.input),
                Some(DataType::Int64 | DataType::Float64)
            ),
            Kind::SumF64 => schema
                .get(&o.input)
                .is_some_and(|d| d.is_primitive_numeric() && d != &DataType::UInt64),
        })
    }

    /// Aggregate `df` (which must satisfy [`Plan::supports`]).
    pub fn run(&self, df: &PlFrame) -> PolarsResult<PlFrame> {
        let mut inputs = Vec::with_capacity(self.outs.len());
        for o in &self.outs {
            inputs.push(match o.kind {
                Kind::Size => None,
                _ => {
                    let s = df.column(&o.input)?.as_materialized_series();
                    Some(match s.dtype() {
                        DataType::Int64 | DataType::Float64 => s.clone(),
                        _ if o.kind == Kind::SumF64 => s.cast(&DataType::Float64)?,
                        _ => s.clone(),
                    })
                }
            });
        }
        match self.keys.as_slice() {
            [key] if key_dtype(df.column(key)?.dtype()) => self.by_integer(df, key, inputs),
            _ => self.by_rows(df, inputs),
        }
    }

    /// One integer key: dense slots or a table of keys (see [`groups`]).
    fn by_integer(
        &self,
        df: &PlFrame,
        key_name: &str,
        mut inputs: Vec<Option<Series>>,
    ) -> PolarsResult<PlFrame> {
        let key = df.column(key_name)?.as_materialized_series();
        let key_dtype = key.dtype().clone();
        let mut key = key.cast(&DataType::Int64)?;
        // Columns are walked chunk by chunk alongside the key.
        if !inputs
            .iter()
            .flatten()
            .all(|s| s.chunk_lengths().eq(key.chunk_lengths()))
        {
            key = key.rechunk();
            for s in inputs.iter_mut().flatten() {
                *s = s.rechunk();
            }
        }
        let grouping = Grouping::of(key.i64()?, self.dropna);
        let (rows, states) = self.fold(&grouping, &inputs, key.chunks().len())?;
        let (keys, slots) = grouping.groups(&rows);
        // Dense groups come out in key order: say so, and sorting the answer is free.
        let sorted = grouping.is_dense() && keys.iter().all(Option::is_some);
        let mut key_column = keys
            .into_iter()
            .collect::<ChunkedArray<Int64Type>>()
            .with_name(key_name.into())
            .into_series()
            .cast(&key_dtype)?;
        if sorted {
            key_column.set_sorted_flag(IsSorted::Ascending);
        }
        self.assemble(vec![key_column.into_column()], states, &rows, &slots)
    }

    /// Several key columns, or a string key: groups from row hashes (see [`crate::rowkeys`]),
    /// in order of first appearance; the keys are the groups' first rows.
    fn by_rows(&self, df: &PlFrame, mut inputs: Vec<Option<Series>>) -> PolarsResult<PlFrame> {
        let keys: Vec<&Series> = self
            .keys
            .iter()
            .map(|k| df.column(k).map(|c| c.as_materialized_series()))
            .collect::<PolarsResult<_>>()?;
        for s in inputs.iter_mut().flatten() {
            if s.chunks().len() > 1 {
                *s = s.rechunk();
            }
        }
        let grouping = Grouping::of_rows(&RowKeys::new(&keys)?, self.dropna);
        let (rows, states) = self.fold(&grouping, &inputs, 1)?;
        let (_, slots) = grouping.groups(&rows);
        let firsts = IdxCa::from_vec(
            "".into(),
            grouping
                .firsts()
                .unwrap_or_default()
                .iter()
                .map(|&r| r as IdxSize)
                .collect(),
        );
        let mut key_columns = Vec::with_capacity(keys.len());
        for k in &keys {
            key_columns.push(k.take(&firsts)?.into_column());
        }
        self.assemble(key_columns, states, &rows, &slots)
    }

    /// Each output's per-slot state, and the number of rows of each slot.
    fn fold(
        &self,
        grouping: &Grouping<'_>,
        inputs: &[Option<Series>],
        chunks: usize,
    ) -> PolarsResult<(Vec<u32>, Vec<State>)> {
        let mut rows = vec![0u32; grouping.slots()];
        // The first fold over a column without nulls counts the rows of each slot as well.
        let mut counting = true;
        let mut states = Vec::with_capacity(self.outs.len());
        for (o, input) in self.outs.iter().zip(inputs) {
            let fuse = counting
                && input.as_ref().is_some_and(|s| s.null_count() == 0)
                && !matches!(o.kind, Kind::Count | Kind::Size);
            let rows_here = fuse.then_some(rows.as_mut_slice());
            states.push(match input {
                None => State::Rows,
                Some(s) => State::of(o.kind, s, grouping, rows_here)?,
            });
            counting &= !fuse;
        }
        if counting {
            for c in 0..chunks {
                grouping.each(c, |_, s| rows[s] += 1);
            }
        }
        Ok((rows, states))
    }

    /// The key columns, then every output's column.
    fn assemble(
        &self,
        mut columns: Vec<Column>,
        states: Vec<State>,
        rows: &[u32],
        slots: &[u32],
    ) -> PolarsResult<PlFrame> {
        for (o, state) in self.outs.iter().zip(states) {
            columns.push(state.gather(o.name.as_str(), rows, slots));
        }
        PlFrame::new_infer_height(columns)
    }
}

/// Per-slot state of one output.
enum State {
    /// The number of rows (a size, or a count of a column without nulls).
    Rows,
    /// Non-null counts.
    Counts(Vec<i64>),
    /// Float64 sums or extremes, and per-slot non-null counts when some values are null
    /// (slots without any are null).
    F64(Vec<f64>, Option<Vec<i64>>),
    /// Int64 sums or extremes, likewise.
    I64(Vec<i64>, Option<Vec<i64>>),
}

impl State {
    /// Fold `s` into per-slot states; `rows`: count each slot's rows too (`s` has no nulls).
    fn of(
        kind: Kind,
        s: &Series,
        g: &Grouping<'_>,
        rows: Option<&mut [u32]>,
    ) -> PolarsResult<State> {
        let n = g.slots();
        // Extremes of a slot without values are null; sums are zero.
        let seen = |s: &Series| valid_counts(s, g, n);
        Ok(match (kind, s.dtype()) {
            (Kind::Size, _) => State::Rows,
            (Kind::Count, _) => match valid_counts(s, g, n) {
                Some(c) => State::Counts(c),
                None => State::Rows,
            },
            (Kind::Sum | Kind::SumF64, DataType::Float64) => {
                State::F64(fold(s.f64()?, g, 0.0, rows, |a, v| *a += v), None)
            }
            (Kind::SumF64, _) => {
                State::F64(fold(s.i64()?, g, 0.0, rows, |a, v| *a += v as f64), None)
            }
            (Kind::Sum, _) => State::I64(
                fold(s.i64()?, g, 0, rows, |a, v| *a = a.wrapping_add(v)),
                None,
            ),
            (Kind::Min, DataType::Float64) => State::F64(
                fold(s.f64()?, g, f64::NAN, rows, |a, v| *a = a.min(v)),
                seen(s),
            ),
            (Kind::Max, DataType::Float64) => State::F64(
                fold(s.f64()?, g, f64::NAN, rows, |a, v| *a = a.max(v)),
                seen(s),
            ),
            (Kind::Min, _) => State::I64(
                fold(s.i64()?, g, i64::MAX, rows, |a, v| *a = (*a).min(v)),
                seen(s),
            ),
            (Kind::Max, _) => State::I64(
                fold(s.i64()?, g, i64::MIN, rows, |a, v| *a = (*a).max(v)),
                seen(s),
            ),
        })
    }

    /// The groups' values, in the order of `slots`.
    fn gather(self, name: &str, rows: &[u32], slots: &[u32]) -> Column {
        let pick = |v: &[i64]| -> Vec<i64> { slots.iter().map(|&g| v[g as usize]).collect() };
        let valid = |counts: Option<Vec<i64>>| -> Option<Bitmap> {
            counts.map(|c| slots.iter().map(|&g| c[g as usize] > 0).collect())
        };
        match self {
            State::Rows => {
                let v = slots.iter().map(|&g| i64::from(rows[g as usize])).collect();
                ChunkedArray::<Int64Type>::from_vec(name.into(), v).into_column()
            }
            State::Counts(c) => {
                ChunkedArray::<Int64Type>::from_vec(name.into(), pick(&c)).into_column()
            }
            State::I64(acc, counts) => {
                ChunkedArray::<Int64Type>::from_vec_validity(name.into(), pick(&acc), valid(counts))
                    .into_column()
            }
            State::F64(acc, counts) => {
                let v = slots.iter().map(|&g| acc[g as usize]).collect();
                ChunkedArray::<Float64Type>::from_vec_validity(name.into(), v, valid(counts))
                    .into_column()
            }
        }
    }
}

/// Per-slot fold of the non-null values of `ca`; with `rows`, also count each slot's rows
/// (only when `ca` has no nulls: every row is then visited).
fn fold<T, A>(
    ca: &ChunkedArray<T>,
    g: &Grouping<'_>,
    init: A,
    rows: Option<&mut [u32]>,
    mut step: impl FnMut(&mut A, T::Native),
) -> Vec<A>
where
    T: PolarsNumericType,
    A: Clone,
{
    if let Some(rows) = rows {
        debug_assert_eq!(
            ca.null_count(),
            0,
            "rows are counted over null-free columns"
        );
        // State and row count side by side: one cache line per row instead of two.
        let mut both = vec![(init, 0u32); g.slots()];
        for (c, arr) in ca.downcast_iter().enumerate() {
            let values = arr.values().as_slice();
            g.each(c, |i, s| {
                let e = &mut both[s];
                step(&mut e.0, values[i]);
                e.1 += 1;
            });
        }
        return both
            .into_iter()
            .zip(rows.iter_mut())
            .map(|((a, n), r)| {
                *r += n;
                a
            })
            .collect();
    }
    let mut acc = vec![init; g.slots()];
    for (c, arr) in ca.downcast_iter().enumerate() {
        let values = arr.values().as_slice();
        match nulls(arr.validity()) {
            None => g.each(c, |i, s| step(&mut acc[s], values[i])),
            Some(b) => g.each(c, |i, s| {
                if b.get_bit(i) {
                    step(&mut acc[s], values[i]);
                }
            }),
        }
    }
    acc
}

/// Per slot: the number of non-null values of `s` (`None` when it has no nulls).
fn valid_counts(s: &Series, g: &Grouping<'_>, n: usize) -> Option<Vec<i64>> {
    if s.null_count() == 0 {
        return None;
    }
    let mut counts = vec![0i64; n];
    for (c, arr) in s.chunks().iter().enumerate() {
        match nulls(arr.validity()) {
            None => g.each(c, |_, s| counts[s] += 1),
            Some(b) => g.each(c, |i, s| counts[s] += i64::from(b.get_bit(i))),
        }
    }
    Some(counts)
}

#[cfg(test)]
mod tests;
