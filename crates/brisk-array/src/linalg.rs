//! Matrix products by blocks: `C[i, j] = Σ_k A[i, k] · B[k, j]`, one task per block product
//! (ndarray's `dot`) and one per output block to add them up.

use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::{ArrayD, Ix2};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::dtype::{DType, Float};
use crate::error::{ArrayError, Result};

crate::kernels::kernel! {
    /// `(a, b) -> a · b`
    pub(crate) MATMUL = "brisk_array::matmul" => crate::linalg::matmul_kernel
}
crate::kernels::kernel! {
    /// `(blocks…) -> their sum`
    pub(crate) SUM_BLOCKS = "brisk_array::sum_blocks" => crate::linalg::sum_blocks_kernel
}

fn mm<T: ndarray::LinalgScalar + Send + Sync>(
    a: &Value,
    b: &Value,
) -> Option<Result<Value, TaskFailure>> {
    let a = a.downcast_ref::<ArrayD<T>>().ok()?;
    let b = b.downcast_ref::<ArrayD<T>>().ok()?;
    Some((|| {
        let a2 = a
            .view()
            .into_dimensionality::<Ix2>()
            .map_err(|e| TaskFailure::msg(format!("matmul: {e}")))?;
        let b2 = b
            .view()
            .into_dimensionality::<Ix2>()
            .map_err(|e| TaskFailure::msg(format!("matmul: {e}")))?;
        if a2.ncols() != b2.nrows() {
            return Err(TaskFailure::msg(format!(
                "matmul: blocks {:?} and {:?} do not line up",
                a.shape(),
                b.shape()
            )));
        }
        Ok(Value::new(a2.dot(&b2).into_dyn()))
    })())
}

pub(crate) fn matmul_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [a, b] = args else {
        return Err(TaskFailure::msg("matmul: expected two blocks"));
    };
    mm::<f64>(a, b)
        .or_else(|| mm::<f32>(a, b))
        .unwrap_or_else(|| {
            Err(TaskFailure::msg(format!(
                "matmul: blocks of {} and {}",
                a.type_name(),
                b.type_name()
            )))
        })
}

fn sum_typed<T: ndarray::LinalgScalar + Send + Sync + std::ops::AddAssign>(
    blocks: &[Value],
) -> Option<Result<Value, TaskFailure>> {
    let first = blocks.first()?.downcast_ref::<ArrayD<T>>().ok()?;
    let mut acc = first.clone();
    for b in &blocks[1..] {
        let Ok(b) = b.downcast_ref::<ArrayD<T>>() else {
            return Some(Err(TaskFailure::msg("sum_blocks: mixed block types")));
        };
        if b.shape() != acc.shape() {
            return Some(Err(TaskFailure::msg(
                "sum_blocks: blocks of different shapes",
            )));
        }
        acc.zip_mut_with(b, |x, y| *x += *y);
    }
    Some(Ok(Value::new(acc)))
}

pub(crate) fn sum_blocks_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    sum_typed::<f64>(args)
        .or_else(|| sum_typed::<f32>(args))
        .unwrap_or_else(|| Err(TaskFailure::msg("sum_blocks: expected f32 or f64 blocks")))
}

impl<T: Float + ndarray::LinalgScalar> Array<T> {
    /// The matrix product of two 2-D arrays, by blocks. `other`'s row chunks are lined up with
    /// this array's column chunks first. The block products of one output block are added in
    /// a tree of at most [`crate::DEFAULT_SPLIT_EVERY`] products per task.
    pub fn matmul(&self, other: &Array<T>) -> Result<Array<T>> {
        self.matmul_with(other, crate::DEFAULT_SPLIT_EVERY)
    }

