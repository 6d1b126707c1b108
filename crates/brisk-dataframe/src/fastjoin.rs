//! An inner or left hash join on one integer key, or on string and multi-column keys through
//! their row hashes (see [`crate::rowkeys`]), without Polars' general join kernel (~55 % of the
//! CPU time of the 10M × 10M benchmark). Both sides' keys are first split by the top bits of
//! a hash into buckets small enough for a bucket's table to stay in the core's cache
//! (a radix-partitioned join); each bucket then builds a table of its right keys, with
//! chains for duplicates, and probes it with its left keys. The matching row pairs are
//! gathered from both frames with Polars' `take`. Row keys are joined as their 64-bit hashes
//! (a row with a null in any key column has none), and every pair of rows whose hashes match
//! is then compared column by column, so that a collision never pairs rows; they are joined
//! here only when the right side is large (see [`ROWKEY_MIN_RIGHT`]): below that, Polars'
//! join was as fast or faster.
//!
//! Output columns, names (suffixes) and types are Polars' own: they are read from the schema
//! Polars gives for the same join of empty frames, and anything that does not line up keeps
//! Polars' join. Null keys never match (`nulls_equal` keeps Polars' join). A left join keeps
//! the left order, as Polars' does (the pairs are put back in order by a counting sort), and
//! adds the unmatched left rows with nulls on the right; an inner join's rows come bucket by
//! bucket (its order is unspecified in Polars and Dask too: restoring it cost ~15 %).

use polars::prelude::{
    ChunkedArray, DataFrame as PlFrame, DataType, IdxCa, IdxSize, Int64Type, PlSmallStr,
    PolarsResult, Schema, Series,
};

use polars_arrow::bitmap::Bitmap;

use crate::fastagg::key_dtype;
use crate::join::{How, JoinSpec};
use crate::rowkeys::{RowKeys, row_key_dtypes};

/// End of a chain / an empty slot.
const NONE: u32 = u32::MAX;

/// About this many right rows per bucket (a table of 4096 × 2 slots plus keys: ~100 KB).
const BUCKET_ROWS: usize = 4096;

/// Row keys (string or multi-column) are joined here only when the right side has at least
/// this many rows. One partition's join (`rowkey_join_speed`, 1.25M left rows, one Polars
/// thread): with 125k right rows Polars' join was at par to 1.5× faster (its one table stays
/// in cache), with 1.25M right rows this kernel was 3× faster (85 against 261 ns per left row
/// on a string key, 125 against 346 on (integer, string) keys).
const ROWKEY_MIN_RIGHT: usize = 1 << 19;

/// The join, or `None` when it is not one this module does.
pub(crate) fn try_join(
    spec: &JoinSpec,
    left: &PlFrame,
    right: &PlFrame,
) -> Option<PolarsResult<PlFrame>> {
    try_join_from(spec, left, right, ROWKEY_MIN_RIGHT)
}

/// [`try_join`], joining row keys here from `rowkey_min_right` right rows.
fn try_join_from(
    spec: &JoinSpec,
    left: &PlFrame,
    right: &PlFrame,
    rowkey_min_right: usize,
) -> Option<PolarsResult<PlFrame>> {
    if !matches!(spec.how, How::Inner | How::Left) || spec.nulls_equal || spec.keep_left_order {
        return None;
    }
    let (lk, rk) = (spec.left_on.as_slice(), spec.right_on.as_slice());
    if lk.len() != rk.len() {
        return None;
    }
    let mut dtypes = Vec::with_capacity(lk.len());
    for (l, r) in lk.iter().zip(rk) {
        let (lcol, rcol) = (left.column(l).ok()?, right.column(r).ok()?);
        if lcol.dtype() != rcol.dtype() {
            return None;
        }
        dtypes.push(lcol.dtype());
    }
    let integer = matches!(dtypes.as_slice(), [dt] if key_dtype(dt));
    if !integer && (right.height() < rowkey_min_right || !row_key_dtypes(dtypes)) {
        return None;
    }
    if left.height() >= NONE as usize || right.height() >= NONE as usize {
        return None;
    }
    let out = spec.output_schema(left.schema(), right.schema()).ok()?;
    // Polars' layout for this join: every left column, then the right ones but the keys.
    let right_names: Vec<PlSmallStr> = right
        .get_column_names()
        .into_iter()
        .filter(|n| !rk.iter().any(|k| k.as_str() == n.as_str()))
        .cloned()
        .collect();
    if out.len() != left.width() + right_names.len()
        || !left
            .get_column_names()
            .iter()
            .zip(out.iter_names())
            .all(|(a, b)| *a == b)
    {
        return None;
    }
    Some(run(
        spec.how == How::Left,
        left,
        right,
        lk,
        rk,
        &right_names,
        &out,
    ))
}

