//! Group-bys and joins on string keys, several keys and every key type the hash kernels
//! accept, against one in-memory Polars run on the same rows: null keys (dropped and kept),
//! empty partitions, several partitions, strings longer than a view's inline twelve bytes.

mod common;

use brisk_core::Collection;
use brisk_dataframe::{Agg, DataFrame as BriskFrame, How};
use polars::prelude::*;

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `n` rows whose keys take about `groups` values per column, each null one time in `nulls`
/// (never when `nulls` is 0): `k_int` (Int64), `k_i32`, `k_u64` (values past `i64::MAX`,
/// exact as f64 so that the comparison's sort keeps them apart), `k_bool`, `k_date`, `k_dt` (Datetime µs), `k_str` (short and long strings, and
/// the empty one), and values `v` (Float64 with nulls) and `w` (Int64 with nulls).
fn frame(n: usize, groups: u64, nulls: u64, seed: u64) -> DataFrame {
    let mut s = seed;
    let mut next = |m: u64| splitmix(&mut s) % m.max(1);
    let col_i64 = |k: &mut dyn FnMut(u64) -> u64| -> Vec<Option<i64>> {
        (0..n)
            .map(|_| {
                let null = nulls > 0 && k(nulls) == 0;
                (!null).then(|| k(groups) as i64)
            })
            .collect()
    };
    let k_int = col_i64(&mut next);
    let k_i32: Vec<Option<i32>> = col_i64(&mut next)
        .into_iter()
        .map(|x| x.map(|x| x as i32 - 3))
        .collect();
    let k_u64: Vec<Option<u64>> = col_i64(&mut next)
        .into_iter()
        .map(|x| x.map(|x| (1u64 << 63) + x as u64 * 4096))
        .collect();
    let k_bool: Vec<Option<bool>> = col_i64(&mut next)
        .into_iter()
        .map(|x| x.map(|x| x % 2 == 0))
        .collect();
    let k_date: Vec<Option<i32>> = col_i64(&mut next)
        .into_iter()
        .map(|x| x.map(|x| 18_000 + x as i32))
        .collect();
    let k_dt: Vec<Option<i64>> = col_i64(&mut next)
        .into_iter()
        .map(|x| x.map(|x| 1_600_000_000_000_000 + x * 1_000_003))
        .collect();
    let k_str: Vec<Option<String>> = col_i64(&mut next)
        .into_iter()
        .map(|x| {
            x.map(|x| match x % 3 {
                0 if x == 0 => String::new(),
                0 => format!("s{x}"),
                1 => format!("a string past twelve bytes {x}"),
                _ => format!("user{x:06}"),
            })
        })
        .collect();
    let v: Vec<Option<f64>> = (0..n)
        .map(|_| (next(10) > 0).then(|| next(1_000_000) as f64 / 8.0 - 5000.0))
        .collect();
    let w: Vec<Option<i64>> = (0..n)
        .map(|_| (next(7) > 0).then(|| next(2_000_001) as i64 - 1_000_000))
        .collect();
    DataFrame::new_infer_height(vec![
        Series::new("k_int".into(), k_int).into_column(),
        Series::new("k_i32".into(), k_i32).into_column(),
        Series::new("k_u64".into(), k_u64).into_column(),
        Series::new("k_bool".into(), k_bool).into_column(),
        Series::new("k_date".into(), k_date)
            .cast(&DataType::Date)
            .expect("dates")
            .into_column(),
        Series::new("k_dt".into(), k_dt)
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .expect("datetimes")
            .into_column(),
        Series::new("k_str".into(), k_str).into_column(),
        Series::new("v".into(), v).into_column(),
        Series::new("w".into(), w).into_column(),
    ])
    .expect("frame")
}

/// `df` in uneven partitions, with empty ones at the start, in the middle and at the end.
fn partitioned(df: &DataFrame) -> BriskFrame {
    let n = df.height() as i64;
    let cuts = [0, 0, n / 5, n / 5, n / 2, n - 3, n, n];
    let parts: Vec<DataFrame> = cuts
        .windows(2)
        .map(|w| df.slice(w[0], (w[1] - w[0]) as usize))
        .collect();
    assert!(parts.iter().any(|p| p.height() == 0));
    BriskFrame::from_partitions(parts).expect("partitions")
}

const KEY_SETS: &[&[&str]] = &[
    &["k_str"],
    &["k_int", "k_str"],
    &["k_str", "k_bool"],
    &["k_u64"],
    &["k_date", "k_i32"],
    &["k_dt"],
    &["k_bool"],
    &[
        "k_int", "k_i32", "k_u64", "k_date", "k_dt", "k_bool", "k_str",
    ],
];

fn polars_aggs() -> Vec<Expr> {
    vec![
        col("v").sum().alias("v_sum"),
        col("v").mean().alias("v_mean"),
        col("v").min().alias("v_min"),
        col("v").max().alias("v_max"),
        col("v").count().cast(DataType::Int64).alias("v_count"),
        col("w").sum().alias("w_sum"),
        col("w").mean().alias("w_mean"),
        col("w").min().alias("w_min"),
        col("w").max().alias("w_max"),
        len().cast(DataType::Int64).alias("size"),
    ]
}

