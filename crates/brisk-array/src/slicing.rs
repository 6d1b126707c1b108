//! Basic indexing: ranges with steps (negative too), integers, new axes — numpy's `x[a:b:c, i,
//! None]`. Each output chunk is a strided piece of exactly one input chunk.

use std::sync::Arc;

use brisk_core::{Key, Layer, tokenize};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::chunks;
use crate::dtype::Element;
use crate::error::{ArrayError, Result};
use crate::rechunk::{Piece, assemble_node};

/// One index of [`Array::slice`]: numpy's `start:stop:step`, an integer, or `None` (a new
/// axis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idx {
    /// `start:stop:step` (negative positions count from the end).
    Range {
        /// First position (default: the start, or the end for a negative step).
        start: Option<isize>,
        /// Stop position, excluded.
        stop: Option<isize>,
        /// Step (not 0).
        step: isize,
    },
    /// One position; the axis is dropped.
    Index(isize),
    /// A new axis of length one.
    NewAxis,
}

impl Idx {
    /// `:`
    pub fn all() -> Idx {
        Idx::Range {
            start: None,
            stop: None,
            step: 1,
        }
    }
    /// `start:stop`
    pub fn range(start: isize, stop: isize) -> Idx {
        Idx::Range {
            start: Some(start),
            stop: Some(stop),
            step: 1,
        }
    }
    /// `start:stop:step` with optional ends.
    pub fn step(start: Option<isize>, stop: Option<isize>, step: isize) -> Idx {
        Idx::Range { start, stop, step }
    }
}

/// Python's `slice.indices`: first index, step, count.
fn resolve(
    start: Option<isize>,
    stop: Option<isize>,
    step: isize,
    len: usize,
) -> (isize, isize, usize) {
    let n = len as isize;
    let clamp = |v: isize, lo: isize, hi: isize| v.max(lo).min(hi);
    let norm = |v: isize| if v < 0 { v + n } else { v };
    let (s, e) = if step > 0 {
        (
            start.map(|v| clamp(norm(v), 0, n)).unwrap_or(0),
            stop.map(|v| clamp(norm(v), 0, n)).unwrap_or(n),
        )
    } else {
        (
            start.map(|v| clamp(norm(v), -1, n - 1)).unwrap_or(n - 1),
            stop.map(|v| clamp(norm(v), -1, n - 1)).unwrap_or(-1),
        )
    };
    let count = if step > 0 {
        if e > s { (e - s + step - 1) / step } else { 0 }
    } else if s > e {
        (s - e + (-step) - 1) / (-step)
    } else {
        0
    };
    (s, step, count as usize)
}

/// Pieces along one axis: (input block, local start, local end, step, output length).
type AxisPieces = Vec<(usize, usize, usize, isize, usize)>;

fn axis_pieces(off: &[usize], s: isize, step: isize, count: usize) -> AxisPieces {
    let mut out = Vec::new();
    let nblocks = off.len() - 1;
    if count == 0 {
        return vec![(0, 0, 0, 1, 0)];
    }
    let k = step.unsigned_abs();
    let s = s as usize;
    let blocks: Vec<usize> = if step > 0 {
        (0..nblocks).collect()
    } else {
        (0..nblocks).rev().collect()
    };
    for b in blocks {
        let (bs, be) = (off[b], off[b + 1]);
        if be == bs {
            continue;
        }
        let (first, last) = if step > 0 {
            let first = if s >= bs { 0 } else { (bs - s).div_ceil(k) };
            if s > be - 1 {
                continue;
            }
            let last = ((be - 1 - s) / k).min(count - 1);
            (first, last)
        } else {
            let first = if s < be {
                0
            } else {
                (s - (be - 1)).div_ceil(k)
            };
            if s < bs {
                continue;
            }
            let last = ((s - bs) / k).min(count - 1);
            (first, last)
        };
        if first > last {
            continue;
        }
        let g = |i: usize| if step > 0 { s + i * k } else { s - i * k };
        let (lo, hi) = if step > 0 {
            (g(first) - bs, g(last) - bs + 1)
        } else {
            (g(last) - bs, g(first) - bs + 1)
        };
        out.push((b, lo, hi, step, last - first + 1));
    }
    out
}

