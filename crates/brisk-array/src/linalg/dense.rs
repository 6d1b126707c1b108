//! The bridge to faer: ndarray blocks seen as faer matrices (row-major views, no copy) and
//! back, and the dense kernels that run one factorization inside one task.
//!
//! faer is built without its `rayon` feature, so every call here is sequential: a task is one
//! thread, and the scheduler's threads (one per core) are the parallelism. A parallel GEMM
//! inside each of two concurrent tasks on two cores would only oversubscribe them.

use brisk_core::{TaskFailure, Value};
use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Accum, Mat, MatRef, Par, Side};
use ndarray::{Array1, Array2, ArrayD, ArrayView2, Ix2};
use serde::{Deserialize, Serialize};

crate::kernels::kernel! {
    /// `(DenseOp, matrices…) -> matrix`: one dense factorization in one task.
    pub(crate) DENSE = "brisk_array::dense_linalg" => crate::linalg::dense::dense_kernel
}

pub(crate) fn fail(msg: impl Into<String>) -> TaskFailure {
    TaskFailure::msg(msg.into())
}

/// A chunk as a 2-D view.
pub(crate) fn view2<'a, T>(a: &'a ArrayD<T>, op: &str) -> Result<ArrayView2<'a, T>, TaskFailure> {
    a.view().into_dimensionality::<Ix2>().map_err(|_| {
        fail(format!(
            "{op}: expected a 2-D block, got shape {:?}",
            a.shape()
        ))
    })
}

/// A value holding an `f64` chunk, as a 2-D view.
pub(crate) fn value2<'a>(v: &'a Value, op: &str) -> Result<ArrayView2<'a, f64>, TaskFailure> {
    let a = v
        .downcast_ref::<ArrayD<f64>>()
        .map_err(|e| fail(format!("{op}: {e}")))?;
    view2(a, op)
}

macro_rules! gemm_impl {
    ($name:ident, $t:ty) => {
        /// `a · b` by faer's GEMM (sequential), into a new C-order matrix.
        pub(crate) fn $name(
            a: ArrayView2<'_, $t>,
            b: ArrayView2<'_, $t>,
        ) -> Result<Array2<$t>, TaskFailure> {
            let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
            let ((m, k), n) = (a.dim(), b.ncols());
            if b.nrows() != k {
                return Err(fail(format!(
                    "matmul: blocks {:?} and {:?} do not line up",
                    a.dim(),
                    b.dim()
                )));
            }
            let sa = a
                .as_slice()
                .ok_or_else(|| fail("matmul: block not contiguous"))?;
            let sb = b
                .as_slice()
                .ok_or_else(|| fail("matmul: block not contiguous"))?;
            let mut out = vec![0.0 as $t; m * n];
            if m > 0 && n > 0 && k > 0 {
                let lhs = MatRef::from_row_major_slice(sa, m, k);
                let rhs = MatRef::from_row_major_slice(sb, k, n);
                let dst = faer::MatMut::from_row_major_slice_mut(&mut out, m, n);
                faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, 1.0 as $t, Par::Seq);
            }
            Array2::from_shape_vec((m, n), out).map_err(|e| fail(format!("matmul: {e}")))
        }
    };
}
gemm_impl!(gemm_f64, f64);
gemm_impl!(gemm_f32, f32);

/// An ndarray matrix as a (column-major) faer matrix.
pub(crate) fn to_faer(a: ArrayView2<'_, f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

/// A faer matrix as a C-order ndarray matrix.
pub(crate) fn from_faer(m: MatRef<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// Thin QR of `a` (`m >= n`): `q` is `m × n`, `r` is `n × n` upper triangular with a
/// non-negative diagonal (so the factorization of a full-rank matrix is unique).
pub(crate) fn qr(a: ArrayView2<'_, f64>) -> (Array2<f64>, Array2<f64>) {
    let f = to_faer(a).qr();
    let mut q = from_faer(f.compute_thin_Q().as_ref());
    let mut r = from_faer(f.thin_R());
    for i in 0..r.nrows().min(q.ncols()) {
        if r[[i, i]] < 0.0 {
            r.row_mut(i).mapv_inplace(|v| -v);
            q.column_mut(i).mapv_inplace(|v| -v);
        }
    }
    (q, r)
}

/// `(u, s, vt)` of an SVD.
pub(crate) type Svd = (Array2<f64>, Array1<f64>, Array2<f64>);

/// Thin SVD `a = u · diag(s) · vt`, `s` descending.
pub(crate) fn svd(a: ArrayView2<'_, f64>) -> Result<Svd, TaskFailure> {
    let f = to_faer(a)
        .thin_svd()
        .map_err(|e| fail(format!("svd: did not converge ({e:?})")))?;
    let s = f.S().column_vector();
    let s = Array1::from_shape_fn(s.nrows(), |i| s[i]);
    Ok((from_faer(f.U()), s, from_faer(f.V().transpose())))
}

/// What [`DENSE`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum DenseOp {
    /// `(a, b) -> x` with `a x = b` (LU with partial pivoting).
    Solve,
    /// `(a) -> a⁻¹`.
    Inv,
    /// `(a) -> l` lower triangular with `a = l lᵀ`.
    Cholesky,
    /// `(r, b) -> x` with `r x = b`, `r` upper triangular.
    SolveUpper,
    /// `(r) -> its singular values`.
    SingularValues,
    /// `(singular values, m, n) -> the numerical rank` (numpy's `matrix_rank` tolerance).
    Rank,
}
brisk_core::data!(DenseOp, serde);

/// `b` (1-D or 2-D) as a faer matrix of `n` rows, and whether it was a vector.
fn rhs(b: &ArrayD<f64>, n: usize, op: &str) -> Result<(Mat<f64>, bool), TaskFailure> {
    match b.ndim() {
        1 if b.len() == n => Ok((Mat::from_fn(n, 1, |i, _| b[[i]]), true)),
        2 if b.shape()[0] == n => {
            let b2 = view2(b, op)?;
            Ok((to_faer(b2), false))
        }
        _ => Err(fail(format!(
            "{op}: the right-hand side has shape {:?}, expected {n} rows",
            b.shape()
        ))),
    }
}

fn back(x: Mat<f64>, vector: bool) -> ArrayD<f64> {
    let x = from_faer(x.as_ref());
    if vector {
        x.column(0).to_owned().into_dyn()
    } else {
        x.into_dyn()
    }
}

fn square<'a>(v: &'a Value, op: &str) -> Result<ArrayView2<'a, f64>, TaskFailure> {
    let a = value2(v, op)?;
    if a.nrows() != a.ncols() {
        return Err(fail(format!(
            "{op}: the matrix is {:?}, not square",
            a.dim()
        )));
    }
    Ok(a)
}

