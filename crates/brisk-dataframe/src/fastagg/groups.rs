//! Which group each row of a partition belongs to.
//!
//! - **Dense**: when the keys span a small range (at most [`DENSE_FACTOR`] × the rows), a
//!   row's group is its key minus the smallest key, computed as the rows are aggregated: no
//!   table lookup, no per-row buffer. Slots no row hit are dropped at the end, and the
//!   groups come out sorted by key.
//! - **Hashed**: otherwise, every row gets a group number from an open-addressing table
//!   (linear probing, Fibonacci hashing), groups in order of first appearance.
//!
//! Null keys are skipped with `dropna` and form one group otherwise.

use std::cell::Cell;

use polars::prelude::{ChunkAgg, ChunkedArray, Int64Type};
use polars_arrow::array::PrimitiveArray;
use polars_arrow::bitmap::Bitmap;

use crate::rowkeys::{RowGroups, RowKeys};

/// Group number of a row that belongs to no group (a null key with `dropna`).
pub(super) const SKIP: u32 = u32::MAX;

/// Key ranges up to this many times the number of rows (and at most [`DENSE_MAX`] slots)
/// are aggregated densely.
const DENSE_FACTOR: u64 = 2;
const DENSE_MAX: u64 = 1 << 24;

/// The groups of one partition's rows.
pub(super) enum Grouping<'a> {
    /// Group = key − `lo`; the null group (when kept) is slot `span`.
    Dense {
        chunks: Vec<&'a PrimitiveArray<i64>>,
        lo: i64,
        span: usize,
        keep_nulls: bool,
    },
    /// A group number per row.
    Hashed {
        /// Per row: the group number, or [`SKIP`].
        ids: Vec<u32>,
        /// Per group: the key (`None`: the null group).
        keys: Vec<Option<i64>>,
        /// Where each chunk's rows start in `ids`.
        starts: Vec<usize>,
    },
    /// A group number per row of a single-chunk frame, from a row key (several columns, or
    /// strings; see [`crate::rowkeys`]).
    Rows(RowGroups),
}

impl<'a> Grouping<'a> {
    /// The grouping of the rows of `key`.
    pub fn of(key: &'a ChunkedArray<Int64Type>, dropna: bool) -> Grouping<'a> {
        let (lo, hi) = bounds(key);
        let span = (i128::from(hi) - i128::from(lo) + 1).max(0) as u64;
        if span > 0 && span <= DENSE_MAX && span <= DENSE_FACTOR * key.len() as u64 {
            return Grouping::Dense {
                chunks: key.downcast_iter().collect(),
                lo,
                span: span as usize,
                keep_nulls: !dropna,
            };
        }
        let mut ids = SPARE_IDS.with(Cell::take);
        ids.clear();
        ids.reserve(key.len());
        let mut keys = Vec::new();
        let mut starts = Vec::new();
        let mut table = Table::with_capacity(1024);
        let mut null_group = SKIP;
        for arr in key.downcast_iter() {
            starts.push(ids.len());
            let validity = nulls(arr.validity());
            for (i, &k) in arr.values().iter().enumerate() {
                if validity.is_some_and(|b| !b.get_bit(i)) {
                    if !dropna && null_group == SKIP {
                        null_group = keys.len() as u32;
                        keys.push(None);
                    }
                    ids.push(null_group);
                    continue;
                }
                let s = table.slot(k, &keys);
                if *s == SKIP {
                    *s = keys.len() as u32;
                    keys.push(Some(k));
                }
                ids.push(*s);
            }
        }
        Grouping::Hashed { ids, keys, starts }
    }

    /// The grouping of the rows of `keys` (whose columns, and the aggregated ones, are single
    /// chunks).
    pub fn of_rows(keys: &RowKeys, dropna: bool) -> Grouping<'static> {
        Grouping::Rows(RowGroups::of(keys, dropna, SPARE_IDS.with(Cell::take)))
    }

    /// Each group's first row, for a grouping of rows (`None` otherwise).
    pub fn firsts(&self) -> Option<&[u32]> {
        match self {
            Grouping::Rows(r) => Some(&r.firsts),
            _ => None,
        }
    }

    /// Whether groups are slots of a key range (and come out sorted by key).
    pub fn is_dense(&self) -> bool {
        matches!(self, Grouping::Dense { .. })
    }

