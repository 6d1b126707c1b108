//! Linear algebra on chunked arrays (dask.array's `linalg`), with faer doing the dense work
//! inside each task.
//!
//! | function | how |
//! |---|---|
//! | [`Array::matmul`], [`tensordot`] | one faer GEMM per block product, products summed in a `split_every` tree |
//! | [`qr`], [`svd`] | tall-and-skinny (TSQR): faer QR per row block, QR of the stacked `R`s, SVD of the small `R` |
//! | [`svd_compressed`] | randomized (Halko, Martinsson, Tropp), any shape: block products, TSQR, power iterations |
//! | [`solve`], [`inv`], [`cholesky`] | faer LU / Cholesky of the square matrix gathered into one task |
//! | [`lstsq`] | TSQR, then a triangular solve on `n × n` |
//! | [`norm`] | vector and matrix norms as tree reductions; `2`, `-2`, `nuc` from the singular values |
//!
//! faer runs sequentially inside a task ([`Par::Seq`](faer::Par)): the scheduler already runs
//! one task per core, so a parallel GEMM inside each task would oversubscribe the cores.
//!
//! ```
//! use brisk_core::Collection;
//! # brisk_local::LocalScheduler::threaded();
//! let rs = brisk_array::RandomState::new(0);
//! let a = rs.random([1000, 20], [250, 20])?;
//! let (q, r) = brisk_array::linalg::qr(&a)?;
//! let back = q.matmul(&r)?;
//! let err = (&back - &a).abs().max().compute()?;
//! assert!(err < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod dense;
pub(crate) mod matmul;
mod norm;
mod solve;
pub(crate) mod tsqr;

use crate::array::Array;
use crate::error::{ArrayError, Result};
use crate::slicing::Idx;

pub use matmul::tensordot;
pub use norm::{NormOrd, norm};
pub use solve::{Lstsq, cholesky, inv, lstsq, solve};

/// Tall-and-skinny QR: [`Array::qr`].
pub fn qr(a: &Array<f64>) -> Result<(Array<f64>, Array<f64>)> {
    a.qr()
}

/// Tall-and-skinny SVD: [`Array::svd`].
pub fn svd(a: &Array<f64>) -> Result<(Array<f64>, Array<f64>, Array<f64>)> {
    a.svd()
}

/// The `k` leading singular triplets of `a` (any shape) by a randomized SVD, like Dask's
/// `svd_compressed` (`n_oversamples` = 10): `a` times a Gaussian test matrix of `k + 10`
/// columns (drawn from `seed`), `n_power_iter` power iterations (each re-orthonormalized by
/// TSQR) for matrices whose singular values decay slowly, then the SVD of the small
/// projection. Exact (to rounding) when `a` has rank at most `k + 10`.
///
/// Returns `(u, s, vt)`: `m × k`, `k`, `k × n`.
pub fn svd_compressed(
    a: &Array<f64>,
    k: usize,
    n_power_iter: usize,
    seed: u64,
) -> Result<(Array<f64>, Array<f64>, Array<f64>)> {
    a.meta.require_known("svd_compressed")?;
    let [m, n] = *a.shape() else {
        return Err(ArrayError::invalid(
            "a",
            format!("svd_compressed needs a 2-D matrix, got {} axes", a.ndim()),
        ));
    };
    if k == 0 || k > m.min(n) {
        return Err(ArrayError::invalid(
            "k",
            format!("svd_compressed needs 1 <= k <= {}, got {k}", m.min(n)),
        ));
    }
    let l = (k + 10).min(m.min(n));
    let omega = crate::RandomState::new(seed).normal(
        0.0,
        1.0,
        [n, l],
        vec![a.chunks()[1].clone(), vec![l]],
    )?;
    let at = a.t();
    let mut y = a.matmul(&omega)?;
    for _ in 0..n_power_iter {
        let (q, _) = solve::tall(&y)?.qr()?;
        let (q2, _) = solve::tall(&at.matmul(&q)?)?.qr()?;
        y = a.matmul(&q2)?;
    }
    let (q, _) = solve::tall(&y)?.qr()?;
    // B = qᵀ·a is l × n; its SVD from the TSQR-SVD of Bᵀ = aᵀ·q (n × l, tall).
    let bt = at.matmul(&q)?;
    let (ub, s, vbt) = solve::tall(&bt)?.svd()?;
    let u = q.matmul(&vbt.t())?;
    let first = |x: &Array<f64>, axis: usize| {
        let mut idx = vec![Idx::all(); x.ndim()];
        idx[axis] = Idx::range(0, k as isize);
        x.slice(&idx)
    };
    Ok((first(&u, 1)?, first(&s, 0)?, first(&ub.t(), 0)?))
}
