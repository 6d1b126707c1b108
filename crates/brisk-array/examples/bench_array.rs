//! Brisk's side of `bench/array/run.sh`: one case per run, printing its time and peak RSS.
//!
//! ```text
//! cargo run --release -p brisk-array --example bench_array -- sum1e9
//! cargo run --release -p brisk-array --example bench_array -- demean 20000
//! cargo run --release -p brisk-array --example bench_array -- matmul 10000
//! cargo run --release -p brisk-array --example bench_array -- npy-write /tmp/x.npy 8000
//! cargo run --release -p brisk-array --example bench_array -- npy-sum /tmp/x.npy
//! cargo run --release -p brisk-array --example bench_array -- npy-sum s3://bench/x.npy http://127.0.0.1:9000
//! cargo run --release -p brisk-array --example bench_array -- zarr-write /tmp/x.zarr 32768
//! cargo run --release -p brisk-array --example bench_array -- zarr-sum /tmp/x.zarr
//! cargo run --release -p brisk-array --example bench_array -- zarr-sum s3://bench/x.zarr http://127.0.0.1:9000
//! ```
//!
//! `npy-sum` reads the file (local, or an S3 URL with the endpoint as third argument and the
//! keys `testing`/`testing`) in "auto" chunks and sums it. `zarr-write` writes an N x N
//! uniform f64 array as Zarr v3 with zstd (Brisk's default, zarr-python 3's too) in "auto"
//! chunks; `zarr-sum` reads one the same way as `npy-sum` and sums it (needs the `zarr`
//! feature).

use std::time::Instant;