    /// [`Array::matmul`] adding at most `split_every` (at least 2) block products per task, so
    /// a task holds at most that many products however many blocks the contracted axis has
    /// (Dask's `split_every`).
    pub fn matmul_with(&self, other: &Array<T>, split_every: usize) -> Result<Array<T>> {
        if split_every < 2 {
            return Err(ArrayError::invalid(
                "split_every",
                format!("split_every must be at least 2, got {split_every}"),
            ));
        }
        let (a, b) = (&self.meta, &other.meta);
        a.require_known("matmul")?;
        b.require_known("matmul")?;
        if a.ndim() != 2 || b.ndim() != 2 {
            return Err(ArrayError::invalid(
                "operands",
                format!(
                    "matmul takes 2-D arrays, got {} and {} axes",
                    a.ndim(),
                    b.ndim()
                ),
            ));
        }
        if a.shape[1] != b.shape[0] {
            return Err(ArrayError::ShapeMismatch {
                op: "matmul",
                expected: vec![a.shape[1], b.shape[1]],
                found: b.shape.clone(),
            });
        }
        let b = crate::rechunk::rechunk_meta(b, vec![a.chunks[1].clone(), b.chunks[1].clone()])?;
        let a = crate::rechunk::rechunk_meta(a, a.chunks.clone())?;
        let (la, lb) = (a.layer()?, b.layer()?);
        let pname = tokenize("matmul-block");
        let sname = tokenize("matmul-partial");
        let name = tokenize("matmul");
        let nk = a.chunks[1].len();
        let nb = [a.chunks[0].len(), b.chunks[1].len()];
        let mut prods = Vec::new();
        let mut partials = Vec::new();
        let mut sums = Vec::new();
        let mm = crate::kernels::func(MATMUL, "matmul");
        let add = crate::kernels::func(SUM_BLOCKS, "sum");
        for_each_block(&nb, |idx| {
            let (i, j) = (idx[0] as u32, idx[1] as u32);
            let mut parts = Vec::with_capacity(nk);
            for k in 0..nk {
                let pk = Key::with_shared_name(&pname, &[i, j, k as u32]);
                prods.push((
                    pk.clone(),
                    Node::Task(Task {
                        func: mm.clone(),
                        args: vec![Arg::Key(a.key(&[idx[0], k])), Arg::Key(b.key(&[k, idx[1]]))],
                    }),
                ));
                parts.push(pk);
            }
            // Tree sum: groups of `split_every` neighbours per level, then one final task.
            let parts =
                brisk_core::tree::reduce_levels(parts, split_every, true, |level, g, group| {
                    let key = Key::with_shared_name(&sname, &[i, j, level, g as u32]);
                    partials.push((
                        key.clone(),
                        Node::Task(Task {
                            func: add.clone(),
                            args: group.iter().cloned().map(Arg::Key).collect(),
                        }),
                    ));
                    key
                });
            let node = match parts.as_slice() {
                [only] => Node::Alias(only.clone()),
                _ => Node::Task(Task {
                    func: add.clone(),
                    args: parts.into_iter().map(Arg::Key).collect(),
                }),
            };
            sums.push((Key::with_shared_name(&name, &[i, j]), node));
        });
        let players = Layer::from_nodes(Arc::clone(&pname), prods, vec![la, lb]);
        let slayer = Layer::from_nodes(Arc::clone(&sname), partials, vec![Arc::clone(&players)]);
        let layer = Layer::from_nodes(Arc::clone(&name), sums, vec![players, slayer]);
        Ok(Array::from_meta(Meta::new(
            name,
            T::DTYPE,
            vec![a.shape[0], b.shape[1]],
            vec![a.chunks[0].clone(), b.chunks[1].clone()],
            Body::Layer(layer),
        )))
    }

    /// `matmul` for 2-D arrays (numpy's `dot`).
    pub fn dot(&self, other: &Array<T>) -> Result<Array<T>> {
        self.matmul(other)
    }
}

#[allow(dead_code)]
fn _d(_: DType) {}

/// numpy's `tensordot`: sum the products over `axes_a` of `a` and `axes_b` of `b` (same
/// lengths), by moving them together, reshaping to matrices and multiplying by blocks.
pub fn tensordot<T: Float + ndarray::LinalgScalar>(
    a: &Array<T>,
    b: &Array<T>,
    axes_a: &[isize],
    axes_b: &[isize],
) -> Result<Array<T>> {
    use crate::reduce::normalize_axes;
    if axes_a.len() != axes_b.len() {
        return Err(ArrayError::invalid(
            "axes",
            format!("{axes_a:?} and {axes_b:?} differ in length"),
        ));
    }
    let sa = normalize_axes("tensordot", axes_a, a.ndim())?;
    let sb = normalize_axes("tensordot", axes_b, b.ndim())?;
    // normalize_axes sorts; keep the pairing given by the caller.
    let pa: Vec<usize> = axes_a
        .iter()
        .map(|&x| {
            if x < 0 {
                (x + a.ndim() as isize) as usize
            } else {
                x as usize
            }
        })
        .collect();
    let pb: Vec<usize> = axes_b
        .iter()
        .map(|&x| {
            if x < 0 {
                (x + b.ndim() as isize) as usize
            } else {
                x as usize
            }
        })
        .collect();
    for (&x, &y) in pa.iter().zip(&pb) {
        if a.shape()[x] != b.shape()[y] {
            return Err(ArrayError::ShapeMismatch {
                op: "tensordot",
                expected: a.shape().to_vec(),
                found: b.shape().to_vec(),
            });
        }
    }
    let free_a: Vec<usize> = (0..a.ndim()).filter(|x| !sa.contains(x)).collect();
    let free_b: Vec<usize> = (0..b.ndim()).filter(|x| !sb.contains(x)).collect();
    let perm_a: Vec<isize> = free_a.iter().chain(&pa).map(|&x| x as isize).collect();
    let perm_b: Vec<isize> = pb.iter().chain(&free_b).map(|&x| x as isize).collect();
    let m: usize = free_a.iter().map(|&x| a.shape()[x]).product();
    let n: usize = free_b.iter().map(|&x| b.shape()[x]).product();
    let k: usize = pa.iter().map(|&x| a.shape()[x]).product();
    let a2 = a.transpose(&perm_a)?.reshape(&[m as isize, k as isize])?;
    let b2 = b.transpose(&perm_b)?.reshape(&[k as isize, n as isize])?;
    let out: Vec<isize> = free_a
        .iter()
        .map(|&x| a.shape()[x] as isize)
        .chain(free_b.iter().map(|&x| b.shape()[x] as isize))
        .collect();
    a2.matmul(&b2)?.reshape(&out)
}
