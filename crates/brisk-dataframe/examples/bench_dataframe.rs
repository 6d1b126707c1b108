//! Brisk's side of `bench/dataframe/run.sh`.
//!
//! ```text
//! bench_dataframe generate <dir>            # 20 CSV files × 1M rows, the same as Parquet,
//!                                           # and two 10M-row tables for the join
//! bench_dataframe csv <dir> [repeats]       # read_csv + groupby("user_id").value.mean()
//! bench_dataframe parquet <dir> [repeats]   # read_parquet + the same
//! bench_dataframe join <dir> [repeats] [disk|tasks]   # 10M × 10M inner hash join, len()
//! bench_dataframe sort <dir> [repeats]      # all 20M CSV rows sorted by value (disk
//!                                           # shuffle), written as Parquet: peak memory
//!                                           # stays a few partitions, not the data set
//! bench_dataframe polars-csv <dir> [repeats] [streaming|memory]
//! bench_dataframe polars-parquet <dir> [repeats] [streaming|memory]
//!                                           # Polars' own lazy multi-file scan of the same
//!                                           # files, from Rust (same crate version): the floor
//! ```
//! Each case prints `seconds=<best> rows=<result rows> peak_mb=<peak resident memory>
//! cpu_s=<user+system CPU seconds of the best run>`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use brisk_core::Collection;
use brisk_dataframe::polars::prelude::*;
use brisk_dataframe::{
    DataFrame as BriskFrame, How, JoinOptions, ShuffleMethod, read_csv, read_parquet,
};

/// Polars allocates many small group-index vectors; glibc malloc spent ~30% of the CPU
/// time on them. A binary chooses its allocator (a library must not), so this one uses
/// mimalloc, as Polars' Python package does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FILES: usize = 20;
const ROWS: usize = 1_000_000;
const USERS: u64 = 100_000;
const JOIN_ROWS: usize = 10_000_000;
const JOIN_FILES: usize = 10;

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn day_frame(day: usize) -> PolarsResult<DataFrame> {
    let names = [
        "alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi",
    ];
    let mut s = day as u64 * 1_000_003;
    let mut uid = Vec::with_capacity(ROWS);
    let mut val = Vec::with_capacity(ROWS);
    let mut name = Vec::with_capacity(ROWS);
    let mut ts = Vec::with_capacity(ROWS);
    for i in 0..ROWS {
        uid.push(1 + (splitmix(&mut s) % USERS) as i64);
        val.push(
            ((splitmix(&mut s) >> 11) as f64 / (1u64 << 53) as f64 * 1000.0 * 1e4).round() / 1e4,
        );
        name.push(names[(splitmix(&mut s) % 8) as usize]);
        let sec = (i * 86_400) / ROWS;
        ts.push(format!(
            "2015-01-{day:02} {:02}:{:02}:{:02}",
            sec / 3600,
            (sec / 60) % 60,
            sec % 60
        ));
    }
    DataFrame::new_infer_height(vec![
        Series::new("user_id".into(), uid).into(),
        Series::new("value".into(), val).into(),
        Series::new("name".into(), name).into(),
        Series::new("timestamp".into(), ts).into(),
    ])
}

fn generate(dir: &Path) -> anyhow::Result<()> {
    let csv = dir.join("csv");
    let pq = dir.join("parquet");
    std::fs::create_dir_all(&csv)?;
    std::fs::create_dir_all(&pq)?;
    for day in 1..=FILES {
        let c = csv.join(format!("2015-01-{day:02}.csv"));
        let p = pq.join(format!("2015-01-{day:02}.parquet"));
        if c.exists() && p.exists() {
            continue;
        }
        let mut df = day_frame(day)?;
        CsvWriter::new(std::fs::File::create(&c)?).finish(&mut df)?;
        ParquetWriter::new(std::fs::File::create(&p)?).finish(&mut df)?;
        eprintln!("wrote {} and {}", c.display(), p.display());
    }
    for (side, seed) in [("left", 1u64), ("right", 2u64)] {
        let d = dir.join(format!("join-{side}"));
        std::fs::create_dir_all(&d)?;
        if (0..JOIN_FILES).all(|f| d.join(format!("part.{f}.parquet")).exists()) {
            continue;
        }
        // Keys 0..10M in a random order on each side, so the join has 10M matches.
        let mut keys: Vec<i64> = (0..JOIN_ROWS as i64).collect();
        let mut s = seed;
        for i in (1..keys.len()).rev() {
            let j = (splitmix(&mut s) % (i as u64 + 1)) as usize;
            keys.swap(i, j);
        }
        let per = JOIN_ROWS / JOIN_FILES;
        for f in 0..JOIN_FILES {
            let path = d.join(format!("part.{f}.parquet"));
            if path.exists() {
                continue;
            }
            let k = keys[f * per..(f + 1) * per].to_vec();
            let v: Vec<f64> = k.iter().map(|x| (*x as f64) * 0.5 + seed as f64).collect();
            let mut df = DataFrame::new_infer_height(vec![
                Series::new("key".into(), k).into(),
                Series::new(format!("{side}_value").as_str().into(), v).into(),
            ])?;
            ParquetWriter::new(std::fs::File::create(&path)?).finish(&mut df)?;
        }
        eprintln!("wrote {}", d.display());
    }
    Ok(())
}

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

