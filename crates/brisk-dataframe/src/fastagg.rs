//! A hash aggregation by one integer key, for the order-insensitive functions (sum, mean,
//! count, size, min, max) on 64-bit numbers: the chunk and combine steps of the most common
//! group-by (`df.groupby("user_id").value.mean()`) without Polars' generic machinery.
//!
//! Polars' group-by hashes every key into a general index map, keeps a sketch of the number
//! of groups and evicts "hot" groups; for one integer key that was ~45 % of the CPU time of
//! reading Parquet and aggregating. Here the keys of a partition are mapped to dense group
//! numbers first — by direct indexing when their range is small (ids, codes, years), by an
//! open-addressing table otherwise — and each aggregation is then one tight loop over a
//! column. The result has exactly the columns, names and types of Polars' chunk step
//! (see [`crate::agg`]), so both paths can be mixed in one reduction.
//!
//! Null keys are skipped with `dropna` and form one group otherwise. Sums of integers wrap
//! as Polars' do; minima and maxima of floats ignore NaN unless a group holds only NaN
//! (Polars' `min`/`max`); a group whose values are all null has a null minimum and a zero sum.

use polars::prelude::{
    ChunkAgg, ChunkedArray, Column, DataFrame as PlFrame, DataType, Int64Type, IntoColumn,
    IntoSeries, NewChunkedArray, PolarsNumericType, PolarsResult, Schema,
};
use serde::{Deserialize, Serialize};
use std::cell::Cell;

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
        let key = key.cast(&DataType::Int64)?;
        let groups = Groups::of(key.i64()?, self.dropna);
        let mut columns: Vec<Column> = Vec::with_capacity(self.outs.len() + 1);
        columns.push(groups.key_column(&self.key, &key_dtype)?);
        for o in &self.outs {
            columns.push(self.output(df, o, &groups)?);
        }
        PlFrame::new_infer_height(columns)
    }

    fn output(&self, df: &PlFrame, o: &Out, g: &Groups) -> PolarsResult<Column> {
        let name = o.name.as_str();
        if o.kind == Kind::Size {
            let mut n = vec![0i64; g.len()];
            for &gi in &g.ids {
                if gi != SKIP {
                    n[gi as usize] += 1;
                }
            }
            return Ok(ChunkedArray::<Int64Type>::from_vec(name.into(), n).into_column());
        }
        let s = df.column(&o.input)?.as_materialized_series();
        Ok(match o.kind {
            Kind::Count => {
                let mut n = vec![0i64; g.len()];
                if s.null_count() == 0 {
                    for &gi in &g.ids {
                        if gi != SKIP {
                            n[gi as usize] += 1;
                        }
                    }
                } else {
                    let valid = s.is_not_null();
                    for (&gi, v) in g.ids.iter().zip(valid.iter()) {
                        if gi != SKIP && v == Some(true) {
                            n[gi as usize] += 1;
                        }
                    }
                }
                ChunkedArray::<Int64Type>::from_vec(name.into(), n).into_column()
            }
            Kind::SumF64 => {
                let s = s.cast(&DataType::Float64)?;
                sum(s.f64()?, g, |a, b| a + b, name)
            }
            Kind::Sum => match s.dtype() {
                DataType::Float64 => sum(s.f64()?, g, |a, b| a + b, name),
                _ => sum(s.i64()?, g, i64::wrapping_add, name),
            },
            Kind::Min => match s.dtype() {
                DataType::Float64 => extreme(s.f64()?, g, f64::min, name),
                _ => extreme(s.i64()?, g, std::cmp::min, name),
            },
            Kind::Max => match s.dtype() {
                DataType::Float64 => extreme(s.f64()?, g, f64::max, name),
                _ => extreme(s.i64()?, g, std::cmp::max, name),
            },
            Kind::Size => unreachable!("handled above"),
        })
    }
}

/// Group number of a row that belongs to no group (a null key with `dropna`).
const SKIP: u32 = u32::MAX;

/// The group of every row, and each group's key (in order of first appearance).
struct Groups {
    /// Per row: the group number, or [`SKIP`].
    ids: Vec<u32>,
    /// Per group: the key (`None`: the null group).
    keys: Vec<Option<i64>>,
}

