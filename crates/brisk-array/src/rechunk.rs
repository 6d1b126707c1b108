//! Rechunking, and the "assemble pieces of input chunks into an output chunk" kernel that
//! rechunking, slicing and concatenation share.
//!
//! An expression is rechunked by rechunking only its input arrays: generated leaves (ranges,
//! random numbers, constants) do not care how they are chunked. An array with chunk keys gets
//! one task per output chunk that copies the overlapping parts of the input chunks; an output
//! chunk that equals an input chunk is an alias (no task, no copy).

use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::{ArrayD, IxDyn, Slice};
use serde::{Deserialize, Serialize};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::chunks::{self, ChunkSpec, offsets};
use crate::dtype::{DType, Element, with_dtype};
use crate::error::{ArrayError, Result};
use crate::expr::Expr;

crate::kernels::kernel! {
    /// `(spec, pieces…) -> chunk`
    pub(crate) ASSEMBLE = "brisk_array::assemble" => crate::rechunk::assemble_kernel
}

/// One piece of an output chunk: a strided slice of input `slot`, placed at `out_start` with
/// `out_shape` (which may drop or add axes of length one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Piece {
    /// Which input chunk.
    pub slot: u32,
    /// Per input axis: `start, end, step` (ndarray's semantics: a negative step walks
    /// `start..end` backwards).
    pub slices: Vec<(usize, usize, isize)>,
    /// Where the piece goes in the output chunk.
    pub out_start: Vec<usize>,
    /// The piece's shape in the output.
    pub out_shape: Vec<usize>,
}

/// How to build one output chunk from pieces of input chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssembleSpec {
    /// Element type.
    pub dtype: DType,
    /// The output chunk's shape.
    pub out_shape: Vec<usize>,
    /// The pieces.
    pub pieces: Vec<Piece>,
    /// The value of elements no piece covers (zero when `None`).
    #[serde(default)]
    pub fill: Option<crate::dtype::ScalarValue>,
}
brisk_core::data!(AssembleSpec, serde);

fn assemble_typed<T: Element>(
    spec: &AssembleSpec,
    inputs: &[Value],
) -> Result<ArrayD<T>, TaskFailure> {
    let fill = spec.fill.and_then(T::from_scalar).unwrap_or_default();
    let mut out = ArrayD::from_elem(IxDyn(&spec.out_shape), fill);
    for p in &spec.pieces {
        let input = inputs
            .get(p.slot as usize)
            .ok_or_else(|| TaskFailure::msg(format!("assemble: no input {}", p.slot)))?
            .downcast_ref::<ArrayD<T>>()
            .map_err(|m| TaskFailure::msg(format!("assemble: {m}")))?;
        if p.slices.len() != input.ndim()
            || p.slices
                .iter()
                .zip(input.shape())
                .any(|(&(s, e, st), &d)| s > e || e > d || st == 0)
            || p.out_start.len() != spec.out_shape.len()
            || p.out_shape.len() != spec.out_shape.len()
            || p.out_start
                .iter()
                .zip(&p.out_shape)
                .zip(&spec.out_shape)
                .any(|((&s, &n), &d)| s + n > d)
        {
            return Err(TaskFailure::msg(format!(
                "assemble: piece {p:?} does not fit input {:?} / output {:?}",
                input.shape(),
                spec.out_shape
            )));
        }
        let v = input.slice_each_axis(|ad| {
            let (s, e, st) = p.slices[ad.axis.index()];
            Slice::new(s as isize, Some(e as isize), st)
        });
        let want: usize = p.out_shape.iter().product();
        if v.len() != want {
            return Err(TaskFailure::msg(format!(
                "assemble: piece of {} elements for a region of {want}",
                v.len()
            )));
        }
        let v = v
            .to_shape(IxDyn(&p.out_shape))
            .map_err(|e| TaskFailure::msg(format!("assemble: {e}")))?;
        out.slice_each_axis_mut(|ad| {
            let a = ad.axis.index();
            Slice::from(p.out_start[a]..p.out_start[a] + p.out_shape[a])
        })
        .assign(&v);
    }
    Ok(out)
}

/// `(spec, inputs…) -> chunk`
pub(crate) fn assemble_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [spec, inputs @ ..] = args else {
        return Err(TaskFailure::msg("assemble: expected a spec"));
    };
    let spec = spec
        .downcast_ref::<AssembleSpec>()
        .map_err(|m| TaskFailure::msg(format!("assemble: {m}")))?;
    with_dtype!(spec.dtype, T => Ok(Value::new(assemble_typed::<T>(spec, inputs)?)))
}

