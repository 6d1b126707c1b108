//! Advanced indexing along one axis: integer arrays (numpy's `x[:, [3, 0, 3]]`, `np.take`),
//! known or lazy, and boolean masks of one axis (`x[:, m]`, `np.compress`).
//!
//! An output chunk is one `take` task that gathers its lanes from the input blocks its
//! indices fall in: with indices known when the graph is built, only those blocks are its
//! inputs; with a lazy index array, every block along the axis is (the indices are known only
//! when the task runs). A lazy boolean mask keeps the blocks and gives chunks of unknown size
//! along the axis, like [`Array::mask`].

use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::{ArrayD, Axis, IxDyn};
use serde::{Deserialize, Serialize};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::chunks::{self, UNKNOWN};
use crate::dtype::{DType, Element, with_dtype};
use crate::error::{ArrayError, Result};
use crate::reduce::normalize_axes;

crate::kernels::kernel! {
    /// `(dtype, TakeSpec, indices, blocks…) -> chunk`
    pub(crate) TAKE = "brisk_array::take" => crate::indexing::take_kernel
}
crate::kernels::kernel! {
    /// `(dtype, axis, chunk, mask) -> chunk`
    pub(crate) COMPRESS = "brisk_array::compress" => crate::indexing::compress_kernel
}

/// What a `take` task needs besides its blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TakeSpec {
    /// The axis indexed.
    pub axis: usize,
    /// Its length (negative indices count from it).
    pub len: u64,
    /// The global start of each block passed, ascending.
    pub starts: Vec<u64>,
}
brisk_core::data!(TakeSpec, serde);

/// The indices of [`Array::take`]: known now (`&[i64]`, `Vec<i64>`) or a lazy 1-D array.
#[derive(Debug, Clone)]
pub enum TakeIndices {
    /// Known when the graph is built.
    Known(Vec<i64>),
    /// Computed with the graph.
    Lazy(Array<i64>),
}

impl From<&[i64]> for TakeIndices {
    fn from(v: &[i64]) -> Self {
        TakeIndices::Known(v.to_vec())
    }
}
impl<const N: usize> From<[i64; N]> for TakeIndices {
    fn from(v: [i64; N]) -> Self {
        TakeIndices::Known(v.to_vec())
    }
}
impl From<Vec<i64>> for TakeIndices {
    fn from(v: Vec<i64>) -> Self {
        TakeIndices::Known(v)
    }
}
impl From<&Array<i64>> for TakeIndices {
    fn from(a: &Array<i64>) -> Self {
        TakeIndices::Lazy(a.clone())
    }
}
impl From<Array<i64>> for TakeIndices {
    fn from(a: Array<i64>) -> Self {
        TakeIndices::Lazy(a)
    }
}

/// The boolean mask of [`Array::compress`]: known now or a lazy 1-D array.
#[derive(Debug, Clone)]
pub enum AxisMask {
    /// Known when the graph is built.
    Known(Vec<bool>),
    /// Computed with the graph.
    Lazy(Array<bool>),
}

impl From<&[bool]> for AxisMask {
    fn from(v: &[bool]) -> Self {
        AxisMask::Known(v.to_vec())
    }
}
impl From<Vec<bool>> for AxisMask {
    fn from(v: Vec<bool>) -> Self {
        AxisMask::Known(v)
    }
}
impl From<&Array<bool>> for AxisMask {
    fn from(a: &Array<bool>) -> Self {
        AxisMask::Lazy(a.clone())
    }
}

fn fail(msg: impl Into<String>) -> TaskFailure {
    TaskFailure::msg(msg.into())
}

