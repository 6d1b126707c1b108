//! `solve`, `inv`, `cholesky` (one dense factorization in one task, on the gathered square
//! matrix) and `lstsq` (by tall-and-skinny QR, so `a` may have any number of rows).

use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, Value, tokenize};

use super::dense::{DENSE, DenseOp};
use crate::array::{Array, Body, Meta, Scalar};
use crate::dtype::Element;
use crate::error::{ArrayError, Result};
use crate::rechunk::rechunk_meta;

/// One task running `op` on `inputs` (each gathered into a single chunk first), giving a
/// single-chunk array of `shape` named after `label`.
pub(crate) fn dense_task<T: Element>(
    op: DenseOp,
    label: &'static str,
    inputs: &[&Arc<Meta>],
    extra: Vec<Value>,
    shape: Vec<usize>,
) -> Result<Array<T>> {
    let mut args = vec![Arg::Literal(Value::new(op))];
    let mut deps = Vec::new();
    for m in inputs {
        let whole: Vec<Vec<usize>> = m.shape.iter().map(|&d| vec![d]).collect();
        let one = rechunk_meta(m, whole)?;
        args.push(Arg::Key(one.key(&vec![0; one.ndim()])));
        deps.push(one.layer()?);
    }
    args.extend(extra.into_iter().map(Arg::Literal));
    let name = tokenize(label);
    let key = Key::with_shared_name(&name, &vec![0u32; shape.len()]);
    let node = Node::Task(Task {
        func: crate::kernels::func(DENSE, label),
        args,
    });
    let layer = Layer::from_nodes(Arc::clone(&name), vec![(key, node)], deps);
    let chunks = shape.iter().map(|&d| vec![d]).collect();
    Ok(Array::from_meta(Meta::new(
        name,
        T::DTYPE,
        shape,
        chunks,
        Body::Layer(layer),
    )))
}

/// `a` checked to be a square 2-D `f64` array with known chunks.
fn square(op: &'static str, a: &Array<f64>) -> Result<usize> {
    a.meta.require_known(op)?;
    match a.shape() {
        [n, m] if n == m => Ok(*n),
        s => Err(ArrayError::invalid(
            "a",
            format!(
                "{op} needs a square 2-D matrix, got shape {}",
                crate::error::fmt_shape(s)
            ),
        )),
    }
}

fn with_chunks(x: Array<f64>, chunks: Vec<Vec<usize>>) -> Result<Array<f64>> {
    Ok(Array::from_meta(rechunk_meta(&x.meta, chunks)?))
}

/// Solve `a · x = b` for a square `a` (numpy's `linalg.solve`): LU with partial pivoting
/// (faer) on `a` gathered into one task, so `a` must fit in memory. `b` is 1-D or 2-D; `x`
/// has `b`'s shape, chunked like `a`'s columns (and `b`'s columns). A singular `a` fails the
/// task with "singular matrix".
///
/// ```
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let a = brisk_array::from_array(&ndarray::array![[3.0, 1.0], [1.0, 2.0]], 1)?;
/// let b = brisk_array::from_array(&ndarray::array![9.0, 8.0], 1)?;
/// let x = brisk_array::linalg::solve(&a, &b)?.compute()?;
/// assert!((x[[0]] - 2.0).abs() < 1e-12 && (x[[1]] - 3.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn solve(a: &Array<f64>, b: &Array<f64>) -> Result<Array<f64>> {
    let n = square("solve", a)?;
    b.meta.require_known("solve")?;
    if !(1..=2).contains(&b.ndim()) || b.shape()[0] != n {
        return Err(ArrayError::ShapeMismatch {
            op: "solve: b must have as many rows as a",
            expected: vec![n],
            found: b.shape().to_vec(),
        });
    }
    let x = dense_task::<f64>(
        DenseOp::Solve,
        "solve",
        &[&a.meta, &b.meta],
        vec![],
        b.shape().to_vec(),
    )?;
    let mut chunks = b.chunks().to_vec();
    chunks[0] = a.chunks()[1].clone();
    with_chunks(x, chunks)
}

/// The inverse of a square matrix (numpy's `linalg.inv`), by LU in one task; chunked like `a`.
pub fn inv(a: &Array<f64>) -> Result<Array<f64>> {
    let n = square("inv", a)?;
    let x = dense_task::<f64>(DenseOp::Inv, "inv", &[&a.meta], vec![], vec![n, n])?;
    with_chunks(x, vec![a.chunks()[1].clone(), a.chunks()[0].clone()])
}

/// The lower-triangular Cholesky factor `l` of a symmetric positive-definite matrix,
/// `a = l · lᵀ` (numpy's `linalg.cholesky`; only the lower triangle of `a` is read), in one
/// task; chunked like `a`. A matrix that is not positive definite fails the task.
pub fn cholesky(a: &Array<f64>) -> Result<Array<f64>> {
    let n = square("cholesky", a)?;
    let l = dense_task::<f64>(
        DenseOp::Cholesky,
        "cholesky",
        &[&a.meta],
        vec![],
        vec![n, n],
    )?;
    with_chunks(l, a.chunks().to_vec())
}