/// A task (or alias) producing one output chunk from pieces of `input`'s chunks. `pieces` holds
/// input block indices instead of slots.
pub(crate) fn assemble_node(
    input: &Meta,
    out_shape: Vec<usize>,
    pieces: Vec<(Vec<usize>, Piece)>,
) -> Node {
    // A whole input chunk, unchanged: an alias.
    if let [(idx, p)] = pieces.as_slice() {
        let whole = p
            .slices
            .iter()
            .enumerate()
            .all(|(a, &(s, e, st))| s == 0 && st == 1 && e == input.chunks[a][idx[a]]);
        if whole && p.out_shape == out_shape && input.ndim() == out_shape.len() {
            return Node::Alias(input.key(idx));
        }
    }
    let mut keys: Vec<Vec<usize>> = Vec::new();
    let mut spec_pieces = Vec::with_capacity(pieces.len());
    for (idx, mut p) in pieces {
        let slot = match keys.iter().position(|k| *k == idx) {
            Some(s) => s,
            None => {
                keys.push(idx);
                keys.len() - 1
            }
        };
        p.slot = slot as u32;
        spec_pieces.push(p);
    }
    Node::Task(assemble_task(input, out_shape, spec_pieces, keys, None))
}

/// The assemble task itself (pieces already carry slots into `keys`).
pub(crate) fn assemble_task(
    input: &Meta,
    out_shape: Vec<usize>,
    pieces: Vec<Piece>,
    keys: Vec<Vec<usize>>,
    fill: Option<crate::dtype::ScalarValue>,
) -> Task {
    let spec = AssembleSpec {
        dtype: input.dtype,
        out_shape,
        pieces,
        fill,
    };
    let mut args = vec![Arg::Literal(Value::new(spec))];
    args.extend(keys.iter().map(|k| Arg::Key(input.key(k))));
    Task {
        func: crate::kernels::func(ASSEMBLE, "getitem"),
        args,
    }
}

/// For one axis: the pieces `(input block, start, end within it, start within output)` that
/// make the output interval `[lo, hi)`.
pub(crate) fn overlaps(
    in_offsets: &[usize],
    lo: usize,
    hi: usize,
) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    if hi <= lo {
        return out;
    }
    // First block containing lo.
    let mut b = match in_offsets.binary_search(&lo) {
        Ok(i) => i,
        Err(i) => i.saturating_sub(1),
    };
    while b + 1 < in_offsets.len() && in_offsets[b] < hi {
        let bs = in_offsets[b];
        let be = in_offsets[b + 1];
        let s = lo.max(bs);
        let e = hi.min(be);
        if e > s {
            out.push((b, s - bs, e - bs, s - lo));
        }
        b += 1;
    }
    out
}

/// The default limit of input bytes one rechunk task may read (Dask's `block_size_limit`
/// plays the same role).
pub const RECHUNK_TASK_LIMIT: usize = 64 << 20;

/// `meta` with chunks `new` (same shape).
pub(crate) fn rechunk_meta(meta: &Arc<Meta>, new: Vec<Vec<usize>>) -> Result<Arc<Meta>> {
    rechunk_meta_limited(meta, new, RECHUNK_TASK_LIMIT)
}

/// The most input bytes one output chunk of `new` would read from chunks `old`.
fn max_task_input(old: &[Vec<usize>], new: &[Vec<usize>], itemsize: usize) -> (usize, usize) {
    let mut read = itemsize;
    let mut out = itemsize;
    for (o, n) in old.iter().zip(new) {
        let off = offsets(o);
        let noff = offsets(n);
        let mut worst = 0usize;
        for j in 0..n.len() {
            let s: usize = overlaps(&off, noff[j], noff[j + 1])
                .iter()
                .map(|p| o[p.0])
                .sum();
            worst = worst.max(s);
        }
        read = read.saturating_mul(worst.max(1));
        out = out.saturating_mul(n.iter().copied().max().unwrap_or(1).max(1));
    }
    (read, out)
}