/// User + system CPU seconds of this process so far (all threads), from `/proc/self/stat`
/// (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Best wall time of `repeats` runs, the result's rows and the best run's CPU seconds.
fn best<F: FnMut() -> anyhow::Result<usize>>(
    repeats: usize,
    mut f: F,
) -> anyhow::Result<(f64, usize, f64)> {
    let mut best = f64::INFINITY;
    let mut cpu = 0.0;
    let mut rows = 0;
    for _ in 0..repeats.max(1) {
        let c = cpu_seconds();
        let t = Instant::now();
        rows = f()?;
        let secs = t.elapsed().as_secs_f64();
        if secs < best {
            best = secs;
            cpu = cpu_seconds() - c;
        }
    }
    Ok((best, rows, cpu))
}

fn polars_engine(arg: Option<&String>) -> Engine {
    match arg.map(String::as_str) {
        Some("memory") => Engine::InMemory,
        _ => Engine::Streaming,
    }
}

fn polars_collect(lf: LazyFrame, engine: Engine) -> anyhow::Result<usize> {
    match lf.collect_with_engine(engine)? {
        polars_core::query_result::QueryResult::Single(df) => Ok(df.height()),
        _ => anyhow::bail!("several frames"),
    }
}

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let args: Vec<String> = std::env::args().collect();
    let case = args
        .get(1)
        .context("usage: bench_dataframe <generate|csv|parquet|join> <dir>")?;
    let dir = PathBuf::from(args.get(2).context("missing the data directory")?);
    let repeats: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let (secs, rows, cpu) = match case.as_str() {
        "generate" => {
            generate(&dir)?;
            return Ok(());
        }
        "csv" => {
            let pattern = dir.join("csv/2015-*-*.csv");
            best(repeats, || {
                let df = read_csv(pattern.to_string_lossy().as_ref())?;
                Ok(df
                    .groupby("user_id")
                    .col("value")
                    .mean()?
                    .compute()?
                    .height())
            })?
        }
        "parquet" => {
            let pattern = dir.join("parquet/*.parquet");
            best(repeats, || {
                let df = read_parquet(pattern.to_string_lossy().as_ref())?;
                Ok(df
                    .groupby("user_id")
                    .col("value")
                    .mean()?
                    .compute()?
                    .height())
            })?
        }
        "join" => {
            let method = match args.get(4).map(String::as_str) {
                Some("tasks") => ShuffleMethod::Tasks,
                _ => ShuffleMethod::Disk,
            };
            let l = dir.join("join-left");
            let r = dir.join("join-right");
            best(repeats, || {
                let left: BriskFrame = read_parquet(l.to_string_lossy().as_ref())?;
                let right = read_parquet(r.to_string_lossy().as_ref())?;
                let j = left.join_with(
                    &right,
                    JoinOptions::new("key", "key", How::Inner).shuffle_method(method),
                )?;
                Ok(j.len()?)
            })?
        }
        "sort" => {
            let pattern = dir.join("csv/2015-*-*.csv");
            let out = dir.join("sorted-brisk");
            best(repeats, || {
                let _ = std::fs::remove_dir_all(&out);
                let df = read_csv(pattern.to_string_lossy().as_ref())?;
                let sorted = df.sort_values_with(
                    vec!["value".into()],
                    vec![false],
                    true,
                    ShuffleMethod::Disk,
                )?;
                let files = sorted.to_parquet(out.to_string_lossy().as_ref())?;
                Ok(files.len())
            })?
        }
        "polars-csv" => {
            let pattern = dir.join("csv/2015-*-*.csv");
            let engine = polars_engine(args.get(4));
            best(repeats, || {
                let lf = LazyCsvReader::new(PlRefPath::new(pattern.to_string_lossy().as_ref()))
                    .with_glob(true)
                    .finish()?;
                polars_collect(
                    lf.group_by([col("user_id")]).agg([col("value").mean()]),
                    engine,
                )
            })?
        }
        "polars-parquet" => {
            let pattern = dir.join("parquet/*.parquet");
            let engine = polars_engine(args.get(4));
            best(repeats, || {
                let lf = LazyFrame::scan_parquet(
                    PlRefPath::new(pattern.to_string_lossy().as_ref()),
                    ScanArgsParquet::default(),
                )?;
                polars_collect(
                    lf.group_by([col("user_id")]).agg([col("value").mean()]),
                    engine,
                )
            })?
        }
        other => anyhow::bail!("unknown case {other}"),
    };
    println!(
        "seconds={secs:.4} rows={rows} peak_mb={:.0} cpu_s={cpu:.2}",
        peak_mb()
    );
    Ok(())
}
