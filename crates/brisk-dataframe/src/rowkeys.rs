//! Keys made of several columns, or of strings, handled as rows: a 64-bit hash per row and an
//! exact comparison of two rows, so that the hash kernels of [`crate::fastagg`] and
//! [`crate::fastjoin`] (written for one integer key) also serve string keys and multi-column
//! keys (TPC-H groups and joins by `(l_returnflag, l_linestatus)`, `(ps_partkey, ps_suppkey)`, …).
//!
//! The hash is Polars' own row hash (`vec_hash`, combined over the columns with a fixed seed),
//! so equal keys hash alike on both sides of a join when the column types are equal. Two rows
//! with equal hashes are then compared column by column: integers (any width, dates and
//! datetimes through their physical Int64) by value, strings by their views (the length and
//! the first four bytes sit in the view; strings of at most twelve bytes sit entirely in it)
//! and by their bytes only when those agree. A null equals a null (a group-by's null group);
//! joins skip rows with a null key themselves.
//!
//! Grouping (see [`RowGroups`]) keeps each group's key in compact per-group arrays rather than
//! looking at the group's first row, which could be anywhere in the partition (a cache miss per
//! row with 100k groups).

use polars::prelude::{DataType, PolarsResult, Series, polars_err};
use polars_arrow::array::{Array, PrimitiveArray, Utf8ViewArray, View};
use polars_arrow::bitmap::Bitmap;
use polars_utils::aliases::PlSeedableRandomStateQuality;

/// Rows with a key value outside any group (a null key with `dropna`).
pub(crate) const SKIP: u32 = u32::MAX;

/// At most this many key columns (per-group null flags are the bits of a `u32`).
const MAX_COLUMNS: usize = 32;

/// Whether a column of type `dt` can be part of a row key here.
pub(crate) fn row_key_dtype(dt: &DataType) -> bool {
    (dt.is_integer() && !matches!(dt, DataType::Int128 | DataType::UInt128))
        || matches!(
            dt,
            DataType::String | DataType::Boolean | DataType::Date | DataType::Datetime(_, _)
        )
}

/// Whether columns of these types form a row key here.
pub(crate) fn row_key_dtypes<'a>(dts: impl IntoIterator<Item = &'a DataType>) -> bool {
    let mut n = 0;
    for dt in dts {
        if !row_key_dtype(dt) {
            return false;
        }
        n += 1;
    }
    (1..=MAX_COLUMNS).contains(&n)
}

/// One key column as one array.
enum Col {
    /// Integers, booleans, dates and datetimes as Int64 (UInt64 bit for bit).
    Int(PrimitiveArray<i64>),
    /// Strings.
    Str(Utf8ViewArray),
}

impl Col {
    fn of(s: &Series) -> PolarsResult<Col> {
        let missing = || polars_err!(ComputeError: "key column {} has no chunk", s.name());
        Ok(match s.dtype() {
            DataType::String => Col::Str(
                s.str()?
                    .rechunk()
                    .downcast_iter()
                    .next()
                    .cloned()
                    .ok_or_else(missing)?,
            ),
            DataType::UInt64 => {
                let ca = s.u64()?.rechunk();
                let a = ca.downcast_iter().next().ok_or_else(missing)?;
                let bits: Vec<i64> = a.values().iter().map(|&v| v as i64).collect();
                Col::Int(PrimitiveArray::from_vec(bits).with_validity(a.validity().cloned()))
            }
            _ => Col::Int(
                s.to_physical_repr()
                    .cast(&DataType::Int64)?
                    .rechunk()
                    .i64()?
                    .downcast_iter()
                    .next()
                    .cloned()
                    .ok_or_else(missing)?,
            ),
        })
    }

    fn validity(&self) -> Option<&Bitmap> {
        match self {
            Col::Int(a) => a.validity(),
            Col::Str(a) => a.validity(),
        }
        .filter(|b| b.unset_bits() > 0)
    }

