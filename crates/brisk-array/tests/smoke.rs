//! A first end-to-end check: arange, sum, random, demeaning against ndarray.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brisk_array as da;
use brisk_core::Collection;

#[test]
fn smoke() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let x = da::arange(10, 4)?;
    println!("{x}");
    let y = (&x + 1).sum();
    println!("{y}");
    assert_eq!(y.compute()?, 55);
    let z = (&x * 2).compute()?;
    assert_eq!(z.as_slice().unwrap(), &[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    let m = da::RandomState::new(1).random([7, 9], [3, 4])?;
    let a = m.compute()?;
    let mm = m.mean_with(&da::ReduceOpts::axis(1).keepdims(true))?;
    let d = (&m - &mm).compute()?;
    let want = &a
        - &a.mean_axis(ndarray::Axis(1))
            .unwrap()
            .insert_axis(ndarray::Axis(1));
    for (p, q) in d.iter().zip(want.iter()) {
        assert!((p - q).abs() < 1e-12, "{p} {q}");
    }
    Ok(())
}

/// The design's snippet, with the core error type (array errors convert into it).
#[test]
fn design_snippet_compiles_and_runs() -> Result<(), brisk_core::Error> {
    let _ = brisk_local::LocalScheduler::threaded();
    let dir = tempfile::tempdir().map_err(|e| brisk_core::Error::io("tempdir", "/tmp", e))?;
    let x = da::arange(1e9, 3e6)?;
    let res = (&x + 1).sum();
    assert!(
        res.to_string()
            .starts_with("brisk.array<sum-aggregate, shape=(), dtype=i64")
    );
    let small = (&da::arange(1e7, 2e6)? + 1).sum();
    small.visualize(dir.path().join("res.dot"))?;
    assert_eq!(small.compute()?, 50000005000000);
    Ok(())
}
