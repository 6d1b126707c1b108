//! Local `.npy` chunk reads through brisk-io (`Storage::read_ranges_into`) against plain
//! positioned reads on a `File`, on the same runs: column chunks of a C-ordered 2-d array, one
//! run per row. Run with `--release` and a size for figures:
//! `cargo run --release -p brisk-array --example npy_local_ranges -- 4000 500`
//! (an n×n f64 array, chunks of n/4 rows by the second number of columns).

use std::os::unix::fs::FileExt;
use std::time::Instant;

use brisk_core::Collection;

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let n = args.first().copied().unwrap_or(600);
    let cols = args.get(1).copied().unwrap_or(100).clamp(1, n);
    let rows = (n / 4).max(1);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("x.npy");
    let x = brisk_array::RandomState::new(3).random([n, n], [rows, cols])?;
    x.to_npy(&path)?;
    let h = brisk_array::io::npy::header(&path)?;
    let url = path.display().to_string();
    let storage = brisk_io::Storage::default();

    // Every chunk's runs: (byte offset, length), one per row of the chunk.
    let mut chunks = Vec::new();
    for r0 in (0..n).step_by(rows) {
        for c0 in (0..n).step_by(cols) {
            let (nr, nc) = (rows.min(n - r0), cols.min(n - c0));
            let runs: Vec<(u64, usize)> = (r0..r0 + nr)
                .map(|r| (h.offset + ((r * n + c0) * 8) as u64, nc * 8))
                .collect();
            chunks.push(runs);
        }
    }
    let total: usize = chunks.iter().flatten().map(|r| r.1).sum();
    let mut best = [f64::MAX; 2];
    let mut sums = [0u64; 2];
    for _ in 0..5 {
        let t = Instant::now();
        for runs in &chunks {
            let f = std::fs::File::open(&path)?;
            let mut buf = vec![0u8; runs.iter().map(|r| r.1).sum()];
            let mut at = 0;
            for &(o, l) in runs {
                f.read_exact_at(&mut buf[at..at + l], o)?;
                at += l;
            }
            sums[0] = sums[0].wrapping_add(u64::from(buf[buf.len() / 2]));
        }
        best[0] = best[0].min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for runs in &chunks {
            let mut buf = vec![0u8; runs.iter().map(|r| r.1).sum()];
            storage.read_ranges_into(&url, runs, &mut buf)?;
            sums[1] = sums[1].wrapping_add(u64::from(buf[buf.len() / 2]));
        }
        best[1] = best[1].min(t.elapsed().as_secs_f64());
    }
    assert_eq!(sums[0], sums[1]);
    let mb = total as f64 / 1e6;
    println!(
        "{n}x{n} f64, {} chunks of {rows}x{cols} ({} runs each): File pread {:.1} ms ({:.0} MB/s), brisk-io read_ranges_into {:.1} ms ({:.0} MB/s)",
        chunks.len(),
        rows,
        best[0] * 1e3,
        mb / best[0],
        best[1] * 1e3,
        mb / best[1]
    );
    let t = Instant::now();
    let s = brisk_array::io::npy::read::<f64>(&path, [rows, cols])?
        .sum()
        .compute()?;
    println!(
        "npy::read(...).sum() = {s:.3} in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