fn brisk_aggs() -> Vec<Agg> {
    vec![
        Agg::sum("v").alias("v_sum"),
        Agg::mean("v").alias("v_mean"),
        Agg::min("v").alias("v_min"),
        Agg::max("v").alias("v_max"),
        Agg::count("v").alias("v_count"),
        Agg::sum("w").alias("w_sum"),
        Agg::mean("w").alias("w_mean"),
        Agg::min("w").alias("w_min"),
        Agg::max("w").alias("w_max"),
        Agg::size(),
    ]
}

fn check_groupby(df: &DataFrame, keys: &[&str], dropna: bool, what: &str) {
    let frame = partitioned(df);
    let ours = frame
        .groupby(keys.to_vec())
        .dropna(dropna)
        .split_every(3)
        .agg(brisk_aggs())
        .map_err(anyhow::Error::from)
        .and_then(|f| Ok(f.compute()?))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut lf = df.clone().lazy();
    if dropna {
        for k in keys {
            lf = lf.filter(col(*k).is_not_null());
        }
    }
    let by: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
    let theirs = lf
        .group_by(by)
        .agg(polars_aggs())
        .collect()
        .expect("polars");
    assert_eq!(ours.schema(), theirs.schema(), "{what}: schemas");
    common::assert_frames_close(&ours, &theirs, keys, 1e-9);
}

#[test]
fn groupbys_on_string_multi_and_typed_keys_match_polars() {
    common::init();
    for (groups, nulls, seed) in [(40, 9, 1), (3000, 50, 2), (5, 0, 3)] {
        let df = frame(6000, groups, nulls, seed);
        for keys in KEY_SETS {
            for dropna in [true, false] {
                check_groupby(
                    &df,
                    keys,
                    dropna,
                    &format!("keys {keys:?} groups {groups} nulls 1/{nulls} dropna={dropna}"),
                );
            }
        }
    }
}

#[test]
fn groupbys_of_empty_and_all_null_frames_match_polars() {
    common::init();
    let df = frame(300, 10, 1, 4);
    assert!(df.column("k_str").expect("k_str").null_count() == 300);
    for keys in KEY_SETS {
        for dropna in [true, false] {
            check_groupby(&df, keys, dropna, &format!("all null {keys:?} {dropna}"));
            check_groupby(&df.slice(0, 0), keys, dropna, &format!("empty {keys:?}"));
        }
    }
}

/// The right side: `n` rows of the same key columns (duplicates and nulls), and `tag`.
fn right_side(n: usize, groups: u64, nulls: u64) -> DataFrame {
    let mut df = frame(n, groups, nulls, 99).drop("w").expect("w");
    let tag: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    df.with_column(Series::new("tag".into(), tag).into_column())
        .expect("tag");
    df
}

fn check_join(left: &DataFrame, right: &DataFrame, keys: &[&str], how: How, what: &str) {
    let ours = partitioned(left)
        .join(&partitioned(right), keys.to_vec(), keys.to_vec(), how)
        .map_err(anyhow::Error::from)
        .and_then(|f| Ok(f.compute()?))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let by: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
    let kind = match how {
        How::Left => JoinType::Left,
        _ => JoinType::Inner,
    };
    let theirs = left
        .clone()
        .lazy()
        .join(
            right.clone().lazy(),
            by.clone(),
            by,
            JoinArgs::new(kind).with_suffix(Some("_right".into())),
        )
        .collect()
        .expect("polars join");
    assert_eq!(ours.schema(), theirs.schema(), "{what}: schemas");
    let mut order: Vec<&str> = keys.to_vec();
    order.extend(["v", "w", "tag"]);
    common::assert_frames_close(&ours, &theirs, &order, 0.0);
}

#[test]
fn joins_on_string_multi_and_typed_keys_match_polars() {
    common::init();
    for (groups, nulls) in [(50, 8), (800, 30)] {
        let left = frame(1500, groups, nulls, 5);
        let right = right_side(400, groups, nulls);
        for keys in KEY_SETS {
            for how in [How::Inner, How::Left] {
                let what = format!("{how:?} join on {keys:?}, groups {groups}");
                check_join(&left, &right, keys, how, &what);
            }
        }
    }
    // Empty sides, and a side whose keys are all null.
    let left = frame(500, 20, 6, 6);
    let right = right_side(100, 20, 6);
    let nulls = frame(200, 20, 1, 7);
    for keys in [&["k_str"][..], &["k_int", "k_str"]] {
        for how in [How::Inner, How::Left] {
            check_join(&left.slice(0, 0), &right, keys, how, "empty left");
            check_join(&left, &right.slice(0, 0), keys, how, "empty right");
            check_join(&nulls, &right, keys, how, "null left keys");
        }
    }
}