fn run(
    keep_unmatched: bool,
    left: &PlFrame,
    right: &PlFrame,
    lk: &[String],
    rk: &[String],
    right_names: &[PlSmallStr],
    out: &Schema,
) -> PolarsResult<PlFrame> {
    let (li, ri) = match (lk, rk) {
        ([l], [r]) if key_dtype(left.column(l)?.dtype()) => {
            let key = |df: &PlFrame, name: &str| -> PolarsResult<Series> {
                df.column(name)?
                    .as_materialized_series()
                    .cast(&DataType::Int64)
            };
            let (lkey, rkey) = (key(left, l)?, key(right, r)?);
            pairs(lkey.i64()?, rkey.i64()?, keep_unmatched, |_, _| true)
        }
        _ => {
            let keys = |df: &PlFrame, names: &[String]| -> PolarsResult<RowKeys> {
                let cols: Vec<&Series> = names
                    .iter()
                    .map(|n| df.column(n).map(|c| c.as_materialized_series()))
                    .collect::<PolarsResult<_>>()?;
                RowKeys::new(&cols)
            };
            let (lkeys, rkeys) = (keys(left, lk)?, keys(right, rk)?);
            let hashes = |k: &RowKeys| {
                ChunkedArray::<Int64Type>::from_vec_validity(
                    "".into(),
                    k.hashes().iter().map(|&h| h as i64).collect(),
                    k.valid().cloned(),
                )
            };
            pairs(&hashes(&lkeys), &hashes(&rkeys), keep_unmatched, |l, r| {
                lkeys.eq(l as usize, &rkeys, r as usize)
            })
        }
    };
    let valid = keep_unmatched.then(|| ri.iter().map(|&r| r != NONE).collect::<Bitmap>());
    let li = IdxCa::from_vec("".into(), li.into_iter().map(|r| r as IdxSize).collect());
    let ri = IdxCa::from_vec_validity(
        "".into(),
        ri.into_iter()
            .map(|r| if r == NONE { 0 } else { r as IdxSize })
            .collect(),
        valid,
    );
    let mut columns = left.take(&li)?.into_columns();
    let rest = right.select(right_names.iter().cloned())?.take(&ri)?;
    columns.extend(rest.into_columns());
    for (c, (name, dtype)) in columns.iter_mut().zip(out.iter()) {
        if c.dtype() != dtype {
            *c = c.cast(dtype)?;
        }
        c.rename(name.clone());
    }
    PlFrame::new_infer_height(columns)
}