/// The least-squares solution of `a · x ≈ b` (numpy's `linalg.lstsq`).
#[derive(Debug, Clone)]
pub struct Lstsq {
    /// The solution: `n` (for a 1-D `b`) or `n × k`.
    pub x: Array<f64>,
    /// Squared residual norm per column of `b`: shape `(k,)`, `(1,)` for a 1-D `b`. Unlike
    /// numpy (and like Dask), it is computed even when `a` is rank-deficient.
    pub residuals: Array<f64>,
    /// The numerical rank of `a` (numpy's `matrix_rank` tolerance on the singular values).
    pub rank: Scalar<i64>,
    /// The singular values of `a`, descending.
    pub s: Array<f64>,
}

/// Row chunks of at least `n` rows each (neighbours merged), as TSQR needs.
pub(crate) fn tall_rows(chunks: &[usize], n: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let mut acc = 0;
    for &c in chunks {
        acc += c;
        if acc >= n {
            out.push(acc);
            acc = 0;
        }
    }
    if acc > 0 {
        match out.last_mut() {
            Some(last) => *last += acc,
            None => out.push(acc),
        }
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// `a` with one column chunk and row chunks of at least its number of columns.
pub(crate) fn tall(a: &Array<f64>) -> Result<Array<f64>> {
    let n = a.shape()[1];
    let rows = tall_rows(&a.chunks()[0], n);
    Ok(Array::from_meta(rechunk_meta(
        &a.meta,
        vec![rows, vec![n]],
    )?))
}

/// Least squares for a tall `a` (`m >= n`, any number of row chunks): `a = q·r` by TSQR, then
/// `x = r⁻¹ · (qᵀ · b)`. Only `n × n` and `n × k` matrices meet in one task.
///
/// ```
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// // Fit y = 1 + 2t through four points.
/// let a = brisk_array::from_array(&ndarray::array![[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]], 2)?;
/// let y = brisk_array::from_array(&ndarray::array![1.0, 3.0, 5.0, 7.0], 2)?;
/// let fit = brisk_array::linalg::lstsq(&a, &y)?;
/// let x = fit.x.compute()?;
/// assert!((x[[0]] - 1.0).abs() < 1e-12 && (x[[1]] - 2.0).abs() < 1e-12);
/// assert_eq!(fit.rank.compute()?, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lstsq(a: &Array<f64>, b: &Array<f64>) -> Result<Lstsq> {
    a.meta.require_known("lstsq")?;
    b.meta.require_known("lstsq")?;
    let (m, n) = match a.shape() {
        [m, n] if m >= n => (*m, *n),
        s => {
            return Err(ArrayError::invalid(
                "a",
                format!(
                    "lstsq needs a 2-D matrix with at least as many rows as columns, got shape {}",
                    crate::error::fmt_shape(s)
                ),
            ));
        }
    };
    if !(1..=2).contains(&b.ndim()) || b.shape()[0] != m {
        return Err(ArrayError::ShapeMismatch {
            op: "lstsq: b must have as many rows as a",
            expected: vec![m],
            found: b.shape().to_vec(),
        });
    }
    let vector = b.ndim() == 1;
    let b2 = if vector {
        b.reshape(&[m as isize, 1])?
    } else {
        b.clone()
    };
    let a = tall(a)?;
    let (q, r) = a.qr()?;
    let qtb = q.t().matmul(&b2)?;
    let k = b2.shape()[1];
    let x2 = dense_task::<f64>(
        DenseOp::SolveUpper,
        "lstsq",
        &[&r.meta, &qtb.meta],
        vec![],
        vec![n, k],
    )?;
    let fitted = a.matmul(&x2)?;
    let resid = &b2 - &fitted;
    let residuals = (&resid * &resid).sum_axis(0)?;
    let s = dense_task::<f64>(DenseOp::SingularValues, "svd", &[&r.meta], vec![], vec![n])?;
    let rank = dense_task::<i64>(
        DenseOp::Rank,
        "rank",
        &[&s.meta],
        vec![Value::new(vec![m as u64, n as u64])],
        vec![],
    )?;
    let x = if vector {
        x2.reshape(&[n as isize])?
    } else {
        x2
    };
    Ok(Lstsq {
        x,
        residuals,
        rank: Scalar(rank),
        s,
    })
}

/// The singular values of any 2-D `f64` matrix, descending: TSQR of the matrix (or of its
/// transpose when it is wide), then the SVD of the small `R` in one task.
pub(crate) fn singular_values(a: &Array<f64>) -> Result<Array<f64>> {
    a.meta.require_known("svd")?;
    let [m, n] = a.shape() else {
        return Err(ArrayError::invalid(
            "a",
            format!("singular values need a 2-D matrix, got {} axes", a.ndim()),
        ));
    };
    let t = if m >= n { tall(a)? } else { tall(&a.t())? };
    let k = (*m).min(*n);
    let (_, r) = t.qr()?;
    dense_task::<f64>(DenseOp::SingularValues, "svd", &[&r.meta], vec![], vec![k])
}