fn take_t<T: Element>(
    spec: &TakeSpec,
    idx: &Value,
    blocks: &[Value],
) -> Result<Value, TaskFailure> {
    let idx = idx
        .downcast_ref::<ArrayD<i64>>()
        .map_err(|e| fail(format!("take: {e}")))?;
    if idx.ndim() != 1 {
        return Err(fail("take: the indices must be 1-D"));
    }
    let blocks: Vec<&ArrayD<T>> = blocks
        .iter()
        .map(|b| b.downcast_ref::<ArrayD<T>>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| fail(format!("take: {e}")))?;
    if blocks.len() != spec.starts.len() {
        return Err(fail("take: one start per block is needed"));
    }
    let ax = spec.axis;
    let first = blocks
        .first()
        .ok_or_else(|| fail("take: no input blocks"))?;
    if ax >= first.ndim() {
        return Err(fail(format!(
            "take: axis {ax} of a {}-d block",
            first.ndim()
        )));
    }
    let mut shape = first.shape().to_vec();
    shape[ax] = idx.len();
    for b in &blocks {
        let same = b.ndim() == shape.len()
            && (0..shape.len()).all(|a| a == ax || b.shape()[a] == shape[a]);
        if !same {
            return Err(fail("take: blocks of different shapes"));
        }
    }
    let mut out = ArrayD::<T>::from_elem(IxDyn(&shape), T::default());
    let n = spec.len as i64;
    for (p, &i) in idx.iter().enumerate() {
        let g = if i < 0 { i + n } else { i };
        if g < 0 || g >= n {
            return Err(TaskFailure::from(ArrayError::IndexOutOfRange {
                axis: ax,
                index: i as isize,
                dim: spec.len as usize,
            }));
        }
        let g = g as u64;
        let k = spec.starts.partition_point(|&s| s <= g);
        let block = k.checked_sub(1).and_then(|k| blocks.get(k).map(|b| (k, b)));
        let Some((k, b)) = block else {
            return Err(fail(format!("take: index {g} is in no block passed")));
        };
        let j = (g - spec.starts[k]) as usize;
        if j >= b.shape()[ax] {
            return Err(fail(format!("take: index {g} is in no block passed")));
        }
        out.index_axis_mut(Axis(ax), p)
            .assign(&b.index_axis(Axis(ax), j));
    }
    Ok(Value::new(out))
}

pub(crate) fn take_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, spec, idx, blocks @ ..] = args else {
        return Err(fail("take: expected a dtype, a spec, indices and blocks"));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| fail(format!("take: {e}")))?;
    let spec = spec
        .downcast_ref::<TakeSpec>()
        .map_err(|e| fail(format!("take: {e}")))?;
    with_dtype!(dt, T => take_t::<T>(spec, idx, blocks))
}

fn compress_t<T: Element>(axis: usize, x: &Value, m: &Value) -> Result<Value, TaskFailure> {
    let x = x
        .downcast_ref::<ArrayD<T>>()
        .map_err(|e| fail(format!("compress: {e}")))?;
    let m = m
        .downcast_ref::<ArrayD<bool>>()
        .map_err(|e| fail(format!("compress: {e}")))?;
    if axis >= x.ndim() || m.ndim() != 1 || m.len() != x.shape()[axis] {
        return Err(fail(format!(
            "compress: a mask of shape {:?} for axis {axis} of a chunk of shape {:?}",
            m.shape(),
            x.shape()
        )));
    }
    let keep: Vec<usize> = m
        .iter()
        .enumerate()
        .filter(|(_, k)| **k)
        .map(|(i, _)| i)
        .collect();
    Ok(Value::new(x.select(Axis(axis), &keep)))
}

pub(crate) fn compress_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, axis, x, m] = args else {
        return Err(fail(
            "compress: expected a dtype, an axis, a chunk and a mask",
        ));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| fail(format!("compress: {e}")))?;
    let axis = *axis
        .downcast_ref::<u64>()
        .map_err(|e| fail(format!("compress: {e}")))? as usize;
    with_dtype!(dt, T => compress_t::<T>(axis, x, m))
}

fn idx32(idx: &[usize]) -> Vec<u32> {
    idx.iter().map(|&i| i as u32).collect()
}

