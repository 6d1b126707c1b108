//! A stencil with `map_overlap` (the arrays chapter of the user guide): one smoothing step of a
//! 2-D grid, each output cell the mean of itself and its four neighbours (zero beyond the
//! edges), computed chunk by chunk with a one-cell halo, and checked against the same step on
//! the whole array in memory.
//!
//! ```text
//! cargo run -p brisk-array --example stencil
//! ```

use brisk_array::{self as da, Boundary};
use brisk_core::Collection;
use ndarray::{Array2, ArrayD, Ix2};

/// The 5-point mean on a block extended by one cell on each side; the extension's own border
/// cells are trimmed away by `map_overlap`, so they may be anything.
fn smooth(block: &ArrayD<f64>) -> ArrayD<f64> {
    let mut out = block.clone();
    let (n, m) = (block.shape()[0], block.shape()[1]);
    for i in 1..n.saturating_sub(1) {
        for j in 1..m.saturating_sub(1) {
            out[[i, j]] = (block[[i, j]]
                + block[[i - 1, j]]
                + block[[i + 1, j]]
                + block[[i, j - 1]]
                + block[[i, j + 1]])
                / 5.0;
        }
    }
    out
}

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let x = da::RandomState::new(7).random([200, 300], [50, 60])?;
    let step = x.map_overlap(&[1, 1], Boundary::Constant(0.0), smooth)?;
    let got = step.compute()?;

    // The same step on the whole grid, padded with a ring of zeros.
    let whole: Array2<f64> = x.compute()?.into_dimensionality::<Ix2>()?;
    let mut padded = Array2::<f64>::zeros((202, 302));
    padded.slice_mut(ndarray::s![1..201, 1..301]).assign(&whole);
    let want = smooth(&padded.into_dyn());
    let want = want.slice(ndarray::s![1..201, 1..301]);
    let worst = got
        .iter()
        .zip(want.iter())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    anyhow::ensure!(worst < 1e-12, "chunked stencil differs by {worst}");
    println!(
        "smoothed a 200x300 grid in 4x5 chunks with a one-cell halo: max difference from the \
         whole-array step {worst:.1e}; mean {:.4} -> {:.4}",
        whole.mean().unwrap_or(0.0),
        got.mean().unwrap_or(0.0)
    );
    Ok(())
}
