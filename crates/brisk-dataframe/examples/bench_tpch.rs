//! Brisk's side of `bench/tpch/run.sh`: one TPC-H query (`bench/tpch/queries.rs`) on the
//! Parquet files of `bench/tpch/gen.py`.
//!
//! ```text
//! bench_tpch <data-dir> <query 1..22> [repeats]
//! ```
//! Prints `seconds=<best> rows=<answer rows> peak_mb=<peak resident memory> cpu_s=<user +
//! system CPU seconds of the best run>`.

#[path = "../../../bench/tpch/queries.rs"]
mod queries;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

/// Polars allocates many small vectors; a binary chooses its allocator (see the crate docs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .context("usage: bench_tpch <data-dir> <query> [repeats]")?,
    );
    let q: usize = args.get(2).context("missing the query number")?.parse()?;
    let repeats: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let tables = queries::Tables::new(&dir);
    let mut best = (f64::INFINITY, 0usize, 0.0);
    for _ in 0..repeats.max(1) {
        let (t, c) = (Instant::now(), cpu_seconds());
        let out = queries::run(q, &tables)?;
        let secs = t.elapsed().as_secs_f64();
        if secs < best.0 {
            best = (secs, out.height(), cpu_seconds() - c);
        }
    }
    println!(
        "seconds={:.4} rows={} peak_mb={:.0} cpu_s={:.2}",
        best.0,
        best.1,
        peak_mb(),
        best.2
    );
    Ok(())
}