impl<T: Element> Array<T> {
    /// numpy's integer-array indexing along one axis (`x[:, [3, 0, 3]]`, `np.take(x, idx,
    /// axis)`): the lanes at `indices`, in their order, repeats allowed, negative indices
    /// counting from the end. `indices` is a list known now (`&[i64]`, `Vec<i64>`, `[i64; N]`)
    /// or a lazy 1-D `Array<i64>` (then bounds are checked when the tasks run, and the output
    /// is chunked like the index array).
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let x = brisk_array::arange(10, 3)?;
    /// let picked = x.take([7, -1, 0, 7], 0)?;
    /// assert_eq!(picked.compute()?.as_slice().unwrap(), &[7, 9, 0, 7]);
    /// let lazy = &brisk_array::arange(4, 2)? * 2;          // [0, 2, 4, 6], not computed yet
    /// assert_eq!(x.take(&lazy, 0)?.compute()?.as_slice().unwrap(), &[0, 2, 4, 6]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take(&self, indices: impl Into<TakeIndices>, axis: isize) -> Result<Array<T>> {
        let m = &self.meta;
        m.check()?;
        let ax = normalize_axes("take", &[axis], m.ndim())?[0];
        if !chunks::known(&m.chunks[ax]) {
            return Err(ArrayError::UnknownChunkSizes {
                op: "take",
                axis: ax,
            });
        }
        let len = m.shape[ax];
        let starts = chunks::offsets(&m.chunks[ax]);
        let nb = m.numblocks();
        let name = tokenize("take");
        let func = crate::kernels::func(TAKE, "take");
        let dt = Value::new(T::DTYPE);
        let mut nodes = Vec::new();
        let mut deps = vec![m.layer()?];
        let (out_axis_chunks, origin) = match indices.into() {
            TakeIndices::Known(v) => {
                let mut norm = Vec::with_capacity(v.len());
                for &i in &v {
                    let g = if i < 0 { i + len as i64 } else { i };
                    if g < 0 || g >= len as i64 {
                        return Err(ArrayError::IndexOutOfRange {
                            axis: ax,
                            index: i as isize,
                            dim: len,
                        });
                    }
                    norm.push(g);
                }
                let per = m.chunks[ax].iter().copied().max().unwrap_or(1).max(1);
                let out_chunks = chunks::regular(norm.len(), per);
                let mut at = 0;
                let mut groups = Vec::with_capacity(out_chunks.len());
                for &c in &out_chunks {
                    let part = &norm[at..at + c];
                    at += c;
                    // The blocks this output chunk reads, in order.
                    let mut blocks: Vec<usize> = part
                        .iter()
                        .map(|&g| starts.partition_point(|&s| s <= g as usize) - 1)
                        .collect();
                    blocks.sort_unstable();
                    blocks.dedup();
                    if blocks.is_empty() {
                        // No index: block 0 still gives the other axes' lengths.
                        blocks.push(0);
                    }
                    groups.push((part.to_vec(), blocks));
                }
                let mut other = nb.clone();
                other[ax] = 1;
                for (j, (part, blocks)) in groups.iter().enumerate() {
                    let spec = Value::new(TakeSpec {
                        axis: ax,
                        len: len as u64,
                        starts: blocks.iter().map(|&b| starts[b] as u64).collect(),
                    });
                    let idx = Value::new(
                        ArrayD::from_shape_vec(IxDyn(&[part.len()]), part.clone())
                            .map_err(|e| ArrayError::invalid("indices", e.to_string()))?,
                    );
                    for_each_block(&other, |o| {
                        let mut args = vec![
                            Arg::Literal(dt.clone()),
                            Arg::Literal(spec.clone()),
                            Arg::Literal(idx.clone()),
                        ];
                        for &b in blocks {
                            let mut src = o.to_vec();
                            src[ax] = b;
                            args.push(Arg::Key(m.key(&src)));
                        }
                        let mut out = o.to_vec();
                        out[ax] = j;
                        nodes.push((
                            Key::with_shared_name(&name, &idx32(&out)),
                            Node::Task(Task {
                                func: func.clone(),
                                args,
                            }),
                        ));
                    });
                }
                (out_chunks, None)
            }
            TakeIndices::Lazy(ix) => {
                let im = &ix.meta;
                im.check()?;
                if im.ndim() != 1 {
                    return Err(ArrayError::invalid(
                        "indices",
                        format!("take needs a 1-D index array, got {} axes", im.ndim()),
                    ));
                }
                deps.push(im.layer()?);
                let spec = Value::new(TakeSpec {
                    axis: ax,
                    len: len as u64,
                    starts: starts[..nb[ax]].iter().map(|&s| s as u64).collect(),
                });
                let mut other = nb.clone();
                other[ax] = 1;
                for j in 0..im.chunks[0].len() {
                    for_each_block(&other, |o| {
                        let mut args = vec![
                            Arg::Literal(dt.clone()),
                            Arg::Literal(spec.clone()),
                            Arg::Key(im.key(&[j])),
                        ];
                        for b in 0..nb[ax] {
                            let mut src = o.to_vec();
                            src[ax] = b;
                            args.push(Arg::Key(m.key(&src)));
                        }
                        let mut out = o.to_vec();
                        out[ax] = j;
                        nodes.push((
                            Key::with_shared_name(&name, &idx32(&out)),
                            Node::Task(Task {
                                func: func.clone(),
                                args,
                            }),
                        ));
                    });
                }
                (im.chunks[0].clone(), im.origin(0).cloned())
            }
        };
        let mut shape = m.shape.clone();
        shape[ax] = if chunks::known(&out_axis_chunks) {
            out_axis_chunks.iter().sum()
        } else {
            UNKNOWN
        };
        let mut out_chunks = m.chunks.clone();
        out_chunks[ax] = out_axis_chunks;
        let mut origins = m.origins.clone();
        origins[ax] = origin;
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, deps);
        Ok(Array::from_meta(Meta::with_origins(
            name,
            T::DTYPE,
            shape,
            out_chunks,
            Body::Layer(layer),
            origins,
        )))
    }

    /// numpy's boolean indexing of one axis (`x[:, m]`, `np.compress(m, x, axis)`): the lanes
    /// where `mask` is true. A mask known now (`&[bool]`, `Vec<bool>`) gives known chunks; a
    /// lazy 1-D `Array<bool>` keeps the blocks and gives chunks of unknown size along `axis`
    /// (see [`Array::compute_chunk_sizes`]).
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let x = brisk_array::arange(12, 4)?.reshape(&[3, 4])?;
    /// let cols = brisk_array::arange(4, 2)?.ge(2);          // lazy [false, false, true, true]
    /// let right = x.compress(&cols, 1)?;
    /// assert_eq!(right.compute()?.shape(), &[3, 2]);
    /// assert_eq!(x.compress(vec![true, false, true], 0)?.compute()?[[1, 0]], 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compress(&self, mask: impl Into<AxisMask>, axis: isize) -> Result<Array<T>> {
        let m = &self.meta;
        m.check()?;
        let ax = normalize_axes("compress", &[axis], m.ndim())?[0];
        let mask = match mask.into() {
            AxisMask::Known(v) => {
                if chunks::known(&m.chunks[ax]) && v.len() != m.shape[ax] {
                    return Err(ArrayError::ShapeMismatch {
                        op: "compress: the mask must be as long as the axis",
                        expected: vec![m.shape[ax]],
                        found: vec![v.len()],
                    });
                }
                let idx: Vec<i64> = v
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| **k)
                    .map(|(i, _)| i as i64)
                    .collect();
                return self.take(idx, ax as isize);
            }
            AxisMask::Lazy(mk) => mk,
        };
        let mm = &mask.meta;
        mm.check()?;
        if mm.ndim() != 1 {
            return Err(ArrayError::invalid(
                "mask",
                format!("compress needs a 1-D mask, got {} axes", mm.ndim()),
            ));
        }
        // Provably aligned already (same sizes, or the same unknown sizes)?
        let aligned = mm.chunks[0] == m.chunks[ax]
            && (chunks::known(&m.chunks[ax]) || mm.origin(0) == m.origin(ax));
        let mm = if aligned {
            Arc::clone(mm)
        } else {
            if !chunks::known(&m.chunks[ax]) || !mm.is_known() {
                return Err(ArrayError::UnknownChunksMismatch {
                    op: "compress",
                    axis: ax,
                    left: m.name.to_string(),
                    right: mm.name.to_string(),
                });
            }
            if mm.shape[0] != m.shape[ax] {
                return Err(ArrayError::ShapeMismatch {
                    op: "compress: the mask must be as long as the axis",
                    expected: vec![m.shape[ax]],
                    found: mm.shape.clone(),
                });
            }
            crate::rechunk::rechunk_meta(mm, vec![m.chunks[ax].clone()])?
        };
        let name = tokenize("compress");
        let func = crate::kernels::func(COMPRESS, "compress");
        let (dt, axv) = (Value::new(T::DTYPE), Value::new(ax as u64));
        let mut nodes = Vec::new();
        for_each_block(&m.numblocks(), |idx| {
            nodes.push((
                Key::with_shared_name(&name, &idx32(idx)),
                Node::Task(Task {
                    func: func.clone(),
                    args: vec![
                        Arg::Literal(dt.clone()),
                        Arg::Literal(axv.clone()),
                        Arg::Key(m.key(idx)),
                        Arg::Key(mm.key(&[idx[ax]])),
                    ],
                }),
            ));
        });
        let origin: Arc<str> = format!(
            "compress({}, {})",
            mm.name,
            m.origin(ax)
                .map(|o| o.to_string())
                .unwrap_or_else(|| format!("{:?}", m.chunks[ax]))
        )
        .into();
        let mut shape = m.shape.clone();
        shape[ax] = UNKNOWN;
        let mut out_chunks = m.chunks.clone();
        out_chunks[ax] = vec![UNKNOWN; m.chunks[ax].len()];
        let mut origins = m.origins.clone();
        origins[ax] = Some(origin);
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![m.layer()?, mm.layer()?]);
        Ok(Array::from_meta(Meta::with_origins(
            name,
            T::DTYPE,
            shape,
            out_chunks,
            Body::Layer(layer),
            origins,
        )))
    }
}