/// Key ranges up to this many times the number of rows (and at most this table size) are
/// indexed directly.
const DIRECT_FACTOR: u64 = 4;
const DIRECT_MAX: u64 = 1 << 24;

impl Groups {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn of(key: &ChunkedArray<Int64Type>, dropna: bool) -> Groups {
        let n = key.len();
        let mut ids = SPARE_IDS.with(Cell::take);
        ids.clear();
        ids.reserve(n);
        let mut g = Groups {
            ids,
            keys: Vec::new(),
        };
        let (lo, hi) = bounds(key);
        let span = (i128::from(hi) - i128::from(lo) + 1).max(0) as u64;
        if span > 0 && span <= DIRECT_MAX && span <= DIRECT_FACTOR * n as u64 {
            let mut slots = SPARE_SLOTS.with(Cell::take);
            slots.clear();
            slots.resize(span as usize, SKIP);
            let mut direct = Direct { slots, lo };
            g.assign(key, dropna, &mut direct);
            keep(&SPARE_SLOTS, direct.slots);
        } else {
            g.assign(key, dropna, &mut Table::with_capacity(1024));
        }
        g
    }

    /// Number the rows' groups, finding each valid key's slot with `slot`.
    #[inline(always)]
    fn assign(&mut self, key: &ChunkedArray<Int64Type>, dropna: bool, slots: &mut impl Slots) {
        let mut null_group = SKIP;
        for arr in key.downcast_iter() {
            let values = arr.values().as_slice();
            let validity = arr.validity().filter(|b| b.unset_bits() > 0);
            for (i, &k) in values.iter().enumerate() {
                if validity.is_some_and(|b| !b.get_bit(i)) {
                    if !dropna && null_group == SKIP {
                        null_group = self.keys.len() as u32;
                        self.keys.push(None);
                    }
                    self.ids.push(null_group);
                    continue;
                }
                let s = slots.slot(k, &self.keys);
                if *s == SKIP {
                    *s = self.keys.len() as u32;
                    self.keys.push(Some(k));
                }
                self.ids.push(*s);
            }
        }
    }

    fn key_column(&self, name: &str, dtype: &DataType) -> PolarsResult<Column> {
        let ca: ChunkedArray<Int64Type> = self.keys.iter().copied().collect();
        Ok(ca
            .with_name(name.into())
            .into_series()
            .cast(dtype)?
            .into_column())
    }
}

/// The smallest and largest valid key (`(0, -1)` when there is none), in one pass when the
/// column has no nulls.
fn bounds(key: &ChunkedArray<Int64Type>) -> (i64, i64) {
    if key.null_count() > 0 {
        return match (key.min(), key.max()) {
            (Some(lo), Some(hi)) => (lo, hi),
            _ => (0, -1),
        };
    }
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    for arr in key.downcast_iter() {
        for &k in arr.values().as_slice() {
            lo = lo.min(k);
            hi = hi.max(k);
        }
    }
    if lo > hi { (0, -1) } else { (lo, hi) }
}

thread_local! {
    /// The row-to-group buffer of the last aggregation on this thread, kept so that the next
    /// one does not fault in fresh pages (the kernel zeroing them cost more than the
    /// aggregation itself).
    static SPARE_IDS: Cell<Vec<u32>> = const { Cell::new(Vec::new()) };
    /// The same for the direct-indexing table.
    static SPARE_SLOTS: Cell<Vec<u32>> = const { Cell::new(Vec::new()) };
}

/// Buffers larger than this many entries (64 MiB) are not kept.
const SPARE_MAX: usize = 1 << 24;

fn keep(spare: &'static std::thread::LocalKey<Cell<Vec<u32>>>, buffer: Vec<u32>) {
    if buffer.capacity() <= SPARE_MAX {
        spare.with(|c| c.set(buffer));
    }
}

impl Drop for Groups {
    fn drop(&mut self) {
        keep(&SPARE_IDS, std::mem::take(&mut self.ids));
    }
}

/// Where a key's group number is kept.
trait Slots {
    /// The slot of `k`: holding its group number, or [`SKIP`] (the caller fills it in).
    fn slot(&mut self, k: i64, keys: &[Option<i64>]) -> &mut u32;
}

/// A slot per possible key, for keys in a small range starting at `lo`.
struct Direct {
    slots: Vec<u32>,
    lo: i64,
}

