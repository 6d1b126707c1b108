//! Tall-and-skinny QR and SVD (Benson, Gleich, Demmel): QR of every row block, QR of the
//! stacked small `R`s, then each block's `Q` times its slice of the second `Q`. The SVD
//! follows from the SVD of the small `R` (one-sided Jacobi). Only `n × n` matrices ever meet
//! in one task besides each row block.

use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::{Array2, ArrayD, ArrayView2, Axis, Ix2, s};
use serde::{Deserialize, Serialize};

use crate::array::{Array, Body, Meta};
use crate::error::{ArrayError, Result};

crate::kernels::kernel! {
    /// `(block) -> (q, r)`
    pub(crate) QR_BLOCK = "brisk_array::qr_block" => crate::tsqr::qr_block_kernel
}
crate::kernels::kernel! {
    /// `((q, r)…) -> (q2, r)`
    pub(crate) QR_STACK = "brisk_array::qr_stack" => crate::tsqr::qr_stack_kernel
}
crate::kernels::kernel! {
    /// `(i, (q, r), stacked (q2, r), right factor or ()) -> q block`
    pub(crate) Q_BLOCK = "brisk_array::q_block" => crate::tsqr::q_block_kernel
}
crate::kernels::kernel! {
    /// `(stacked (q2, r), which) -> r | u_r | s | vt`
    pub(crate) SMALL = "brisk_array::tsqr_small" => crate::tsqr::small_kernel
}

/// A pair of matrices (a block's `Q` and `R`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QrPair {
    q: Array2<f64>,
    r: Array2<f64>,
}
brisk_core::data!(QrPair, serde);

/// Householder QR of an `m × n` matrix (`m >= n`): thin `Q` (`m × n`) and `R` (`n × n`) with a
/// non-negative diagonal, so the factorization is unique for full-rank input.
pub fn householder_qr(a: ArrayView2<'_, f64>) -> (Array2<f64>, Array2<f64>) {
    let (m, n) = a.dim();
    let k_max = n.min(m);
    let mut r = a.to_owned();
    let mut vs: Vec<Option<ndarray::Array1<f64>>> = Vec::with_capacity(k_max);
    for k in 0..k_max {
        let x = r.slice(s![k.., k]).to_owned();
        let norm = x.dot(&x).sqrt();
        if norm == 0.0 {
            vs.push(None);
            continue;
        }
        let alpha = if x[0] > 0.0 { -norm } else { norm };
        let mut v = x;
        v[0] -= alpha;
        let vn = v.dot(&v).sqrt();
        if vn == 0.0 {
            vs.push(None);
            continue;
        }
        v /= vn;
        for j in k..n {
            let d = 2.0 * v.dot(&r.slice(s![k.., j]));
            r.slice_mut(s![k.., j]).scaled_add(-d, &v);
        }
        vs.push(Some(v));
    }
    let mut q = Array2::<f64>::zeros((m, k_max));
    for i in 0..k_max {
        q[[i, i]] = 1.0;
    }
    for k in (0..k_max).rev() {
        if let Some(v) = &vs[k] {
            for j in 0..k_max {
                let d = 2.0 * v.dot(&q.slice(s![k.., j]));
                q.slice_mut(s![k.., j]).scaled_add(-d, v);
            }
        }
    }
    let mut r = r.slice(s![..k_max, ..]).to_owned();
    for i in 0..k_max {
        for j in 0..i.min(n) {
            r[[i, j]] = 0.0;
        }
        if r[[i, i]] < 0.0 {
            r.row_mut(i).mapv_inplace(|v| -v);
            q.column_mut(i).mapv_inplace(|v| -v);
        }
    }
    (q, r)
}

