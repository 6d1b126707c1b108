//! Shape operations on chunk keys: transpose, squeeze, expand_dims, concatenate, stack.
//! Each output chunk comes from exactly one input chunk (an alias when unchanged), so none of
//! these copies more than one chunk at a time.

use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::dtype::{DType, Element, with_dtype};
use crate::error::{ArrayError, Result};
use crate::reduce::normalize_axes;

crate::kernels::kernel! {
    /// `(op, chunk) -> chunk`
    pub(crate) CHUNK_OP = "brisk_array::chunk_op" => crate::shape::chunk_op_kernel
}

/// A per-chunk shape change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChunkOp {
    /// Permute the axes.
    Transpose(Vec<usize>),
    /// Same elements in C order, new shape.
    Reshape(Vec<usize>),
    /// Keep `start..end` of each axis.
    Crop(Vec<(usize, usize)>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ChunkOpSpec {
    dtype: DType,
    op: ChunkOp,
}
brisk_core::data!(ChunkOpSpec, serde);

fn apply<T: Element>(op: &ChunkOp, v: &Value) -> Result<ArrayD<T>, TaskFailure> {
    let a = v
        .downcast_ref::<ArrayD<T>>()
        .map_err(|m| TaskFailure::msg(format!("chunk op: {m}")))?;
    match op {
        ChunkOp::Transpose(perm) => {
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..a.ndim()).collect::<Vec<_>>() {
                return Err(TaskFailure::msg(format!(
                    "transpose: {perm:?} is not a permutation of {} axes",
                    a.ndim()
                )));
            }
            Ok(a.view()
                .permuted_axes(IxDyn(perm))
                .as_standard_layout()
                .into_owned())
        }
        ChunkOp::Reshape(shape) => a
            .to_shape(IxDyn(shape))
            .map(|c| c.into_owned())
            .map_err(|e| TaskFailure::msg(format!("reshape {:?} to {shape:?}: {e}", a.shape()))),
        ChunkOp::Crop(r) => {
            if r.len() != a.ndim() || r.iter().zip(a.shape()).any(|(&(s, e), &d)| s > e || e > d) {
                return Err(TaskFailure::msg(format!(
                    "crop {r:?} does not fit a chunk of shape {:?}",
                    a.shape()
                )));
            }
            Ok(a.slice_each_axis(|ad| {
                let (s, e) = r[ad.axis.index()];
                ndarray::Slice::from(s..e)
            })
            .to_owned())
        }
    }
}

pub(crate) fn chunk_op_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [spec, chunk] = args else {
        return Err(TaskFailure::msg("chunk op: expected a spec and a chunk"));
    };
    let spec = spec
        .downcast_ref::<ChunkOpSpec>()
        .map_err(|m| TaskFailure::msg(format!("chunk op: {m}")))?;
    with_dtype!(spec.dtype, T => Ok(Value::new(apply::<T>(&spec.op, chunk)?)))
}

pub(crate) fn chunk_task(dtype: DType, op: ChunkOp, input: Key, label: &'static str) -> Node {
    Node::Task(Task {
        func: crate::kernels::func(CHUNK_OP, label),
        args: vec![
            Arg::Literal(Value::new(ChunkOpSpec { dtype, op })),
            Arg::Key(input),
        ],
    })
}

fn key_of(name: &Arc<str>, idx: &[usize]) -> Key {
    let idx: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
    Key::with_shared_name(name, &idx)
}

impl<T: Element> Array<T> {
    /// Reverse the axes (`.T`).
    pub fn t(&self) -> Array<T> {
        let perm: Vec<isize> = (0..self.ndim() as isize).rev().collect();
        self.transpose(&perm).unwrap_or_else(Array::failed)
    }

