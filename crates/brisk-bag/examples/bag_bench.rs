//! Brisk's side of `bench/bag/run.sh`. Subcommands:
//!
//! - `gen DIR FILES MB`: write FILES text files of about MB MiB each (`lines_N.txt`).
//! - `filter-count PATTERN`: the talk's `read_text(..).filter(python).count()`.
//! - `wordcount PATTERN`: `flat_map(split).frequencies().topk(10)`.
//! - `upload DIR ENDPOINT KEY SECRET BUCKET`: copy `DIR/lines_*.txt` to `s3://BUCKET/`.
//! - `s3-count ENDPOINT KEY SECRET PATTERN BLOCKSIZE`: count lines of S3 objects.
//! - `local-count PATTERN BLOCKSIZE`: count lines of local files.
//! - `s3-filter-count …`, `local-filter-count …`: the same with the talk's filter.
//!
//! Each prints `seconds=<s>` (the compute alone) and `result=<value>`.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use brisk_bag::TextSource;
use brisk_core::Collection;
use brisk_io::{Storage, StorageOptions};

const WORDS: [&str; 40] = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "it",
    "that",
    "for",
    "data",
    "python",
    "rust",
    "task",
    "graph",
    "parallel",
    "computing",
    "array",
    "frame",
    "bag",
    "scheduler",
    "worker",
    "memory",
    "disk",
    "cluster",
    "thread",
    "process",
    "value",
    "key",
    "function",
    "result",
    "partition",
    "block",
    "file",
    "line",
    "word",
    "count",
    "map",
    "filter",
    "reduce",
];

fn generate(dir: &str, files: usize, mb: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for f in 0..files {
        let path = format!("{dir}/lines_{f}.txt");
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut written = 0usize;
        let mut line = String::with_capacity(256);
        while written < mb << 20 {
            line.clear();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 8 + (x % 12) as usize;
            let mut y = x;
            for j in 0..n {
                if j > 0 {
                    line.push(' ');
                }
                y = y
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Zipf-like: small indices are much more common.
                let r = ((y >> 33) % 1000) as f64 / 1000.0;
                let idx = ((r * r * r) * WORDS.len() as f64) as usize;
                line.push_str(WORDS[idx.min(WORDS.len() - 1)]);
                if (y >> 20).is_multiple_of(97) {
                    // A long tail of rare words.
                    line.push_str(&format!("{}", (y >> 40) % 50_000));
                }
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
            written += line.len();
        }
        w.flush()?;
    }
    Ok(())
}

/// `word:count,word:count,…`, the form the Dask side prints too.
fn normalize(top: &[(String, u64)]) -> String {
    top.iter()
        .map(|(w, c)| format!("{w}:{c}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// S3 storage at `endpoint`; `BAG_RANGE_CONCURRENCY=N` (environment) sets how many 4 MiB
/// range requests of one object are in flight (1: one streaming GET per block).
fn s3(endpoint: &str, key: &str, secret: &str) -> anyhow::Result<Storage> {
    let mut opts = StorageOptions::new()
        .s3_endpoint(endpoint)
        .s3_credentials(key, secret);
    if let Ok(n) = std::env::var("BAG_RANGE_CONCURRENCY") {
        opts = opts.parallel_ranges(4 << 20, n.parse().context("BAG_RANGE_CONCURRENCY")?);
    }
    Ok(Storage::new(opts))
}

fn blocksize(s: &str) -> anyhow::Result<Option<u64>> {
    Ok(match s {
        "none" => None,
        n => Some(n.parse().context("blocksize")?),
    })
}

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a = |i: usize| -> anyhow::Result<&str> {
        args.get(i)
            .map(String::as_str)
            .with_context(|| format!("missing argument {i}; see the file's docs"))
    };
    let t = Instant::now();
    let result: String = match a(0)? {
        "gen" => {
            generate(a(1)?, a(2)?.parse()?, a(3)?.parse()?)?;
            "ok".into()
        }
        "filter-count" => {
            let b = brisk_bag::read_text(a(1)?)?;
            b.filter(|l| l.contains("python"))
                .count()
                .compute()?
                .to_string()
        }
        "wordcount" => {
            let b = brisk_bag::read_text(a(1)?)?;
            let top = b
                .split_whitespace()
                .frequencies()
                .topk_by(10, |(_, n)| *n)
                .compute()?;
            normalize(&top)
        }
        "wordcount-closure" => {
            let b = brisk_bag::read_text(a(1)?)?;
            let top = b
                .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                .frequencies()
                .topk_by(10, |(_, n)| *n)
                .compute()?;
            normalize(&top)
        }
        "upload" => {
            let st = s3(a(2)?, a(3)?, a(4)?)?;
            let bucket = a(5)?;
            let files = brisk_io::expand(&format!("{}/lines_*.txt", a(1)?))?;
            for f in &files {
                let name = f.url.rsplit('/').next().unwrap_or("x");
                st.write_all(&format!("s3://{bucket}/{name}"), &std::fs::read(&f.url)?)?;
            }
            files.len().to_string()
        }
        "s3-count" => {
            let st = s3(a(1)?, a(2)?, a(3)?)?;
            let b = TextSource::new(a(4)?)
                .storage(st)
                .blocksize(blocksize(a(5)?)?)
                .lines()?;
            b.count().compute()?.to_string()
        }
        "local-count" => {
            let b = TextSource::new(a(1)?)
                .blocksize(blocksize(a(2)?)?)
                .lines()?;
            b.count().compute()?.to_string()
        }
        "s3-filter-count" => {
            let st = s3(a(1)?, a(2)?, a(3)?)?;
            let b = TextSource::new(a(4)?)
                .storage(st)
                .blocksize(blocksize(a(5)?)?)
                .lines()?;
            b.filter(|l| l.contains("python"))
                .count()
                .compute()?
                .to_string()
        }
        "local-filter-count" => {
            let b = TextSource::new(a(1)?)
                .blocksize(blocksize(a(2)?)?)
                .lines()?;
            b.filter(|l| l.contains("python"))
                .count()
                .compute()?
                .to_string()
        }
        other => bail!("unknown subcommand {other}"),
    };
    println!("seconds={:.4} result={result}", t.elapsed().as_secs_f64());
    Ok(())
}
