//! Pictures of the talk's array graphs: `cargo run -p brisk-array --example pictures -- DIR`
//! writes `sum.png` (`(arange(1e9, chunks=1e8) + 1).sum()`) and `demean.png`
//! (`x - x.mean(axis=1, keepdims=True)` over 2 × 2 chunks) with Graphviz.

use brisk_array::{self as da, ReduceOpts};

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    let s = (&da::arange(1e9, 1e8)? + 1).sum();
    println!("{}", s.visualize(dir.join("sum.png"))?.display());
    let x = da::RandomState::new(0)
        .normal(0.0, 1.0, [2000, 2000], [1000, 1000])?
        .persist()?;
    let y = &x - &x.mean_with(&ReduceOpts::axis(1).keepdims(true))?;
    println!("{}", y.visualize(dir.join("demean.png"))?.display());
    Ok(())
}