#[inline]
fn hash(k: i64) -> u64 {
    (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Keys and row numbers of the non-null rows, grouped by bucket (the top `bits` of the
/// hash), with where each bucket starts (`starts[b]..starts[b + 1]`).
fn partition(key: &ChunkedArray<Int64Type>, bits: u32) -> (Vec<i64>, Vec<u32>, Vec<usize>) {
    let n_buckets = 1usize << bits;
    let bucket = |k: i64| {
        if bits == 0 {
            0
        } else {
            (hash(k) >> (64 - bits)) as usize
        }
    };
    let mut starts = vec![0usize; n_buckets + 1];
    for k in key.iter().flatten() {
        starts[bucket(k) + 1] += 1;
    }
    for b in 0..n_buckets {
        starts[b + 1] += starts[b];
    }
    let n = starts[n_buckets];
    let mut keys = vec![0i64; n];
    let mut rows = vec![0u32; n];
    let mut at = starts.clone();
    for (i, k) in key.iter().enumerate() {
        if let Some(k) = k {
            let b = bucket(k);
            keys[at[b]] = k;
            rows[at[b]] = i as u32;
            at[b] += 1;
        }
    }
    (keys, rows, starts)
}

/// The (left row, right row) pairs whose keys are equal and for which `same` holds (the row
/// keys behind equal hashes are equal). Pairs come bucket by bucket, left rows in order within a bucket, the matches of one left
/// row in right order. With `keep_unmatched` (a left join), every left row without a match
/// (a null key included) pairs with [`NONE`], and the pairs are put in left order.
fn pairs(
    left: &ChunkedArray<Int64Type>,
    right: &ChunkedArray<Int64Type>,
    keep_unmatched: bool,
    same: impl Fn(u32, u32) -> bool,
) -> (Vec<u32>, Vec<u32>) {
    let buckets = right.len().div_ceil(BUCKET_ROWS).next_power_of_two();
    let bits = buckets.trailing_zeros();
    let (rkeys, rrows, rstarts) = partition(right, bits);
    let (lkeys, lrows, lstarts) = partition(left, bits);
    let largest = rstarts.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let cap = (2 * largest).next_power_of_two().max(16);
    let mut slots = vec![NONE; cap];
    let mut next = vec![NONE; largest];
    let mut li = Vec::with_capacity(left.len());
    let mut ri = Vec::with_capacity(left.len());
    for b in 0..buckets {
        let (rs, re) = (rstarts[b], rstarts[b + 1]);
        let (ls, le) = (lstarts[b], lstarts[b + 1]);
        if rs == re || ls == le {
            continue;
        }
        let size = (2 * (re - rs)).next_power_of_two().max(16);
        let tbits = size.trailing_zeros();
        let mask = size - 1;
        // The hash bits below the bucket bits pick the slot.
        let home = |k: i64| ((hash(k) << bits) >> (64 - tbits)) as usize;
        let table = &mut slots[..size];
        table.fill(NONE);
        let keys = &rkeys[rs..re];
        // From the last row, so that every chain runs in row order.
        for j in (0..keys.len()).rev() {
            let k = keys[j];
            let mut s = home(k);
            loop {
                let h = table[s];
                if h == NONE {
                    table[s] = j as u32;
                    next[j] = NONE;
                    break;
                }
                if keys[h as usize] == k {
                    table[s] = j as u32;
                    next[j] = h;
                    break;
                }
                s = (s + 1) & mask;
            }
        }
        for (&k, &lrow) in lkeys[ls..le].iter().zip(&lrows[ls..le]) {
            let mut s = home(k);
            let mut j = loop {
                let h = table[s];
                if h == NONE || keys[h as usize] == k {
                    break h;
                }
                s = (s + 1) & mask;
            };
            while j != NONE {
                let rrow = rrows[rs + j as usize];
                if same(lrow, rrow) {
                    li.push(lrow);
                    ri.push(rrow);
                }
                j = next[j as usize];
            }
        }
    }
    if !keep_unmatched {
        return (li, ri);
    }
    let mut matched = vec![false; left.len()];
    for &l in &li {
        matched[l as usize] = true;
    }
    for (l, _) in matched.iter().enumerate().filter(|(_, m)| !**m) {
        li.push(l as u32);
        ri.push(NONE);
    }
    in_left_order(left.len(), li, ri)
}

/// The pairs stably sorted by left row (a counting sort: buckets scatter the left rows).
fn in_left_order(n_left: usize, li: Vec<u32>, ri: Vec<u32>) -> (Vec<u32>, Vec<u32>) {
    let mut starts = vec![0usize; n_left + 1];
    for &l in &li {
        starts[l as usize + 1] += 1;
    }
    for i in 0..n_left {
        starts[i + 1] += starts[i];
    }
    let mut out_l = vec![0u32; li.len()];
    let mut out_r = vec![0u32; ri.len()];
    for (&l, &r) in li.iter().zip(&ri) {
        let at = &mut starts[l as usize];
        out_l[*at] = l;
        out_r[*at] = r;
        *at += 1;
    }
    (out_l, out_r)
}

#[cfg(test)]
mod tests;
