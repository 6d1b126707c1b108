//! Your own functions on blocks: `map_blocks` (one array), `blockwise` (several arrays of one
//! shape, block by block) and `map_overlap` (stencils: each block with a halo of its
//! neighbours, trimmed again after the function).
//!
//! Closures run in-process. A function marked `#[brisk::func]` passed where a closure is
//! expected is found by its type (`Func::registered::<F>()`) and its tasks call it by name, so
//! they run on a cluster's workers too; the `_func` variants take a [`Func`] (a registered
//! function, or one with bound parameters). `blockwise`'s function takes `&[&ArrayD<T>]`: the
//! attribute gives such a last parameter every remaining task argument (one block per array).

use std::sync::Arc;

use brisk_core::{Arg, Func, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::ArrayD;

use crate::array::{Array, Body, Meta, for_each_block};
use crate::chunks;
use crate::dtype::Element;
use crate::error::{ArrayError, Result};
use crate::rechunk::{Piece, assemble_task, overlaps};
use crate::shape::{ChunkOp, chunk_task};

/// What lies beyond the edges of the array for [`Array::map_overlap`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Boundary<T> {
    /// Nothing: blocks at the edges get a smaller halo.
    None,
    /// This value.
    Constant(T),
    /// The other side of the array.
    Periodic,
    /// The array mirrored at its edge (`x[1], x[0] | x[0], x[1], …`).
    Reflect,
}

fn wrap1<T: Element, U: Element>(
    f: impl Fn(&ArrayD<T>) -> ArrayD<U> + Send + Sync + 'static,
) -> Func {
    Func::raw("map_blocks", move |args: &[Value]| {
        let a = args
            .first()
            .ok_or_else(|| TaskFailure::msg("map_blocks: no block"))?
            .downcast_ref::<ArrayD<T>>()
            .map_err(|m| TaskFailure::msg(format!("map_blocks: {m}")))?;
        Ok(Value::new(f(a)))
    })
}

fn keyed(name: &Arc<str>, idx: &[usize]) -> Key {
    let idx: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
    Key::with_shared_name(name, &idx)
}

fn blocks_layer<U: Element>(
    label: &str,
    inputs: &[Arc<Meta>],
    func: Func,
    chunks: Vec<Vec<usize>>,
) -> Result<Array<U>> {
    let name = tokenize(label);
    let mut nodes = Vec::new();
    for_each_block(&chunks.iter().map(Vec::len).collect::<Vec<_>>(), |idx| {
        nodes.push((
            keyed(&name, idx),
            Node::Task(Task {
                func: func.clone(),
                args: inputs.iter().map(|m| Arg::Key(m.key(idx))).collect(),
            }),
        ));
    });
    let deps = inputs
        .iter()
        .map(|m| m.layer())
        .collect::<Result<Vec<_>>>()?;
    let layer = Layer::from_nodes(Arc::clone(&name), nodes, deps);
    let shape = chunks.iter().map(|c| c.iter().sum()).collect();
    Ok(Array::from_meta(Meta::new(
        name,
        U::DTYPE,
        shape,
        chunks,
        Body::Layer(layer),
    )))
}

impl<T: Element> Array<T> {
    /// Apply `f` to every block; the result has the same chunks (use
    /// [`Array::map_blocks_func`] when blocks change shape).
    ///
    /// A closure runs in this process (the local schedulers). A function registered with
    /// `#[brisk::func]` (or `register!`) runs anywhere, a cluster's workers included: its
    /// tasks call it by name.
    pub fn map_blocks<U: Element, F>(&self, f: F) -> Result<Array<U>>
    where
        F: Fn(&ArrayD<T>) -> ArrayD<U> + Send + Sync + 'static,
    {
        self.meta.require_known("map_blocks")?;
        let func = Func::registered::<F>().unwrap_or_else(|| wrap1(f));
        blocks_layer(
            "map_blocks",
            std::slice::from_ref(&self.meta),
            func,
            self.meta.chunks.clone(),
        )
    }

    /// Apply a [`Func`] (taking one block, returning a `Value` holding an `ArrayD<U>`) to every
    /// block, with the result's chunk sizes given.
    pub fn map_blocks_func<U: Element>(
        &self,
        func: Func,
        chunks: Vec<Vec<usize>>,
    ) -> Result<Array<U>> {
        self.meta.require_known("map_blocks")?;
        if chunks.iter().map(Vec::len).collect::<Vec<_>>() != self.meta.numblocks() {
            return Err(ArrayError::invalid(
                "chunks",
                "map_blocks keeps the number of blocks along each axis",
            ));
        }
        blocks_layer("map_blocks", std::slice::from_ref(&self.meta), func, chunks)
    }