/// One-sided Jacobi SVD of a small square matrix: `(u, s, vt)` with `s` descending.
pub fn jacobi_svd(a: ArrayView2<'_, f64>) -> (Array2<f64>, ndarray::Array1<f64>, Array2<f64>) {
    let n = a.ncols();
    let mut u = a.to_owned();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..80 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let (cp, cq) = (u.column(p), u.column(q));
                let alpha = cp.dot(&cp);
                let beta = cq.dot(&cq);
                let gamma = cp.dot(&cq);
                if gamma.abs() <= 1e-15 * (alpha * beta).sqrt() || gamma == 0.0 {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let sn = c * t;
                for mat in [&mut u, &mut v] {
                    for i in 0..mat.nrows() {
                        let (x, y) = (mat[[i, p]], mat[[i, q]]);
                        mat[[i, p]] = c * x - sn * y;
                        mat[[i, q]] = sn * x + c * y;
                    }
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let mut sv: Vec<(f64, usize)> = (0..n)
        .map(|i| (u.column(i).dot(&u.column(i)).sqrt(), i))
        .collect();
    sv.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut uo = Array2::<f64>::zeros(u.dim());
    let mut vt = Array2::<f64>::zeros((n, n));
    let mut so = ndarray::Array1::<f64>::zeros(n);
    for (k, &(sval, i)) in sv.iter().enumerate() {
        so[k] = sval;
        if sval > 0.0 {
            uo.column_mut(k).assign(&(&u.column(i) / sval));
        }
        vt.row_mut(k).assign(&v.column(i));
    }
    (uo, so, vt)
}

fn f(msg: impl Into<String>) -> TaskFailure {
    TaskFailure::msg(msg.into())
}

fn m2(v: &Value) -> Result<ArrayView2<'_, f64>, TaskFailure> {
    v.downcast_ref::<ArrayD<f64>>()
        .map_err(|e| f(format!("tsqr: {e}")))?
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|e| f(format!("tsqr: {e}")))
}

pub(crate) fn qr_block_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [b] = args else {
        return Err(f("qr_block: expected a block"));
    };
    let a = m2(b)?;
    if a.nrows() < a.ncols() {
        return Err(f(format!(
            "tsqr: a block of {} rows for {} columns; use taller row chunks",
            a.nrows(),
            a.ncols()
        )));
    }
    let (q, r) = householder_qr(a);
    Ok(Value::new(QrPair { q, r }))
}