use brisk_array as da;
use brisk_core::Collection;

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// The file of `npy-sum`/`zarr-sum`: argument 2 (`default` without it), on the S3 server at
/// argument 3 (keys `testing`/`testing`) when there is one.
fn location(args: &[String], default: &str) -> da::io::UrlPath {
    let at = da::io::UrlPath::from(args.get(2).map(String::as_str).unwrap_or(default));
    match args.get(3) {
        Some(endpoint) => at.with_options(
            brisk_io::StorageOptions::new()
                .s3_endpoint(endpoint)
                .s3_credentials("testing", "testing"),
        ),
        None => at,
    }
}

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let args: Vec<String> = std::env::args().collect();
    let case = args.get(1).map(String::as_str).unwrap_or("sum1e9");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let t = Instant::now();
    let result = match case {
        "sum1e9" => {
            let x = da::arange(1e9, 3e6)?;
            let v = (&x + 1).sum().compute()?;
            anyhow::ensure!(v == 500000000500000000, "wrong sum {v}");
            v.to_string()
        }
        "demean" => {
            let n = if n == 0 { 20000 } else { n };
            let x = da::RandomState::new(0).random([n, n], "auto")?;
            let m = x.mean_with(&da::ReduceOpts::axis(1).keepdims(true))?;
            let v = (&x - &m).sum().compute()?;
            anyhow::ensure!(v.abs() < 1e-3 * n as f64, "demeaned sum {v} is not near 0");
            format!("{v:.3e}")
        }
        "matmul" => {
            let n = if n == 0 { 10000 } else { n };
            let rs = da::RandomState::new(0);
            let a = rs.random([n, n], "auto")?.persist()?;
            let b = rs.random([n, n], "auto")?.persist()?;
            let t0 = Instant::now();
            let c = a.matmul(&b)?.sum().compute()?;
            let brisk_s = t0.elapsed().as_secs_f64();
            // Check without a second product: sum(a·b) = (column sums of a) · (row sums of b).
            let ca = a.sum_axis(0)?.compute()?;
            let rb = b.sum_axis(1)?.compute()?;
            let want: f64 = ca.iter().zip(rb.iter()).map(|(x, y)| x * y).sum();
            anyhow::ensure!((c - want).abs() <= 1e-9 * want.abs(), "{c} vs {want}");
            println!(
                "BRISK case=matmul seconds={brisk_s:.3} peak_rss_mb={:.1} result={c:.6e}",
                peak_rss_mb()
            );
            return Ok(());
        }
        "sort" => {
            // 1-D sort of n uniform f64 (default 1e8): the axis is gathered into one chunk.
            let n = if n == 0 { 100_000_000 } else { n };
            let x = da::RandomState::new(0).random([n], "auto")?.persist()?;
            let t0 = Instant::now();
            let s = x.sort(0)?.compute()?;
            let secs = t0.elapsed().as_secs_f64();
            let ok = s
                .as_slice()
                .is_some_and(|v| v.windows(2).all(|w| w[0] <= w[1]));
            anyhow::ensure!(ok && s.len() == n, "not sorted");
            println!(
                "BRISK case=sort seconds={secs:.3} peak_rss_mb={:.1} result={:.6e}",
                peak_rss_mb(),
                s[[n / 2]]
            );
            return Ok(());
        }
        "median" => {
            // The median along axis 0 of an n x n uniform f64 array (default 20000), generated
            // inside the graph.
            let n = if n == 0 { 20000 } else { n };
            let x = da::RandomState::new(0).random([n, n], "auto")?;
            let m = x.median_axis(0)?.compute()?;
            let mean = m.iter().sum::<f64>() / n as f64;
            anyhow::ensure!((mean - 0.5).abs() < 0.01, "median mean {mean}");
            format!("{mean:.4}")
        }
        "npy-write" => {
            let path = args.get(2).map(String::as_str).unwrap_or("x.npy");
            let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(8000);
            let x = da::RandomState::new(1).random([n, n], "auto")?;
            da::io::npy::write(&x, path)?;
            format!("{n}x{n}")
        }
        "npy-sum" => {
            let at = location(&args, "x.npy");
            let t = Instant::now();
            // BRISK_NPY_ROWS=<r>: bands of r whole rows instead of "auto" chunks.
            let x = match std::env::var("BRISK_NPY_ROWS")
                .ok()
                .and_then(|r| r.parse().ok())
            {
                Some(rows) => {
                    let h = da::io::npy::header(&at)?;
                    let mut c: Vec<da::AxisChunks> =
                        h.shape.iter().map(|_| da::AxisChunks::Full).collect();
                    c[0] = da::AxisChunks::Size(rows);
                    da::io::npy::read::<f64>(at, da::ChunkSpec::PerAxis(c))?
                }
                None => da::io::npy::read::<f64>(at, "auto")?,
            };
            let v = x.sum().compute()?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "BRISK case=npy-sum seconds={secs:.3} peak_rss_mb={:.1} result={v:.6e} dispatch={}",
                peak_rss_mb(),
                da::cpu_dispatch_target()
            );
            return Ok(());
        }
        #[cfg(feature = "zarr")]
        "zarr-write" => {
            let path = args.get(2).map(String::as_str).unwrap_or("x.zarr");
            let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32768);
            let x = da::RandomState::new(2).random([n, n], "auto")?;
            x.to_zarr(path)?;
            format!("{n}x{n}")
        }
        #[cfg(feature = "zarr")]
        "zarr-sum" => {
            let at = location(&args, "x.zarr");
            let t = Instant::now();
            let v = da::io::zarr::read::<f64>(at, "auto")?.sum().compute()?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "BRISK case=zarr-sum seconds={secs:.3} peak_rss_mb={:.1} result={v:.6e}",
                peak_rss_mb()
            );
            return Ok(());
        }
        other => anyhow::bail!("unknown case {other}"),
    };
    let secs = t.elapsed().as_secs_f64();
    println!(
        "BRISK case={case} seconds={secs:.3} peak_rss_mb={:.1} result={result} dispatch={}",
        peak_rss_mb(),
        da::cpu_dispatch_target()
    );
    Ok(())
}
