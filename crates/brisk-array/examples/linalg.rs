//! Linear algebra on chunked arrays (the user guide's "Linear algebra" section): a least-squares
//! fit by tall-and-skinny QR, a linear solve, and a randomized SVD of a low-rank matrix.
//!
//! ```text
//! cargo run -p brisk-array --example linalg
//! ```

use brisk_array::{self as da, linalg};
use brisk_core::Collection;

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let rs = da::RandomState::new(7);

    // Fit y = 2 + 3 t (plus noise) through 100,000 points held in 10 row chunks.
    let t = rs.random([100_000, 1], [10_000, 1])?;
    let ones = da::ones::<f64>([100_000, 1], [10_000, 1])?;
    let a = da::concatenate(&[ones, t.clone()], 1)?;
    let noise = rs.normal(0.0, 0.01, [100_000, 1], [10_000, 1])?;
    let y = (&t * 3.0 + 2.0 + &noise).reshape(&[100_000])?;
    let fit = linalg::lstsq(&a, &y)?;
    let x = fit.x.compute()?;
    println!(
        "lstsq: intercept {:.3}, slope {:.3}, rank {}",
        x[[0]],
        x[[1]],
        fit.rank.compute()?
    );
    anyhow::ensure!((x[[0]] - 2.0).abs() < 0.01 && (x[[1]] - 3.0).abs() < 0.01);

    // Solve a well-conditioned 500 x 500 system and check the residual.
    let m = &rs.random([500, 500], 100)? + &da::eye::<f64>(500, 100)? * 500.0;
    let b = rs.random([500], 100)?;
    let sol = linalg::solve(&m, &b)?;
    let residual = linalg::norm(
        &(&m.matmul(&sol.reshape(&[500, 1])?)?.reshape(&[500])? - &b),
        None,
        None,
        false,
    )?;
    println!("solve: |m x - b| = {:.2e}", residual.compute()?[[]]);

    // The five leading singular values of a rank-5 matrix, without gathering it.
    let left = rs.random([2_000, 5], [500, 5])?;
    let right = rs.random([5, 800], [5, 200])?;
    let low_rank = left.matmul(&right)?;
    let (_, s, _) = linalg::svd_compressed(&low_rank, 5, 1, 42)?;
    let exact = linalg::norm(&low_rank, Some(linalg::NormOrd::P(2.0)), None, false)?;
    let (s, exact) = (s.compute()?, exact.compute()?[[]]);
    println!("svd_compressed: {s:.3}; largest exact singular value {exact:.3}");
    anyhow::ensure!((s[[0]] - exact).abs() < 1e-8 * exact);
    Ok(())
}