    /// The number of slots the aggregation states need.
    pub fn slots(&self) -> usize {
        match self {
            Grouping::Dense { span, .. } => span + 1,
            Grouping::Hashed { keys, .. } => keys.len(),
            Grouping::Rows(r) => r.firsts.len(),
        }
    }

    /// Calls `f(i, slot)` for every row `i` of chunk `c` that belongs to a group.
    #[inline(always)]
    pub fn each(&self, c: usize, mut f: impl FnMut(usize, usize)) {
        match self {
            Grouping::Dense {
                chunks,
                lo,
                span,
                keep_nulls,
            } => {
                let arr = chunks[c];
                let values = arr.values().as_slice();
                match nulls(arr.validity()) {
                    // Every valid key is within `lo..lo + span` (see `bounds`).
                    None => {
                        for (i, &k) in values.iter().enumerate() {
                            f(i, k.wrapping_sub(*lo) as usize);
                        }
                    }
                    Some(b) => {
                        for (i, &k) in values.iter().enumerate() {
                            if b.get_bit(i) {
                                f(i, k.wrapping_sub(*lo) as usize);
                            } else if *keep_nulls {
                                f(i, *span);
                            }
                        }
                    }
                }
            }
            Grouping::Hashed { ids, starts, .. } => {
                let start = starts[c];
                let end = starts.get(c + 1).copied().unwrap_or(ids.len());
                for (i, &g) in ids[start..end].iter().enumerate() {
                    if g != SKIP {
                        f(i, g as usize);
                    }
                }
            }
            Grouping::Rows(r) => {
                debug_assert_eq!(c, 0, "a grouping of rows has one chunk");
                for (i, &g) in r.ids.iter().enumerate() {
                    if g != SKIP {
                        f(i, g as usize);
                    }
                }
            }
        }
    }

    /// The groups' keys (`None`: the null group) and their slots, given the number of rows
    /// of each slot (dense slots without rows are not groups).
    pub fn groups(&self, rows: &[u32]) -> (Vec<Option<i64>>, Vec<u32>) {
        match self {
            Grouping::Dense { lo, span, .. } => {
                let slots: Vec<u32> = (0..rows.len() as u32)
                    .filter(|&s| rows[s as usize] > 0)
                    .collect();
                let keys = slots
                    .iter()
                    .map(|&s| (s as usize != *span).then(|| lo.wrapping_add(i64::from(s))))
                    .collect();
                (keys, slots)
            }
            Grouping::Hashed { keys, .. } => (keys.clone(), (0..keys.len() as u32).collect()),
            // The keys are taken from the first rows (see `firsts`).
            Grouping::Rows(r) => (Vec::new(), (0..r.firsts.len() as u32).collect()),
        }
    }
}

impl Drop for Grouping<'_> {
    fn drop(&mut self) {
        let ids = match self {
            Grouping::Hashed { ids, .. } => ids,
            Grouping::Rows(r) => &mut r.ids,
            Grouping::Dense { .. } => return,
        };
        {
            let ids = std::mem::take(ids);
            if ids.capacity() <= SPARE_MAX {
                SPARE_IDS.with(|c| c.set(ids));
            }
        }
    }
}

/// A validity bitmap that has nulls (`None`: every value is valid).
#[inline]
pub(super) fn nulls(validity: Option<&Bitmap>) -> Option<&Bitmap> {
    validity.filter(|b| b.unset_bits() > 0)
}

thread_local! {
    /// The row-to-group buffer of the last hashed grouping on this thread, kept so that the
    /// next one does not fault in fresh pages (the kernel zeroing a fresh 4 MB buffer per
    /// partition cost about a fifth of a Parquet group-by).
    static SPARE_IDS: Cell<Vec<u32>> = const { Cell::new(Vec::new()) };
}

/// Buffers larger than this many entries (64 MiB) are not kept.
const SPARE_MAX: usize = 1 << 24;

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

/// An open-addressing table from keys to group numbers.
struct Table {
    /// A group number per slot ([`SKIP`]: empty).
    slots: Vec<u32>,
    shift: u32,
    used: usize,
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

    /// The slot of `k`: holding its group number, or [`SKIP`] (the caller fills it in).
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