impl Slots for Direct {
    #[inline(always)]
    fn slot(&mut self, k: i64, _: &[Option<i64>]) -> &mut u32 {
        // Keys are at least `lo` and at most `lo + slots.len() - 1` (see `bounds`).
        &mut self.slots[k.wrapping_sub(self.lo) as u64 as usize]
    }
}

/// An open-addressing table from keys to group numbers (linear probing, Fibonacci hashing).
struct Table {
    /// Group number + 0 per slot ([`SKIP`]: empty).
    slots: Vec<u32>,
    shift: u32,
    used: usize,
}

impl Slots for Table {
    #[inline]
    fn slot(&mut self, k: i64, keys: &[Option<i64>]) -> &mut u32 {
        if (self.used + 1) * 2 > self.slots.len() {
            self.grow(keys);
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(k);
        loop {
            let s = self.slots[i];
            if s == SKIP {
                self.used += 1;
                return &mut self.slots[i];
            }
            if keys[s as usize] == Some(k) {
                return &mut self.slots[i];
            }
            i = (i + 1) & mask;
        }
    }
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        let cap = n.next_power_of_two().max(16);
        Table {
            slots: vec![SKIP; cap],
            shift: 64 - cap.trailing_zeros(),
            used: 0,
        }
    }

    #[inline]
    fn home(&self, k: i64) -> usize {
        ((k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    fn grow(&mut self, keys: &[Option<i64>]) {
        let mut bigger = Table::with_capacity(self.slots.len() * 2);
        let mask = bigger.slots.len() - 1;
        for &s in self.slots.iter().filter(|&&s| s != SKIP) {
            let Some(k) = keys[s as usize] else { continue };
            let mut i = bigger.home(k);
            while bigger.slots[i] != SKIP {
                i = (i + 1) & mask;
            }
            bigger.slots[i] = s;
        }
        bigger.used = self.used;
        *self = bigger;
    }
}

/// Per-group sums (zero for a group without values).
fn sum<T>(
    ca: &ChunkedArray<T>,
    g: &Groups,
    add: fn(T::Native, T::Native) -> T::Native,
    name: &str,
) -> Column
where
    T: PolarsNumericType,
    ChunkedArray<T>: IntoColumn,
{
    let mut acc = vec![T::Native::default(); g.len()];
    let mut row = 0;
    for arr in ca.downcast_iter() {
        let values = arr.values().as_slice();
        let ids = &g.ids[row..row + values.len()];
        match arr.validity().filter(|b| b.unset_bits() > 0) {
            None => {
                for (&gi, &v) in ids.iter().zip(values) {
                    if gi != SKIP {
                        let a = &mut acc[gi as usize];
                        *a = add(*a, v);
                    }
                }
            }
            Some(b) => {
                for (i, (&gi, &v)) in ids.iter().zip(values).enumerate() {
                    if gi != SKIP && b.get_bit(i) {
                        let a = &mut acc[gi as usize];
                        *a = add(*a, v);
                    }
                }
            }
        }
        row += values.len();
    }
    ChunkedArray::<T>::from_vec(name.into(), acc).into_column()
}

/// Per-group minima or maxima of the non-null values (null for a group without any).
fn extreme<T>(
    ca: &ChunkedArray<T>,
    g: &Groups,
    pick: fn(T::Native, T::Native) -> T::Native,
    name: &str,
) -> Column
where
    T: PolarsNumericType,
    ChunkedArray<T>: IntoColumn,
{
    let mut acc: Vec<Option<T::Native>> = vec![None; g.len()];
    let mut row = 0;
    for arr in ca.downcast_iter() {
        let values = arr.values().as_slice();
        let validity = arr.validity().filter(|b| b.unset_bits() > 0);
        for (i, (&gi, &v)) in g.ids[row..row + values.len()]
            .iter()
            .zip(values)
            .enumerate()
        {
            if gi == SKIP || validity.is_some_and(|b| !b.get_bit(i)) {
                continue;
            }
            let a = &mut acc[gi as usize];
            *a = Some(match *a {
                Some(x) => pick(x, v),
                None => v,
            });
        }
        row += values.len();
    }
    ChunkedArray::<T>::from_iter_options(name.into(), acc.into_iter()).into_column()
}

#[cfg(test)]
mod tests;