/// LU of a square matrix; a zero pivot is numpy's "Singular matrix".
fn lu(
    a: ArrayView2<'_, f64>,
    op: &str,
) -> Result<faer::linalg::solvers::PartialPivLu<f64>, TaskFailure> {
    let f = to_faer(a).partial_piv_lu();
    let u = f.U();
    if (0..u.nrows()).any(|i| u[(i, i)] == 0.0 || !u[(i, i)].is_finite()) {
        return Err(fail(format!("{op}: singular matrix")));
    }
    Ok(f)
}

pub(crate) fn dense_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let (op, rest) = args
        .split_first()
        .ok_or_else(|| fail("dense_linalg: expected an operation"))?;
    let op = *op
        .downcast_ref::<DenseOp>()
        .map_err(|e| fail(format!("dense_linalg: {e}")))?;
    let arg = |i: usize| {
        rest.get(i)
            .ok_or_else(|| fail(format!("dense_linalg {op:?}: missing argument {i}")))
    };
    let arr = |i: usize| -> Result<&ArrayD<f64>, TaskFailure> {
        arg(i)?
            .downcast_ref::<ArrayD<f64>>()
            .map_err(|e| fail(format!("dense_linalg {op:?}: {e}")))
    };
    Ok(Value::new(match op {
        DenseOp::Solve => {
            let a = square(arg(0)?, "solve")?;
            let (mut b, vector) = rhs(arr(1)?, a.nrows(), "solve")?;
            lu(a, "solve")?.solve_in_place(b.as_mut());
            back(b, vector)
        }
        DenseOp::Inv => {
            let a = square(arg(0)?, "inv")?;
            from_faer(lu(a, "inv")?.inverse().as_ref()).into_dyn()
        }
        DenseOp::Cholesky => {
            let a = square(arg(0)?, "cholesky")?;
            let f = to_faer(a)
                .llt(Side::Lower)
                .map_err(|_| fail("cholesky: the matrix is not positive definite"))?;
            from_faer(f.L()).into_dyn()
        }
        DenseOp::SolveUpper => {
            let r = square(arg(0)?, "solve_triangular")?;
            let (mut b, vector) = rhs(arr(1)?, r.nrows(), "solve_triangular")?;
            if (0..r.nrows()).any(|i| r[[i, i]] == 0.0) {
                return Err(fail("solve_triangular: singular matrix"));
            }
            let r = to_faer(r);
            faer::linalg::triangular_solve::solve_upper_triangular_in_place(
                r.as_ref(),
                b.as_mut(),
                Par::Seq,
            );
            back(b, vector)
        }
        DenseOp::SingularValues => {
            let r = value2(arg(0)?, "svd")?;
            svd(r)?.1.into_dyn()
        }
        DenseOp::Rank => {
            let s = arr(0)?;
            let dims = arg(1)?
                .downcast_ref::<Vec<u64>>()
                .map_err(|e| fail(format!("rank: {e}")))?;
            let big = dims.iter().copied().max().unwrap_or(0) as f64;
            let smax = s.iter().copied().fold(0.0, f64::max);
            let tol = smax * big * f64::EPSILON;
            let rank = s.iter().filter(|&&v| v > tol).count() as i64;
            return Ok(Value::new(ndarray::arr0(rank).into_dyn()));
        }
    }))
}