    /// Permute the axes: output axis `i` is input axis `axes[i]`.
    pub fn transpose(&self, axes: &[isize]) -> Result<Array<T>> {
        let m = &self.meta;
        m.check()?;
        let n = m.ndim();
        if axes.len() != n {
            return Err(ArrayError::invalid(
                "axes",
                format!("{axes:?} does not name each of the {n} axes once"),
            ));
        }
        let mut perm = Vec::with_capacity(n);
        for &a in axes {
            perm.push(normalize_axes("transpose", &[a], n)?[0]);
        }
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != n {
            return Err(ArrayError::invalid(
                "axes",
                format!("{axes:?} repeats an axis"),
            ));
        }
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let name = tokenize("transpose");
        let nb: Vec<usize> = perm.iter().map(|&p| m.chunks[p].len()).collect();
        let mut nodes = Vec::new();
        for_each_block(&nb, |idx| {
            let mut src = vec![0usize; n];
            for (i, &p) in perm.iter().enumerate() {
                src[p] = idx[i];
            }
            nodes.push((
                key_of(&name, idx),
                chunk_task(
                    T::DTYPE,
                    ChunkOp::Transpose(perm.clone()),
                    m.key(&src),
                    "transpose",
                ),
            ));
        });
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![m.layer()?]);
        Ok(Array::from_meta(Meta::new(
            name,
            T::DTYPE,
            perm.iter().map(|&p| m.shape[p]).collect(),
            perm.iter().map(|&p| m.chunks[p].clone()).collect(),
            Body::Layer(layer),
        )))
    }

    fn reshape_chunks(
        &self,
        label: &'static str,
        shape: Vec<usize>,
        chunks: Vec<Vec<usize>>,
        src_of: impl Fn(&[usize]) -> Vec<usize>,
    ) -> Result<Array<T>> {
        let m = &self.meta;
        let name = tokenize(label);
        let nb: Vec<usize> = chunks.iter().map(Vec::len).collect();
        let mut nodes = Vec::new();
        for_each_block(&nb, |idx| {
            let cshape: Vec<usize> = idx.iter().enumerate().map(|(a, &i)| chunks[a][i]).collect();
            nodes.push((
                key_of(&name, idx),
                chunk_task(
                    T::DTYPE,
                    ChunkOp::Reshape(cshape),
                    m.key(&src_of(idx)),
                    label,
                ),
            ));
        });
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![m.layer()?]);
        Ok(Array::from_meta(Meta::new(
            name,
            T::DTYPE,
            shape,
            chunks,
            Body::Layer(layer),
        )))
    }

    /// Insert an axis of length one at `axis`.
    pub fn expand_dims(&self, axis: isize) -> Result<Array<T>> {
        self.meta.require_known("expand_dims")?;
        let n = self.ndim() + 1;
        let a = normalize_axes("expand_dims", &[axis], n)?[0];
        let mut shape = self.meta.shape.clone();
        shape.insert(a, 1);
        let mut chunks = self.meta.chunks.clone();
        chunks.insert(a, vec![1]);
        self.reshape_chunks("expand_dims", shape, chunks, |idx| {
            let mut v = idx.to_vec();
            v.remove(a);
            v
        })
    }

    /// Remove axes of length one (all of them for an empty list).
    pub fn squeeze(&self, axes: &[isize]) -> Result<Array<T>> {
        self.meta.require_known("squeeze")?;
        let m = &self.meta;
        let drop: Vec<usize> = if axes.is_empty() {
            (0..m.ndim()).filter(|&a| m.shape[a] == 1).collect()
        } else {
            let d = normalize_axes("squeeze", axes, m.ndim())?;
            if let Some(&a) = d.iter().find(|&&a| m.shape[a] != 1) {
                return Err(ArrayError::invalid(
                    "axis",
                    format!("cannot squeeze axis {a} of length {}", m.shape[a]),
                ));
            }
            d
        };
        let keep: Vec<usize> = (0..m.ndim()).filter(|a| !drop.contains(a)).collect();
        let shape = keep.iter().map(|&a| m.shape[a]).collect();
        let chunks = keep.iter().map(|&a| m.chunks[a].clone()).collect();
        let ndim = m.ndim();
        self.reshape_chunks("squeeze", shape, chunks, |idx| {
            let mut v = vec![0usize; ndim];
            for (i, &a) in keep.iter().enumerate() {
                v[a] = idx[i];
            }
            v
        })
    }
}

/// Join arrays along an existing axis; chunks on the other axes are lined up first.
pub fn concatenate<T: Element>(arrays: &[Array<T>], axis: isize) -> Result<Array<T>> {
    let first = arrays
        .first()
        .ok_or_else(|| ArrayError::invalid("arrays", "concatenate needs at least one array"))?;
    for a in arrays {
        a.meta.require_known("concatenate")?;
    }
    let n = first.ndim();
    let ax = normalize_axes("concatenate", &[axis], n)?[0];
    for a in arrays {
        let same = a.ndim() == n && (0..n).all(|d| d == ax || a.shape()[d] == first.shape()[d]);
        if !same {
            return Err(ArrayError::ShapeMismatch {
                op: "concatenate",
                expected: first.shape().to_vec(),
                found: a.shape().to_vec(),
            });
        }
    }
    // Common chunks on the other axes.
    let mut common = first.meta.chunks.clone();
    for a in arrays {
        for (d, c) in common.iter_mut().enumerate() {
            if d != ax {
                *c = crate::chunks::common_refinement(c, &a.meta.chunks[d]);
            }
        }
    }
    let mut metas = Vec::with_capacity(arrays.len());
    for a in arrays {
        let mut want = common.clone();
        want[ax] = a.meta.chunks[ax].clone();
        metas.push(crate::rechunk::rechunk_meta(&a.meta, want)?);
    }
    let name = tokenize("concatenate");
    let mut chunks = common.clone();
    chunks[ax] = metas
        .iter()
        .flat_map(|m| m.chunks[ax].iter().copied())
        .collect();
    let mut shape = first.shape().to_vec();
    shape[ax] = metas.iter().map(|m| m.shape[ax]).sum();
    let mut owner = Vec::new();
    for (i, m) in metas.iter().enumerate() {
        for j in 0..m.chunks[ax].len() {
            owner.push((i, j));
        }
    }
    let nb: Vec<usize> = chunks.iter().map(Vec::len).collect();
    let mut nodes = Vec::new();
    for_each_block(&nb, |idx| {
        let (i, j) = owner[idx[ax]];
        let mut src = idx.to_vec();
        src[ax] = j;
        nodes.push((key_of(&name, idx), Node::Alias(metas[i].key(&src))));
    });
    let deps = metas
        .iter()
        .map(|m| m.layer())
        .collect::<Result<Vec<_>>>()?;
    let layer = Layer::from_nodes(Arc::clone(&name), nodes, deps);
    Ok(Array::from_meta(Meta::new(
        name,
        T::DTYPE,
        shape,
        chunks,
        Body::Layer(layer),
    )))
}

/// Join arrays of one shape along a new axis.
pub fn stack<T: Element>(arrays: &[Array<T>], axis: isize) -> Result<Array<T>> {
    let expanded = arrays
        .iter()
        .map(|a| a.expand_dims(axis))
        .collect::<Result<Vec<_>>>()?;
    if let Some(f) = arrays.first()
        && let Some(bad) = arrays.iter().find(|a| a.shape() != f.shape())
    {
        return Err(ArrayError::ShapeMismatch {
            op: "stack",
            expected: f.shape().to_vec(),
            found: bad.shape().to_vec(),
        });
    }
    concatenate(&expanded, axis)
}
