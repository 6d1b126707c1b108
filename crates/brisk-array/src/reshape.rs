//! `reshape`: rows of the input are regrouped so that every block holds whole rows of the
//! output, then each block is reshaped on its own (C order is preserved block by block).

use std::sync::Arc;

use brisk_core::{Key, Layer, tokenize};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::dtype::Element;
use crate::error::{ArrayError, Result};
use crate::shape::{ChunkOp, chunk_task};

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl<T: Element> Array<T> {
    /// The same elements in C order with another shape; one length may be `-1` (inferred).
    pub fn reshape(&self, shape: &[isize]) -> Result<Array<T>> {
        let m = &self.meta;
        m.require_known("reshape")?;
        let total: usize = m.shape.iter().product();
        let known: usize = shape
            .iter()
            .filter(|&&d| d >= 0)
            .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
            .ok_or_else(|| {
                ArrayError::invalid(
                    "shape",
                    format!("{shape:?} has more elements than this machine can address"),
                )
            })?;
        let holes = shape.iter().filter(|&&d| d < 0).count();
        if holes > 1 || shape.iter().any(|&d| d < -1) {
            return Err(ArrayError::invalid(
                "shape",
                format!("{shape:?}: only one length may be -1"),
            ));
        }
        let out: Vec<usize> = shape
            .iter()
            .map(|&d| {
                if d < 0 {
                    total.checked_div(known).unwrap_or(0)
                } else {
                    d as usize
                }
            })
            .collect();
        if out.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(total) {
            return Err(ArrayError::invalid(
                "shape",
                format!(
                    "cannot reshape an array of {total} elements {:?} into {shape:?}",
                    m.shape
                ),
            ));
        }
        if out == m.shape {
            return Ok(self.clone());
        }
        let n = m.ndim();
        // Rows: the first axis; a row is everything after it.
        let row_in: usize = m.shape.iter().skip(1).product();
        let row_out: usize = out.iter().skip(1).product();
        let single = n == 0 || out.is_empty() || total == 0 || row_in == 0 || row_out == 0;
        let want: Vec<Vec<usize>> = if single {
            m.shape.iter().map(|&d| vec![d]).collect()
        } else {
            let q0 = row_out / gcd(row_in, row_out);
            let typical = m.chunks[0].iter().copied().max().unwrap_or(1);
            let q = (q0 * (typical / q0).max(1)).min(m.shape[0].max(1));
            let q = q.div_ceil(q0) * q0;
            let mut c = vec![crate::chunks::regular(m.shape[0], q)];
            c.extend(m.shape.iter().skip(1).map(|&d| vec![d]));
            c
        };
        let src = crate::rechunk::rechunk_meta(m, want)?;
        let out_chunks: Vec<Vec<usize>> = if single {
            out.iter().map(|&d| vec![d]).collect()
        } else {
            let mut c = vec![
                src.chunks[0]
                    .iter()
                    .map(|&r| r * row_in / row_out)
                    .collect::<Vec<_>>(),
            ];
            c.extend(out.iter().skip(1).map(|&d| vec![d]));
            c
        };
        let name = tokenize("reshape");
        let mut nodes = Vec::new();
        let nb: Vec<usize> = out_chunks.iter().map(Vec::len).collect();
        let in_nb = src.numblocks();
        for_each_block(&nb, |idx| {
            let cshape: Vec<usize> = idx
                .iter()
                .enumerate()
                .map(|(a, &i)| out_chunks[a][i])
                .collect();
            let mut sidx = vec![0usize; in_nb.len()];
            if !single && !sidx.is_empty() {
                sidx[0] = idx[0];
            }
            let idx32: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
            nodes.push((
                Key::with_shared_name(&name, &idx32),
                chunk_task(
                    T::DTYPE,
                    ChunkOp::Reshape(cshape),
                    src.key(&sidx),
                    "reshape",
                ),
            ));
        });
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![src.layer()?]);
        Ok(Array::from_meta(Meta::new(
            name,
            T::DTYPE,
            out,
            out_chunks,
            Body::Layer(layer),
        )))
    }

    /// Flatten to one axis (C order).
    pub fn ravel(&self) -> Result<Array<T>> {
        self.reshape(&[-1])
    }
}