impl<T: Element> Array<T> {
    /// numpy's basic indexing: `x.slice(&[Idx::range(2, 10), Idx::Index(-1), Idx::NewAxis])` is
    /// `x[2:10, -1, None]`. Missing trailing indices mean `:`.
    pub fn slice(&self, index: &[Idx]) -> Result<Array<T>> {
        let m = &self.meta;
        m.require_known("slice")?;
        let n = m.ndim();
        let given = index.iter().filter(|i| !matches!(i, Idx::NewAxis)).count();
        if given > n {
            return Err(ArrayError::TooManyIndices { ndim: n, given });
        }
        let mut idx: Vec<Idx> = index.to_vec();
        idx.extend(std::iter::repeat_n(Idx::all(), n - given));
        let offsets = m.offsets();
        // Per input axis: its pieces, or a fixed (block, local) for an integer.
        enum In {
            Pieces(AxisPieces),
            Fixed(usize, usize),
        }
        let mut ins: Vec<In> = Vec::with_capacity(n);
        // Output axes: Some(input axis) or None for a new axis.
        let mut outs: Vec<Option<usize>> = Vec::new();
        let mut a = 0;
        for i in &idx {
            match *i {
                Idx::NewAxis => outs.push(None),
                Idx::Index(v) => {
                    let len = m.shape[a];
                    let p = if v < 0 { v + len as isize } else { v };
                    if p < 0 || p >= len as isize {
                        return Err(ArrayError::IndexOutOfRange {
                            axis: a,
                            index: v,
                            dim: len,
                        });
                    }
                    let p = p as usize;
                    let b = offsets[a].partition_point(|&o| o <= p) - 1;
                    ins.push(In::Fixed(b, p - offsets[a][b]));
                    a += 1;
                }
                Idx::Range { start, stop, step } => {
                    if step == 0 {
                        return Err(ArrayError::invalid("slice step", "a slice step of 0"));
                    }
                    let (s, st, count) = resolve(start, stop, step, m.shape[a]);
                    ins.push(In::Pieces(axis_pieces(&offsets[a], s, st, count)));
                    outs.push(Some(a));
                    a += 1;
                }
            }
        }
        let out_chunks: Vec<Vec<usize>> = outs
            .iter()
            .map(|o| match o {
                None => vec![1],
                Some(a) => match &ins[*a] {
                    In::Pieces(p) => p.iter().map(|x| x.4).collect(),
                    In::Fixed(..) => vec![1],
                },
            })
            .collect();
        let shape: Vec<usize> = out_chunks.iter().map(|c| c.iter().sum()).collect();
        let name = tokenize("getitem");
        let nb: Vec<usize> = out_chunks.iter().map(Vec::len).collect();
        let mut nodes = Vec::new();
        for_each_block(&nb, |oidx| {
            let mut in_idx = vec![0usize; n];
            let mut slices = vec![(0usize, 0usize, 1isize); n];
            for (a, inn) in ins.iter().enumerate() {
                if let In::Fixed(b, l) = inn {
                    in_idx[a] = *b;
                    slices[a] = (*l, *l + 1, 1);
                }
            }
            for (o, src) in outs.iter().enumerate() {
                if let Some(a) = src
                    && let In::Pieces(p) = &ins[*a]
                {
                    let (b, lo, hi, st, _) = p[oidx[o]];
                    in_idx[*a] = b;
                    slices[*a] = (lo, hi, st);
                }
            }
            let out_shape: Vec<usize> = oidx
                .iter()
                .enumerate()
                .map(|(o, &i)| out_chunks[o][i])
                .collect();
            let piece = Piece {
                slot: 0,
                slices,
                out_start: vec![0; out_shape.len()],
                out_shape: out_shape.clone(),
            };
            let idx32: Vec<u32> = oidx.iter().map(|&i| i as u32).collect();
            nodes.push((
                Key::with_shared_name(&name, &idx32),
                assemble_node(m, out_shape, vec![(in_idx, piece)]),
            ));
        });
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![m.layer()?]);
        let _ = chunks::known;
        Ok(Array::from_meta(Meta::new(
            name,
            T::DTYPE,
            shape,
            out_chunks,
            Body::Layer(layer),
        )))
    }
}