    /// A stencil: apply `f` to each block extended by `depth[axis]` elements of its neighbours
    /// (with `boundary` beyond the edges), then trim the halo from the result. `f` must return
    /// a block of the extended block's shape. As with [`Array::map_blocks`], a closure runs
    /// in this process and a `#[brisk::func]` function anywhere (a cluster's workers too).
    pub fn map_overlap<U: Element, F>(
        &self,
        depth: &[usize],
        boundary: Boundary<T>,
        f: F,
    ) -> Result<Array<U>>
    where
        F: Fn(&ArrayD<T>) -> ArrayD<U> + Send + Sync + 'static,
    {
        let m = &self.meta;
        m.require_known("map_overlap")?;
        let n = m.ndim();
        if depth.len() != n {
            return Err(ArrayError::invalid(
                "depth",
                format!("{} depths for {n} axes", depth.len()),
            ));
        }
        for (a, &d) in depth.iter().enumerate() {
            if d > m.shape[a] {
                return Err(ArrayError::invalid(
                    "depth",
                    format!("{d} is deeper than axis {a} of length {}", m.shape[a]),
                ));
            }
        }
        let func = Func::registered::<F>().unwrap_or_else(|| wrap1(f));
        let offsets = m.offsets();
        let name = tokenize("overlap");
        let fill = match boundary {
            Boundary::Constant(v) => Some(v.to_scalar()),
            _ => None,
        };
        // Per axis and block: the segments of the extended interval, its length, and where the
        // block itself starts in it.
        type Seg = (usize, usize, usize, isize, usize);
        let per_axis: Vec<Vec<(Vec<Seg>, usize, usize)>> = (0..n)
            .map(|a| {
                let len = m.shape[a] as isize;
                let d = depth[a] as isize;
                (0..m.chunks[a].len())
                    .map(|b| {
                        let (s, e) = (offsets[a][b] as isize, offsets[a][b + 1] as isize);
                        let (lo, hi) = match boundary {
                            Boundary::None => ((s - d).max(0), (e + d).min(len)),
                            _ => (s - d, e + d),
                        };
                        let mut segs = Vec::new();
                        let mut add = |g0: usize, g1: usize, rev: bool, out: usize| {
                            for (blk, ls, le, o) in overlaps(&offsets[a], g0, g1) {
                                let at = if rev {
                                    out + (g1 - g0) - (o + (le - ls))
                                } else {
                                    out + o
                                };
                                segs.push((blk, ls, le, if rev { -1 } else { 1 }, at));
                            }
                        };
                        let inner_lo = lo.max(0);
                        let inner_hi = hi.min(len);
                        add(
                            inner_lo as usize,
                            inner_hi as usize,
                            false,
                            (inner_lo - lo) as usize,
                        );
                        let left = (-lo).max(0) as usize;
                        let right = (hi - len).max(0) as usize;
                        let n_ = len as usize;
                        match boundary {
                            Boundary::Periodic => {
                                if left > 0 {
                                    add(n_ - left, n_, false, 0);
                                }
                                if right > 0 {
                                    add(0, right, false, (hi - lo) as usize - right);
                                }
                            }
                            Boundary::Reflect => {
                                if left > 0 {
                                    add(0, left, true, 0);
                                }
                                if right > 0 {
                                    add(n_ - right, n_, true, (hi - lo) as usize - right);
                                }
                            }
                            _ => {}
                        }
                        (segs, (hi - lo) as usize, (s - lo) as usize)
                    })
                    .collect()
            })
            .collect();
        let mut nodes = Vec::new();
        for_each_block(&m.numblocks(), |idx| {
            let axes: Vec<&(Vec<Seg>, usize, usize)> =
                (0..n).map(|a| &per_axis[a][idx[a]]).collect();
            let ext: Vec<usize> = axes.iter().map(|x| x.1).collect();
            let counts: Vec<usize> = axes.iter().map(|x| x.0.len()).collect();
            let mut keys: Vec<Vec<usize>> = Vec::new();
            let mut pieces = Vec::new();
            for_each_block(&counts, |sel| {
                let segs: Vec<&Seg> = (0..n).map(|a| &axes[a].0[sel[a]]).collect();
                let in_idx: Vec<usize> = segs.iter().map(|s| s.0).collect();
                let slot = match keys.iter().position(|k| *k == in_idx) {
                    Some(p) => p,
                    None => {
                        keys.push(in_idx);
                        keys.len() - 1
                    }
                };
                pieces.push(Piece {
                    slot: slot as u32,
                    slices: segs.iter().map(|s| (s.1, s.2, s.3)).collect(),
                    out_start: segs.iter().map(|s| s.4).collect(),
                    out_shape: segs.iter().map(|s| s.2 - s.1).collect(),
                });
            });
            let crop: Vec<(usize, usize)> = (0..n)
                .map(|a| (axes[a].2, axes[a].2 + m.chunks[a][idx[a]]))
                .collect();
            let assemble = assemble_task(m, ext, pieces, keys, fill);
            let applied = Task {
                func: func.clone(),
                args: vec![Arg::Task(Box::new(assemble))],
            };
            let Node::Task(mut crop_task) =
                chunk_task(U::DTYPE, ChunkOp::Crop(crop), Key::from("x"), "trim")
            else {
                return;
            };
            crop_task.args[1] = Arg::Task(Box::new(applied));
            nodes.push((keyed(&name, idx), Node::Task(crop_task)));
        });
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![m.layer()?]);
        let _ = chunks::known;
        Ok(Array::from_meta(Meta::new(
            name,
            U::DTYPE,
            m.shape.clone(),
            m.chunks.clone(),
            Body::Layer(layer),
        )))
    }
}