/// The intermediate chunking of a two-stage rechunk: the common refinement of `old` and `new`,
/// coarsened. Along each axis, neighbouring cells inside one input chunk are merged (halving
/// the number of cells each round) as long as no output chunk then reads more than
/// `max(limit, what it reads from the refinement)`: so a stage-one task still reads one input
/// chunk, a stage-two task stays under the limit, and an all-to-all rechunk makes far fewer
/// than `in × out` pieces (Dask's planner bounds its intermediate chunks the same way).
fn intermediate_chunks(
    old: &[Vec<usize>],
    new: &[Vec<usize>],
    itemsize: usize,
    limit: usize,
) -> Vec<Vec<usize>> {
    let mut mid: Vec<Vec<usize>> = old
        .iter()
        .zip(new)
        .map(|(a, b)| chunks::common_refinement(a, b))
        .collect();
    let bound = limit.max(max_task_input(&mid, new, itemsize).0);
    let old_off: Vec<Vec<usize>> = old.iter().map(|c| offsets(c)).collect();
    let mut progress = true;
    while progress {
        progress = false;
        for a in 0..mid.len() {
            let merged = merge_pairs_within(&mid[a], &old_off[a]);
            if merged.len() == mid[a].len() {
                continue;
            }
            let prev = std::mem::replace(&mut mid[a], merged);
            if max_task_input(&mid, new, itemsize).0 <= bound {
                progress = true;
            } else {
                mid[a] = prev;
            }
        }
    }
    mid
}

/// `cells` with neighbours merged pairwise where no boundary of `bounds` (offsets) separates
/// them.
fn merge_pairs_within(cells: &[usize], bounds: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(cells.len().div_ceil(2));
    let mut pos = 0usize;
    let mut i = 0;
    while i < cells.len() {
        let end = pos + cells[i];
        if i + 1 < cells.len() && bounds.binary_search(&end).is_err() {
            out.push(cells[i] + cells[i + 1]);
            pos = end + cells[i + 1];
            i += 2;
        } else {
            out.push(cells[i]);
            pos = end;
            i += 1;
        }
    }
    out
}

/// [`rechunk_meta`] where no task reads more than `limit` bytes of input when it can be
/// avoided: past the limit (and past four times the output chunk), chunks are first cut to an
/// intermediate chunking ([`intermediate_chunks`]: each piece from one input chunk), then
/// merged (each output chunk from its own pieces).
pub(crate) fn rechunk_meta_limited(
    meta: &Arc<Meta>,
    new: Vec<Vec<usize>>,
    limit: usize,
) -> Result<Arc<Meta>> {
    rechunk_stages(meta, new, limit, true)
}

