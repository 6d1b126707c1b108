//! Group-by and join cost by key type (issue 16, "fast paths that are not narrow"): one
//! integer key, one string key, and two keys (integer + string), each with the same number
//! of groups, on frames held in memory (no I/O), next to Polars' own in-memory engine on the
//! same rows.
//!
//! ```text
//! cargo run --release -p brisk-dataframe --example bench_keys -- [rows] [partitions] [repeats] [only]
//! ```
//! (defaults: 10M rows, 8 partitions, best of 3; `only`: run the cases whose name contains it,
//! e.g. `groupby-sum-str` under `perf record`). Each case prints
//! `RESULT case=<op>-<keys> brisk_s=<best> polars_s=<best> ratio=<brisk/polars>
//! ns_per_row=<brisk> rows=<out rows>`.
//! Group-by: `groupby(keys).col("value").sum()` / `.mean()`, 100k groups. Join: an inner join
//! of all rows with a 1M-row table of unique keys (both sides partitioned, so a hash shuffle),
//! counted with `len()`.

use std::time::Instant;

use brisk_core::Collection;
use brisk_dataframe::polars::prelude::*;
use brisk_dataframe::{DataFrame as BriskFrame, How};

/// As in `bench_dataframe`: a binary picks its allocator (Polars' Python package uses mimalloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const GROUPS: u64 = 100_000;
const DIM: usize = 1_000_000;
const WIDE: i64 = 1_000_003;

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const NAMES: [&str; 8] = [
    "alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi",
];

/// `k_int` (0..100k), `k_wide` (`k_int * 1_000_003`: too wide a range for dense slots, so
/// hashed), `k_str` (`"user{k_int}"`), `k_hi` (`k_int / 8`) with `k_name`
/// (`NAMES[k_int % 8]`): the same 100k groups four ways; `value` f64.
fn facts(rows: usize, keys: impl Fn(&mut u64) -> u64) -> PolarsResult<DataFrame> {
    let mut s = 42u64;
    let mut k = Vec::with_capacity(rows);
    let mut v = Vec::with_capacity(rows);
    for _ in 0..rows {
        k.push(keys(&mut s) as i64);
        v.push((splitmix(&mut s) >> 11) as f64 / (1u64 << 53) as f64 * 1000.0);
    }
    let ks: Vec<String> = k.iter().map(|x| format!("user{x}")).collect();
    let hi: Vec<i64> = k.iter().map(|x| x / 8).collect();
    let name: Vec<&str> = k.iter().map(|x| NAMES[(*x % 8) as usize]).collect();
    let wide: Vec<i64> = k.iter().map(|x| x * WIDE).collect();
    DataFrame::new_infer_height(vec![
        Series::new("k_int".into(), k).into(),
        Series::new("k_wide".into(), wide).into(),
        Series::new("k_str".into(), ks).into(),
        Series::new("k_hi".into(), hi).into(),
        Series::new("k_name".into(), name).into(),
        Series::new("value".into(), v).into(),
    ])
}

fn best<T>(repeats: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..repeats {
        let t = Instant::now();
        let r = f()?;
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    Ok((best, out.ok_or_else(|| anyhow::anyhow!("no repeats"))?))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).map_or(Ok(10_000_000), |s| s.parse())?;
    let parts: usize = args.get(2).map_or(Ok(8), |s| s.parse())?;
    let repeats: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let only = args.get(4).cloned().unwrap_or_default();
    let _ = brisk_local::LocalScheduler::threaded();
    let data = facts(rows, |s| splitmix(s) % GROUPS)?;
    let frame = BriskFrame::from_polars(data.clone(), parts)?.persist()?;
    let key_sets: [(&str, Vec<&str>); 4] = [
        ("int", vec!["k_int"]),
        ("int-wide", vec!["k_wide"]),
        ("str", vec!["k_str"]),
        ("int+str", vec!["k_hi", "k_name"]),
    ];
    for agg in ["sum", "mean"] {
        for (label, keys) in &key_sets {
            if !format!("groupby-{agg}-{label}").contains(&only) {
                continue;
            }
            let (brisk_s, n) = best(repeats, || {
                let g = frame.groupby(keys.clone()).col("value");
                let out = if agg == "sum" { g.sum()? } else { g.mean()? };
                Ok(out.compute()?.height())
            })?;
            let (polars_s, _) = best(repeats, || {
                let by: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
                let v = if agg == "sum" {
                    col("value").sum()
                } else {
                    col("value").mean()
                };
                Ok(data
                    .clone()
                    .lazy()
                    .group_by(by)
                    .agg([v])
                    .collect()?
                    .height())
            })?;
            println!(
                "RESULT case=groupby-{agg}-{label} brisk_s={brisk_s:.3} polars_s={polars_s:.3} \
                 ratio={:.2} ns_per_row={:.1} rows={n}",
                brisk_s / polars_s,
                brisk_s * 1e9 / rows as f64
            );
        }
    }
    // The dimension table: 1M unique keys (the 100k fact keys and 900k that match nothing).
    let dim_keys: Vec<u64> = (0..DIM as u64).collect();
    let dim = {
        let k: Vec<i64> = dim_keys.iter().map(|x| *x as i64).collect();
        let ks: Vec<String> = k.iter().map(|x| format!("user{x}")).collect();
        let hi: Vec<i64> = k.iter().map(|x| x / 8).collect();
        let name: Vec<&str> = k.iter().map(|x| NAMES[(*x % 8) as usize]).collect();
        let w: Vec<f64> = k.iter().map(|x| *x as f64).collect();
        let wide: Vec<i64> = k.iter().map(|x| x * WIDE).collect();
        DataFrame::new_infer_height(vec![
            Series::new("k_int".into(), k).into(),
            Series::new("k_wide".into(), wide).into(),
            Series::new("k_str".into(), ks).into(),
            Series::new("k_hi".into(), hi).into(),
            Series::new("k_name".into(), name).into(),
            Series::new("w".into(), w).into(),
        ])?
    };
    let dim_frame = BriskFrame::from_polars(dim.clone(), parts.div_ceil(4).max(1))?.persist()?;
    for (label, keys) in &key_sets {
        if !format!("join-{label}").contains(&only) {
            continue;
        }
        let left = frame.select(
            keys.iter()
                .map(|k| col(*k))
                .chain([col("value")])
                .collect::<Vec<_>>(),
        )?;
        let right = dim_frame.select(
            keys.iter()
                .map(|k| col(*k))
                .chain([col("w")])
                .collect::<Vec<_>>(),
        )?;
        let (brisk_s, n) = best(repeats, || {
            Ok(left
                .join(&right, keys.clone(), keys.clone(), How::Inner)?
                .len()?)
        })?;
        let (polars_s, _) = best(repeats, || {
            let by: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
            Ok(data
                .clone()
                .lazy()
                .select(by.iter().cloned().chain([col("value")]).collect::<Vec<_>>())
                .join(
                    dim.clone()
                        .lazy()
                        .select(by.iter().cloned().chain([col("w")]).collect::<Vec<_>>()),
                    by.clone(),
                    by.clone(),
                    JoinArgs::new(JoinType::Inner),
                )
                .select([len()])
                .collect()?
                .height())
        })?;
        println!(
            "RESULT case=join-{label} brisk_s={brisk_s:.3} polars_s={polars_s:.3} \
             ratio={:.2} ns_per_row={:.1} rows={n}",
            brisk_s / polars_s,
            brisk_s * 1e9 / rows as f64
        );
    }
    Ok(())
}
