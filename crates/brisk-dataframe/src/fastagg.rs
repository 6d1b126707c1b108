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
    ChunkedArray, Column, DataFrame as PlFrame, DataType, Float64Type, Int64Type, IntoColumn,
    IntoSeries, PolarsNumericType, PolarsResult, Schema, Series,
};
use polars_arrow::bitmap::Bitmap;
use serde::{Deserialize, Serialize};

use groups::{Grouping, nulls};

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

/// A fast aggregation: one integer key and a list of outputs, in Polars' column order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// The key column.
    pub key: String,
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
    /// The plans for `aggs` by `key`, or `None` when a function has no fast form.
    /// `partial(i, k)` names part `k` of aggregation `i` (see [`crate::agg`]).
    pub fn new(
        key: &str,
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
                key: key.to_string(),
                dropna,
                outs: chunk,
            },
            combine: Plan {
                key: key.to_string(),
                dropna: false,
                outs: combine,
            },
        }
    }
}

/// Whether `dt` can be a key (it fits an `i64` exactly).
fn key_dtype(dt: &DataType) -> bool {
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
        let Some(kt) = schema.get(&self.key) else {
            return false;
        };
        if !key_dtype(kt) {
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
        let key = df.column(&self.key)?.as_materialized_series();
        let key_dtype = key.dtype().clone();
        let mut key = key.cast(&DataType::Int64)?;
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
        let n_chunks = key.chunks().len();
        let mut rows = vec![0u32; grouping.slots()];
        for c in 0..n_chunks {
            grouping.each(c, |_, s| rows[s] += 1);
        }
        let (keys, slots) = grouping.groups(&rows);
        let key_column = keys
            .into_iter()
            .collect::<ChunkedArray<Int64Type>>()
            .with_name(self.key.as_str().into())
            .into_series()
            .cast(&key_dtype)?
            .into_column();
        let mut columns = Vec::with_capacity(self.outs.len() + 1);
        columns.push(key_column);
        let out = Outputs {
            grouping: &grouping,
            rows: &rows,
            slots: &slots,
        };
        for (o, input) in self.outs.iter().zip(&inputs) {
            let name = o.name.as_str();
            columns.push(match input {
                None => out.counts(name, None),
                Some(s) => out.column(o.kind, name, s)?,
            });
        }
        PlFrame::new_infer_height(columns)
    }
}

/// The output columns of one run: per-slot states gathered for the groups' slots.
struct Outputs<'a> {
    grouping: &'a Grouping<'a>,
    rows: &'a [u32],
    slots: &'a [u32],
}

impl Outputs<'_> {
    fn column(&self, kind: Kind, name: &str, s: &Series) -> PolarsResult<Column> {
        Ok(match (kind, s.dtype()) {
            (Kind::Count, _) => self.counts(name, Some(s)),
            (Kind::Sum | Kind::SumF64, DataType::Float64) => {
                self.values::<Float64Type>(name, self.fold(s.f64()?, 0.0, |a, v| *a += v), None)
            }
            (Kind::SumF64, _) => self.values::<Float64Type>(
                name,
                self.fold(s.i64()?, 0.0, |a, v| *a += v as f64),
                None,
            ),
            (Kind::Sum, _) => self.values::<Int64Type>(
                name,
                self.fold(s.i64()?, 0, |a, v| *a = a.wrapping_add(v)),
                None,
            ),
            (Kind::Min, DataType::Float64) => {
                let acc = self.fold(s.f64()?, f64::NAN, |a, v| *a = a.min(v));
                self.values::<Float64Type>(name, acc, self.seen(s))
            }
            (Kind::Max, DataType::Float64) => {
                let acc = self.fold(s.f64()?, f64::NAN, |a, v| *a = a.max(v));
                self.values::<Float64Type>(name, acc, self.seen(s))
            }
            (Kind::Min, _) => {
                let acc = self.fold(s.i64()?, i64::MAX, |a, v| *a = (*a).min(v));
                self.values::<Int64Type>(name, acc, self.seen(s))
            }
            (Kind::Max, _) => {
                let acc = self.fold(s.i64()?, i64::MIN, |a, v| *a = (*a).max(v));
                self.values::<Int64Type>(name, acc, self.seen(s))
            }
            (Kind::Size, _) => self.counts(name, None),
        })
    }

    /// Per-slot fold of the non-null values of `ca`.
    fn fold<T, A>(
        &self,
        ca: &ChunkedArray<T>,
        init: A,
        mut step: impl FnMut(&mut A, T::Native),
    ) -> Vec<A>
    where
        T: PolarsNumericType,
        A: Clone,
    {
        let mut acc = vec![init; self.rows.len()];
        for (c, arr) in ca.downcast_iter().enumerate() {
            let values = arr.values().as_slice();
            match nulls(arr.validity()) {
                None => self.grouping.each(c, |i, s| step(&mut acc[s], values[i])),
                Some(b) => self.grouping.each(c, |i, s| {
                    if b.get_bit(i) {
                        step(&mut acc[s], values[i]);
                    }
                }),
            }
        }
        acc
    }

    /// Per slot: the number of non-null values of `s` (`None`: of rows).
    fn valid_counts(&self, s: Option<&Series>) -> Option<Vec<i64>> {
        let s = s.filter(|s| s.null_count() > 0)?;
        let mut n = vec![0i64; self.rows.len()];
        for (c, arr) in s.chunks().iter().enumerate() {
            match nulls(arr.validity()) {
                None => self.grouping.each(c, |_, g| n[g] += 1),
                Some(b) => self
                    .grouping
                    .each(c, |i, g| n[g] += i64::from(b.get_bit(i))),
            }
        }
        Some(n)
    }

    /// Non-null counts of `s` (rows when `None`), as an Int64 column.
    fn counts(&self, name: &str, s: Option<&Series>) -> Column {
        let v: Vec<i64> = match self.valid_counts(s) {
            Some(n) => self.slots.iter().map(|&g| n[g as usize]).collect(),
            None => self
                .slots
                .iter()
                .map(|&g| i64::from(self.rows[g as usize]))
                .collect(),
        };
        ChunkedArray::<Int64Type>::from_vec(name.into(), v).into_column()
    }

    /// Which groups have a non-null value of `s` (`None`: all).
    fn seen(&self, s: &Series) -> Option<Bitmap> {
        let n = self.valid_counts(Some(s))?;
        Some(self.slots.iter().map(|&g| n[g as usize] > 0).collect())
    }

    /// The groups' states as a column, null where `valid` says so.
    fn values<T>(&self, name: &str, acc: Vec<T::Native>, valid: Option<Bitmap>) -> Column
    where
        T: PolarsNumericType,
        ChunkedArray<T>: IntoColumn,
    {
        let v: Vec<T::Native> = self.slots.iter().map(|&g| acc[g as usize]).collect();
        ChunkedArray::<T>::from_vec_validity(name.into(), v, valid).into_column()
    }
}

#[cfg(test)]
mod tests;