pub(crate) fn qr_stack_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let pairs = args
        .iter()
        .map(|v| {
            v.downcast_ref::<QrPair>()
                .map_err(|e| f(format!("qr_stack: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let views: Vec<ArrayView2<'_, f64>> = pairs.iter().map(|p| p.r.view()).collect();
    let stacked = ndarray::concatenate(Axis(0), &views).map_err(|e| f(format!("qr_stack: {e}")))?;
    let (q, r) = householder_qr(stacked.view());
    Ok(Value::new(QrPair { q, r }))
}

pub(crate) fn q_block_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [i, pair, stacked, right] = args else {
        return Err(f("q_block: expected 4 arguments"));
    };
    let i = *i
        .downcast_ref::<u64>()
        .map_err(|e| f(format!("q_block: {e}")))? as usize;
    let pair = pair
        .downcast_ref::<QrPair>()
        .map_err(|e| f(format!("q_block: {e}")))?;
    let st = stacked
        .downcast_ref::<QrPair>()
        .map_err(|e| f(format!("q_block: {e}")))?;
    let n = pair.r.nrows();
    if (i + 1) * n > st.q.nrows() {
        return Err(f("q_block: block index past the stacked Q"));
    }
    let mut q = pair.q.dot(&st.q.slice(s![i * n..(i + 1) * n, ..]));
    if !right.is::<()>() {
        q = q.dot(&m2(right)?);
    }
    Ok(Value::new(q.into_dyn()))
}

pub(crate) fn small_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [st, which] = args else {
        return Err(f("tsqr_small: expected 2 arguments"));
    };
    let st = st
        .downcast_ref::<QrPair>()
        .map_err(|e| f(format!("tsqr_small: {e}")))?;
    let which = *which
        .downcast_ref::<u64>()
        .map_err(|e| f(format!("tsqr_small: {e}")))?;
    if which == 0 {
        return Ok(Value::new(st.r.clone().into_dyn()));
    }
    let (u, sv, vt) = jacobi_svd(st.r.view());
    Ok(match which {
        1 => Value::new(u.into_dyn()),
        2 => Value::new(sv.into_dyn()),
        _ => Value::new(vt.into_dyn()),
    })
}

fn k(name: &Arc<str>, idx: &[u32]) -> Key {
    Key::with_shared_name(name, idx)
}

fn task(func: crate::kernels::Kernel, label: &'static str, args: Vec<Arg>) -> Node {
    Node::Task(Task {
        func: crate::kernels::func(func, label),
        args,
    })
}

impl Array<f64> {
    fn tsqr_graph(&self, svd: bool) -> Result<Vec<Array<f64>>> {
        let m = &self.meta;
        m.require_known("tsqr")?;
        if m.ndim() != 2 {
            return Err(ArrayError::invalid(
                "array",
                format!("tsqr needs a 2-D array, got {} axes", m.ndim()),
            ));
        }
        let n = m.shape[1];
        let src = crate::rechunk::rechunk_meta(m, vec![m.chunks[0].clone(), vec![n]])?;
        if let Some(&short) = src.chunks[0].iter().find(|&&r| r < n) {
            return Err(ArrayError::invalid(
                "chunks",
                format!(
                    "tsqr needs row chunks of at least {n} rows (the number of columns), found {short}; rechunk first"
                ),
            ));
        }
        let nb = src.chunks[0].len();
        let (pn, sn, qn, rn, un, svn, vtn) = (
            tokenize("qr-block"),
            tokenize("qr-stack"),
            tokenize(if svd { "svd-u" } else { "qr-q" }),
            tokenize("qr-r"),
            tokenize("svd-ur"),
            tokenize("svd-s"),
            tokenize("svd-vt"),
        );
        let mut nodes = Vec::new();
        for i in 0..nb {
            nodes.push((
                k(&pn, &[i as u32]),
                task(QR_BLOCK, "qr", vec![Arg::Key(src.key(&[i, 0]))]),
            ));
        }
        nodes.push((
            k(&sn, &[]),
            task(
                QR_STACK,
                "qr",
                (0..nb).map(|i| Arg::Key(k(&pn, &[i as u32]))).collect(),
            ),
        ));
        let small = |which: u64| {
            task(
                SMALL,
                "svd",
                vec![Arg::Key(k(&sn, &[])), Arg::Literal(Value::new(which))],
            )
        };
        nodes.push((k(&rn, &[0, 0]), small(0)));
        if svd {
            nodes.push((k(&un, &[]), small(1)));
            nodes.push((k(&svn, &[0]), small(2)));
            nodes.push((k(&vtn, &[0, 0]), small(3)));
        }
        for i in 0..nb {
            let right = if svd {
                Arg::Key(k(&un, &[]))
            } else {
                Arg::Literal(Value::new(()))
            };
            nodes.push((
                k(&qn, &[i as u32, 0]),
                task(
                    Q_BLOCK,
                    "dot",
                    vec![
                        Arg::Literal(Value::new(i as u64)),
                        Arg::Key(k(&pn, &[i as u32])),
                        Arg::Key(k(&sn, &[])),
                        right,
                    ],
                ),
            ));
        }
        let layer = Layer::from_nodes(tokenize("tsqr"), nodes, vec![src.layer()?]);
        let mk = |name: &Arc<str>, shape: Vec<usize>, chunks: Vec<Vec<usize>>| {
            Array::from_meta(Meta::new(
                Arc::clone(name),
                crate::dtype::DType::F64,
                shape,
                chunks,
                Body::Layer(Arc::clone(&layer)),
            ))
        };
        let q = mk(
            &qn,
            vec![m.shape[0], n],
            vec![src.chunks[0].clone(), vec![n]],
        );
        if svd {
            Ok(vec![
                q,
                mk(&svn, vec![n], vec![vec![n]]),
                mk(&vtn, vec![n, n], vec![vec![n], vec![n]]),
            ])
        } else {
            Ok(vec![q, mk(&rn, vec![n, n], vec![vec![n], vec![n]])])
        }
    }

    /// Tall-and-skinny QR: `(q, r)` with `q` chunked like the rows of `self` (one column
    /// chunk) and `r` upper triangular with a non-negative diagonal. Every row chunk must have
    /// at least as many rows as there are columns.
    pub fn qr(&self) -> Result<(Array<f64>, Array<f64>)> {
        let mut v = self.tsqr_graph(false)?.into_iter();
        match (v.next(), v.next()) {
            (Some(q), Some(r)) => Ok((q, r)),
            _ => Err(ArrayError::invalid("array", "tsqr produced no factors")),
        }
    }

    /// Tall-and-skinny SVD: `(u, s, vt)` with `s` descending, `self = u · diag(s) · vt`.
    pub fn svd(&self) -> Result<(Array<f64>, Array<f64>, Array<f64>)> {
        let mut v = self.tsqr_graph(true)?.into_iter();
        match (v.next(), v.next(), v.next()) {
            (Some(u), Some(s), Some(vt)) => Ok((u, s, vt)),
            _ => Err(ArrayError::invalid("array", "tsqr produced no factors")),
        }
    }
}