/// One rechunk, in two stages when `split` and the limit ask for it.
fn rechunk_stages(
    meta: &Arc<Meta>,
    new: Vec<Vec<usize>>,
    limit: usize,
    split: bool,
) -> Result<Arc<Meta>> {
    meta.check()?;
    if new.len() != meta.ndim() {
        return Err(ArrayError::ChunksNdim {
            given: new.len(),
            ndim: meta.ndim(),
        });
    }
    for (a, c) in new.iter().enumerate() {
        let sum: usize = c.iter().sum();
        if sum != meta.shape[a] {
            return Err(ArrayError::ChunksDoNotAddUp {
                axis: a,
                sum,
                dim: meta.shape[a],
            });
        }
    }
    if new == meta.chunks {
        return Ok(Arc::clone(meta));
    }
    meta.require_known("rechunk")?;
    match &meta.body {
        Body::Failed(e) => Err(e.clone()),
        Body::Expr(expr) => {
            let inputs = expr
                .inputs
                .iter()
                .map(|(m, v)| {
                    let want: Vec<Vec<usize>> = (0..m.ndim())
                        .map(|a| {
                            if v.bcast[a] {
                                m.chunks[a].clone()
                            } else {
                                new[v.out_axis(a)].clone()
                            }
                        })
                        .collect();
                    Ok((rechunk_meta(m, want)?, v.clone()))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Meta::new(
                tokenize(expr.program.label()),
                meta.dtype,
                meta.shape.clone(),
                new,
                Body::Expr(Expr {
                    program: Arc::clone(&expr.program),
                    inputs,
                }),
            ))
        }
        Body::Layer(_) => {
            let (read, out) = max_task_input(&meta.chunks, &new, meta.dtype.itemsize());
            if split && read > limit && read > 4 * out {
                let refined = intermediate_chunks(&meta.chunks, &new, meta.dtype.itemsize(), limit);
                if refined != new && refined != meta.chunks {
                    let mid = rechunk_stages(meta, refined, limit, false)?;
                    return rechunk_stages(&mid, new, limit, false);
                }
            }
            let name = tokenize("rechunk-merge");
            let in_off = meta.offsets();
            let out_off: Vec<Vec<usize>> = new.iter().map(|c| chunks::offsets(c)).collect();
            let nb: Vec<usize> = new.iter().map(Vec::len).collect();
            let mut nodes = Vec::new();
            for_each_block(&nb, |idx| {
                let per_axis: Vec<Vec<(usize, usize, usize, usize)>> = (0..meta.ndim())
                    .map(|a| overlaps(&in_off[a], out_off[a][idx[a]], out_off[a][idx[a] + 1]))
                    .collect();
                let out_shape: Vec<usize> = (0..meta.ndim()).map(|a| new[a][idx[a]]).collect();
                let mut pieces = Vec::new();
                let counts: Vec<usize> = per_axis.iter().map(Vec::len).collect();
                for_each_block(&counts, |sel| {
                    let in_idx: Vec<usize> = sel
                        .iter()
                        .enumerate()
                        .map(|(a, &s)| per_axis[a][s].0)
                        .collect();
                    let p = Piece {
                        slot: 0,
                        slices: sel
                            .iter()
                            .enumerate()
                            .map(|(a, &s)| (per_axis[a][s].1, per_axis[a][s].2, 1))
                            .collect(),
                        out_start: sel
                            .iter()
                            .enumerate()
                            .map(|(a, &s)| per_axis[a][s].3)
                            .collect(),
                        out_shape: sel
                            .iter()
                            .enumerate()
                            .map(|(a, &s)| per_axis[a][s].2 - per_axis[a][s].1)
                            .collect(),
                    };
                    pieces.push((in_idx, p));
                });
                let idx32: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
                nodes.push((
                    Key::with_shared_name(&name, &idx32),
                    assemble_node(meta, out_shape, pieces),
                ));
            });
            let deps = vec![meta.layer()?];
            let layer = Layer::from_nodes(Arc::clone(&name), nodes, deps);
            Ok(Meta::new(
                name,
                meta.dtype,
                meta.shape.clone(),
                new,
                Body::Layer(layer),
            ))
        }
    }
}

impl<T: Element> Array<T> {
    /// The same array with other chunks. Expressions over generated data only change how they
    /// are cut; stored chunks are copied piecewise into the new ones (each output chunk reads
    /// only the input chunks it overlaps).
    pub fn rechunk(&self, chunks: impl Into<ChunkSpec>) -> Result<Array<T>> {
        self.meta.require_known("rechunk")?;
        let new = chunks::normalize(&chunks.into(), &self.meta.shape, T::DTYPE.itemsize())?;
        Ok(Array::from_meta(rechunk_meta(&self.meta, new)?))
    }

    /// [`Array::rechunk`] where no task reads more than `limit` bytes of input chunks when the
    /// chunkings allow it (two stages through the common refinement past the limit; the
    /// default limit is [`RECHUNK_TASK_LIMIT`]).
    pub fn rechunk_with_limit(
        &self,
        chunks: impl Into<ChunkSpec>,
        limit: usize,
    ) -> Result<Array<T>> {
        self.meta.require_known("rechunk")?;
        let new = chunks::normalize(&chunks.into(), &self.meta.shape, T::DTYPE.itemsize())?;
        Ok(Array::from_meta(rechunk_meta_limited(
            &self.meta, new, limit,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intermediate_pieces_grow_up_to_the_limit() {
        // 20000^2 f64, rows of 100 -> columns of 100, 64 MiB: pieces of 100 x 400.
        let old = vec![vec![100; 200], vec![20000]];
        let new = vec![vec![20000], vec![100; 200]];
        let mid = intermediate_chunks(&old, &new, 8, RECHUNK_TASK_LIMIT);
        assert_eq!(mid, vec![vec![100; 200], vec![400; 50]]);
        assert!(max_task_input(&mid, &new, 8).0 <= RECHUNK_TASK_LIMIT);
        // Irregular cells never merge across an input boundary.
        assert_eq!(
            merge_pairs_within(&[1, 2, 3, 4, 5], &[0, 3, 15]),
            vec![3, 7, 5]
        );
    }
}