    /// Whether row `i` here equals row `j` of `other` (a column of the same kind).
    #[inline]
    fn eq(&self, i: usize, other: &Col, j: usize) -> bool {
        match (self, other) {
            (Col::Int(a), Col::Int(b)) => {
                let (va, vb) = (a.is_valid(i), b.is_valid(j));
                va == vb && (!va || a.values()[i] == b.values()[j])
            }
            (Col::Str(a), Col::Str(b)) => {
                let (va, vb) = (a.is_valid(i), b.is_valid(j));
                if va != vb {
                    return false;
                }
                if !va {
                    return true;
                }
                let (x, y) = (a.views()[i], b.views()[j]);
                // Equal views (a short string inline, or the same bytes) are equal strings.
                if x.as_u128() == y.as_u128() {
                    return true;
                }
                x.length == y.length && x.prefix == y.prefix && a.value(i) == b.value(j)
            }
            _ => false,
        }
    }
}

/// The key columns of one frame, with a hash per row.
pub(crate) struct RowKeys {
    cols: Vec<Col>,
    hashes: Vec<u64>,
    /// Per row: every key column is non-null (`None`: no nulls at all).
    valid: Option<Bitmap>,
}

impl RowKeys {
    /// The keys `columns` (of types accepted by [`row_key_dtypes`]).
    pub fn new(columns: &[&Series]) -> PolarsResult<RowKeys> {
        let mut hashes = Vec::new();
        let seed = PlSeedableRandomStateQuality::fixed();
        let mut cols = Vec::with_capacity(columns.len());
        for (c, s) in columns.iter().enumerate() {
            let s = s.rechunk();
            if c == 0 {
                s.vec_hash(seed.clone(), &mut hashes)?;
            } else {
                s.vec_hash_combine(seed.clone(), &mut hashes)?;
            }
            cols.push(Col::of(&s)?);
        }
        let valid = cols
            .iter()
            .filter_map(Col::validity)
            .fold(None::<Bitmap>, |acc, b| {
                Some(match acc {
                    None => b.clone(),
                    Some(a) => &a & b,
                })
            });
        Ok(RowKeys {
            cols,
            hashes,
            valid,
        })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// The row hashes.
    pub fn hashes(&self) -> &[u64] {
        &self.hashes
    }

    /// Per row: whether no key column is null (`None`: none is).
    pub fn valid(&self) -> Option<&Bitmap> {
        self.valid.as_ref()
    }

    /// Whether row `i` here has the same key as row `j` of `other` (same column types).
    #[inline]
    pub fn eq(&self, i: usize, other: &RowKeys, j: usize) -> bool {
        self.cols
            .iter()
            .zip(&other.cols)
            .all(|(a, b)| a.eq(i, b, j))
    }
}

/// Per group, the key of one key column.
enum Store {
    Int(Vec<i64>),
    Str(Vec<View>),
}

/// Group numbers for the rows of a [`RowKeys`], in order of first appearance: an
/// open-addressing table of group numbers (linear probing on the row hash), each group's
/// key kept in per-group arrays.
pub(crate) struct RowGroups {
    /// Per row: the group number, or [`SKIP`].
    pub ids: Vec<u32>,
    /// Per group: its first row.
    pub firsts: Vec<u32>,
}

impl RowGroups {
    /// The groups of `keys`' rows; with `dropna`, rows with a null key belong to none. `ids`
    /// is reused as the per-row buffer.
    pub fn of(keys: &RowKeys, dropna: bool, mut ids: Vec<u32>) -> RowGroups {
        ids.clear();
        ids.reserve(keys.len());
        let mut firsts: Vec<u32> = Vec::new();
        let mut ghash: Vec<u64> = Vec::new();
        let mut stores: Vec<Store> = keys
            .cols
            .iter()
            .map(|c| match c {
                Col::Int(_) => Store::Int(Vec::new()),
                Col::Str(_) => Store::Str(Vec::new()),
            })
            .collect();
        // Per group, bit `c` set: key column `c` is null (kept only when some key has nulls).
        let nullable = keys.cols.iter().any(|c| c.validity().is_some());
        let mut gnulls: Vec<u32> = Vec::new();
        let null_bits = |i: usize| -> u32 {
            keys.cols
                .iter()
                .enumerate()
                .map(|(c, col)| match col.validity() {
                    Some(b) if !b.get_bit(i) => 1 << c,
                    _ => 0,
                })
                .sum()
        };
        // A slot holds the top 32 bits of the group's hash beside its number, so that a probe
        // touches the group's own arrays only when those agree (one cache miss fewer per row).
        const EMPTY: u64 = u64::MAX;
        let slot_of = |h: u64, g: u32| (h & !0xFFFF_FFFF) | u64::from(g);
        let mut cap = 1024usize;
        let mut table = vec![EMPTY; cap];
        let mut shift = 64 - cap.trailing_zeros();
        for i in 0..keys.len() {
            if dropna && keys.valid.as_ref().is_some_and(|b| !b.get_bit(i)) {
                ids.push(SKIP);
                continue;
            }
            if (firsts.len() + 1) * 2 > cap {
                cap *= 2;
                shift -= 1;
                table = vec![EMPTY; cap];
                for (g, &h) in ghash.iter().enumerate() {
                    let mut s = (h >> shift) as usize;
                    while table[s] != EMPTY {
                        s = (s + 1) & (cap - 1);
                    }
                    table[s] = slot_of(h, g as u32);
                }
            }
            let h = keys.hashes[i];
            let tag = h >> 32;
            let bits = if nullable { null_bits(i) } else { 0 };
            let mut s = (h >> shift) as usize;
            let g = loop {
                let e = table[s];
                if e == EMPTY {
                    let g = firsts.len() as u32;
                    table[s] = slot_of(h, g);
                    firsts.push(i as u32);
                    ghash.push(h);
                    if nullable {
                        gnulls.push(bits);
                    }
                    for (store, col) in stores.iter_mut().zip(&keys.cols) {
                        match (store, col) {
                            (Store::Int(v), Col::Int(a)) => v.push(a.values()[i]),
                            (Store::Str(v), Col::Str(a)) => v.push(a.views()[i]),
                            _ => {}
                        }
                    }
                    break g;
                }
                let gu = (e & 0xFFFF_FFFF) as usize;
                if e >> 32 == tag
                    && (!nullable || gnulls[gu] == bits)
                    && same(&stores, keys, gu, firsts[gu] as usize, i, bits)
                {
                    break gu as u32;
                }
                s = (s + 1) & (cap - 1);
            };
            ids.push(g);
        }
        RowGroups { ids, firsts }
    }
}

/// Whether row `i` has group `g`'s key (their null flags `bits` are equal), whose first row is
/// `first`.
#[inline]
fn same(stores: &[Store], keys: &RowKeys, g: usize, first: usize, i: usize, bits: u32) -> bool {
    stores
        .iter()
        .zip(&keys.cols)
        .enumerate()
        .all(|(c, (store, col))| {
            if bits & (1 << c) != 0 {
                return true;
            }
            match (store, col) {
                (Store::Int(v), Col::Int(a)) => v[g] == a.values()[i],
                (Store::Str(v), Col::Str(a)) => {
                    let (x, y) = (v[g], a.views()[i]);
                    if x.as_u128() == y.as_u128() {
                        return true;
                    }
                    if x.length != y.length || x.prefix != y.prefix {
                        return false;
                    }
                    match (x.get_inlined_slice(), y.get_inlined_slice()) {
                        (Some(p), Some(q)) => p == q,
                        _ => a.value(first) == a.value(i),
                    }
                }
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use polars::prelude::{NamedFrom, Series};

    use super::{RowGroups, RowKeys, SKIP};

    #[test]
    fn groups_follow_first_appearance_and_nulls() {
        let a = Series::new(
            "a".into(),
            [Some(1i64), Some(2), None, Some(1), None, Some(2)],
        );
        let b = Series::new(
            "b".into(),
            [
                Some("a very long string indeed"),
                Some("x"),
                Some("x"),
                Some("a very long string indeed"),
                Some("x"),
                None,
            ],
        );
        let keys = RowKeys::new(&[&a, &b]).unwrap();
        let g = RowGroups::of(&keys, false, Vec::new());
        assert_eq!(g.ids, vec![0, 1, 2, 0, 2, 3]);
        assert_eq!(g.firsts, vec![0, 1, 2, 5]);
        let g = RowGroups::of(&keys, true, Vec::new());
        assert_eq!(g.ids, vec![0, 1, SKIP, 0, SKIP, SKIP]);
        assert!(keys.eq(0, &keys, 3) && !keys.eq(1, &keys, 5) && keys.eq(2, &keys, 4));
    }
}