/// Apply `f` to the blocks of several arrays of one shape, block by block (chunks are lined up
/// first). `f` gets the blocks in the order of `arrays` and returns a block of the same shape.
///
/// A closure runs in this process (the local schedulers). A function marked `#[brisk::func]`
/// (`fn f(blocks: &[&ArrayD<f64>]) -> ArrayD<f64>`: its `&[&T]` parameter receives every
/// block of a task, borrowed) runs anywhere, a cluster's workers included: its tasks call it
/// by name with one block per array. See [`blockwise_func`] for function values with bound
/// parameters.
///
/// ```
/// use brisk_array as da;
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let a = da::arange(6, 2)?;
/// let b = da::arange(6, 3)?;
/// let c = da::blockwise(&[&a, &b], |xs| xs[0] * xs[1] + 1)?;
/// assert_eq!(c.compute()?.into_raw_vec_and_offset().0, [1, 2, 5, 10, 17, 26]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn blockwise<T: Element, U: Element, F>(arrays: &[&Array<T>], f: F) -> Result<Array<U>>
where
    F: Fn(&[&ArrayD<T>]) -> ArrayD<U> + Send + Sync + 'static,
{
    let func = Func::registered::<F>().unwrap_or_else(|| {
        Func::raw("blockwise", move |args: &[Value]| {
            let blocks = args
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.downcast_ref::<ArrayD<T>>().map_err(|m| {
                        TaskFailure::msg(format!("blockwise: block of array {i}: {m}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::new(f(&blocks)))
        })
    });
    blockwise_func(arrays, func)
}

/// [`blockwise`] with a function value: a registered function (its name travels, so the tasks
/// run on a cluster's workers), or one with bound parameters (`Func::by_name(..).bind(..)`,
/// its parameters travel as literals). The function gets its bound arguments, then one
/// block per array in the order of `arrays` (a `#[brisk::func]` function takes them as a last
/// `&[&ArrayD<T>]` parameter, or as one `&ArrayD<T>` parameter per array), and returns a block
/// (an `ArrayD<U>`) of the same shape. A function of the wrong arity or types fails the task
/// with an error naming it.
///
/// ```
/// use brisk_array as da;
/// use brisk_core::{Collection, Func, TaskFailure, TypeMismatch, Value};
/// use ndarray::ArrayD;
/// # brisk_local::LocalScheduler::threaded();
/// // What `#[brisk::func]` registers for `fn scaled_sum(k: i64, blocks: &[&ArrayD<i64>])`.
/// let f = Func::raw("scaled_sum", |args: &[Value]| {
///     let [k, a, b] = args else {
///         return Err(TaskFailure::msg("scaled_sum takes k and two blocks"));
///     };
///     let bad = |m: TypeMismatch| TaskFailure::bad_argument(m.to_string());
///     let k = k.get::<i64>().map_err(bad)?;
///     let a = a.downcast_ref::<ArrayD<i64>>().map_err(bad)?;
///     let b = b.downcast_ref::<ArrayD<i64>>().map_err(bad)?;
///     Ok(Value::new((a + b) * k))
/// });
/// let a = da::arange(4, 2)?;
/// let c = da::blockwise_func::<i64, i64>(&[&a, &a], f.bind(vec![Value::from(10i64)]))?;
/// assert_eq!(c.compute()?.into_raw_vec_and_offset().0, [0, 20, 40, 60]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn blockwise_func<T: Element, U: Element>(
    arrays: &[&Array<T>],
    func: Func,
) -> Result<Array<U>> {
    let first = arrays
        .first()
        .ok_or_else(|| ArrayError::invalid("arrays", "blockwise needs at least one array"))?;
    let mut common = first.meta.chunks.clone();
    for a in arrays {
        a.meta.require_known("blockwise")?;
        if a.shape() != first.shape() {
            return Err(ArrayError::ShapeMismatch {
                op: "blockwise",
                expected: first.shape().to_vec(),
                found: a.shape().to_vec(),
            });
        }
        for (d, c) in common.iter_mut().enumerate() {
            *c = chunks::common_refinement(c, &a.meta.chunks[d]);
        }
    }
    let metas = arrays
        .iter()
        .map(|a| crate::rechunk::rechunk_meta(&a.meta, common.clone()))
        .collect::<Result<Vec<_>>>()?;
    blocks_layer("blockwise", &metas, func, common)
}
