//! Writing a `.npy` file to an object store: one multipart upload whose parts are bands of
//! whole rows, each put by its own task (see [`super::npy::write`]).
//!
//! The file is C-ordered, so the bytes of rows `r0..r1` (along axis 0) are one contiguous
//! range of the object: the part for those rows depends on every chunk whose rows meet
//! `r0..r1`, copies each chunk's share into place and puts the part. Parts are about
//! [`TARGET_PART`] bytes (at least half that: S3 wants 5 MiB for every part but the last),
//! larger for huge arrays so that there are at most about 9000 (S3 allows 10000), and end at
//! the chunk grid's band boundaries where possible so that a part seldom waits for two bands
//! of chunks.

use std::sync::Arc;

use brisk_core::{Arg, ComputeOptions, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use brisk_io::{MIN_PART_SIZE, Upload, UploadedPart};
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::UrlPath;
use super::npy::runs;
use crate::array::{Array, for_each_block};
use crate::dtype::{DType, Element, with_dtype};
use crate::error::{ArrayError, Result};
use crate::eval::ChunkLoc;

crate::kernels::kernel! {
    /// `(part, chunk…) -> UploadedPart`
    pub(crate) WRITE_PART = "brisk_array::npy_write_part" => crate::io::npy_parts::write_part_kernel
}

/// The size parts are cut at, at least.
const TARGET_PART: u64 = 16 << 20;

/// One part of the upload: rows `rows.0..rows.1` of the array (as a 2-d view: axis 0 by
/// everything else), after `header` (the first part only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NpyPart {
    upload: Upload,
    index: usize,
    dtype: DType,
    /// The array's shape (a 0-d array is written as shape `[1]`).
    shape: Vec<usize>,
    rows: (usize, usize),
    header: Vec<u8>,
    /// Where each input chunk sits (in the same `[1]` convention for 0-d arrays).
    locs: Vec<ChunkLoc>,
}
brisk_core::data!(NpyPart, serde);

/// Cut rows `0..n` into parts: `bounds` are the chunk grid's band boundaries along axis 0
/// (starting at 0, ending at `n`), `row_bytes` the bytes of one row, `head` the header's.
///
/// A part ends at the first band boundary between half and twice the target size; a band
/// longer than that is split evenly; bands shorter than that are grouped.
pub(crate) fn plan_parts(bounds: &[usize], row_bytes: u64, head: u64) -> Vec<(usize, usize)> {
    let n = bounds.last().copied().unwrap_or(0);
    let total = head + n as u64 * row_bytes;
    let target = TARGET_PART.max(total.div_ceil(4500));
    let row_bytes = row_bytes.max(1);
    let rows_per = target.div_ceil(row_bytes).max(1) as usize;
    let min_rows = (target / 2).max(MIN_PART_SIZE).div_ceil(row_bytes).max(1) as usize;
    let mut out = Vec::new();
    let mut r = 0;
    while r < n {
        let (lo, hi) = (r + min_rows, r.saturating_add(2 * rows_per));
        let next = bounds.iter().copied().find(|&b| b > r).unwrap_or(n);
        let e = if let Some(b) = bounds.iter().copied().find(|&b| b >= lo && b <= hi) {
            b
        } else if next > hi {
            // A long band: split what is left of it evenly.
            let k = (next - r).div_ceil(rows_per);
            r + (next - r).div_ceil(k)
        } else {
            r + rows_per
        };
        let e = e.min(n);
        out.push((r, e));
        r = e;
    }
    if out.is_empty() {
        out.push((0, 0));
    }
    out
}

/// Write `array` to the object `location` by a multipart upload (`head`: the `.npy` header).
pub(crate) fn write_object<T: Element>(
    array: &Array<T>,
    location: &UrlPath,
    head: Vec<u8>,
) -> Result<()> {
    let meta = &array.meta;
    let storage = location.storage();
    let url = location.url();
    if array.size() == 0 {
        storage.write_all(url, &head)?;
        return Ok(());
    }
    // A 0-d array is a 1-d array of one element for the purposes of layout.
    let zero_d = meta.shape.is_empty();
    let shape = if zero_d { vec![1] } else { meta.shape.clone() };
    let offsets = meta.offsets();
    let bounds: Vec<usize> = if zero_d {
        vec![0, 1]
    } else {
        offsets[0].clone()
    };
    let row_bytes = (shape[1..].iter().product::<usize>() * T::DTYPE.itemsize()) as u64;
    let parts = plan_parts(&bounds, row_bytes, head.len() as u64);
    let upload = storage.create_upload(url)?;
    tracing::debug!(url, parts = parts.len(), "writing .npy by multipart upload");

    let numblocks = meta.numblocks();
    let name = tokenize("store-npy-part");
    let func = crate::kernels::func(WRITE_PART, "store-npy");
    let mut nodes = Vec::new();
    let mut keys = Vec::new();
    for (index, &(r0, r1)) in parts.iter().enumerate() {
        // Bands of chunks along axis 0 that meet rows r0..r1.
        let bands: Vec<usize> = (0..bounds.len() - 1)
            .filter(|&i| bounds[i] < r1.max(r0 + 1) && bounds[i + 1] > r0)
            .collect();
        let mut locs = Vec::new();
        let mut args = Vec::new();
        let rest: Vec<usize> = numblocks.iter().skip(1).copied().collect();
        for &band in &bands {
            for_each_block(&rest, |tail| {
                let idx: Vec<usize> = if zero_d {
                    vec![]
                } else {
                    std::iter::once(band).chain(tail.iter().copied()).collect()
                };
                let mut loc = meta.loc(&idx, &offsets);
                if zero_d {
                    loc = ChunkLoc {
                        start: vec![0],
                        shape: vec![1],
                    };
                }
                locs.push(loc);
                args.push(Arg::Key(meta.key(&idx)));
            });
        }
        let part = NpyPart {
            upload: upload.clone(),
            index,
            dtype: T::DTYPE,
            shape: shape.clone(),
            rows: (r0, r1),
            header: if index == 0 { head.clone() } else { vec![] },
            locs,
        };
        args.insert(0, Arg::Literal(Value::new(part)));
        let key = Key::with_shared_name(&name, &[index as u32]);
        nodes.push((
            key.clone(),
            Node::Task(Task {
                func: func.clone(),
                args,
            }),
        ));
        keys.push(key);
    }
    let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![meta.layer()?]);
    let graph = brisk_core::layer::materialize(&[&layer]);
    let run = || -> Result<Vec<UploadedPart>> {
        let values =
            brisk_core::default_scheduler()?.get(&graph, &keys, &ComputeOptions::optimized())?;
        values
            .iter()
            .map(|v| {
                v.downcast_ref::<UploadedPart>()
                    .cloned()
                    .map_err(|m| ArrayError::invalid("uploaded part", m.to_string()))
            })
            .collect()
    };
    match run().and_then(|done| Ok(upload.complete(done)?)) {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Err(abort) = upload.abort() {
                tracing::warn!(url, error = %abort, "could not abort a failed upload");
            }
            Err(e)
        }
    }
}

fn part_typed<T: Element>(p: &NpyPart, chunks: &[Value]) -> Result<UploadedPart> {
    let (r0, r1) = p.rows;
    let item = T::DTYPE.itemsize();
    let inner: usize = p.shape[1..].iter().product();
    let mut buf = Vec::with_capacity(p.header.len() + (r1 - r0) * inner * item);
    buf.extend_from_slice(&p.header);
    let head = buf.len();
    buf.resize(head + (r1 - r0) * inner * item, 0);
    // The part as an array of its own: rows r0..r1 by the rest.
    let mut part_shape = p.shape.clone();
    part_shape[0] = r1 - r0;
    let mut bytes = Vec::new();
    for (loc, chunk) in p.locs.iter().zip(chunks) {
        let a = chunk
            .downcast_ref::<ArrayD<T>>()
            .map_err(|m| ArrayError::invalid("chunk", m.to_string()))?;
        if a.len() != loc.shape.iter().product::<usize>() {
            return Err(ArrayError::ShapeMismatch {
                op: "npy write",
                expected: loc.shape.clone(),
                found: a.shape().to_vec(),
            });
        }
        let (c0, c1) = (loc.start[0], loc.start[0] + loc.shape[0]);
        let (a0, a1) = (c0.max(r0), c1.min(r1));
        if a0 >= a1 {
            continue;
        }
        let chunk_inner: usize = loc.shape[1..].iter().product();
        let std = a.as_standard_layout();
        let data = std.as_slice().unwrap_or(&[]);
        let data = &data[(a0 - c0) * chunk_inner..(a1 - c0) * chunk_inner];
        let mut region = loc.clone();
        region.start[0] = a0 - r0;
        region.shape[0] = a1 - a0;
        let mut at = 0;
        for (flat, len) in runs(&part_shape, &region) {
            bytes.clear();
            T::write_le(&data[at..at + len], &mut bytes);
            let o = head + flat * item;
            buf[o..o + bytes.len()].copy_from_slice(&bytes);
            at += len;
        }
    }
    Ok(p.upload.put_part(p.index, buf)?)
}

pub(crate) fn write_part_kernel(args: &[Value]) -> std::result::Result<Value, TaskFailure> {
    let Some((p, chunks)) = args.split_first() else {
        return Err(TaskFailure::msg("npy part: expected a part and its chunks"));
    };
    let p = p
        .downcast_ref::<NpyPart>()
        .map_err(|m| TaskFailure::msg(m.to_string()))?;
    if chunks.len() != p.locs.len() {
        return Err(TaskFailure::msg(format!(
            "npy part: {} chunks for {} locations",
            chunks.len(),
            p.locs.len()
        )));
    }
    with_dtype!(p.dtype, T => Ok(Value::new(part_typed::<T>(p, chunks)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_rows_and_respect_the_minimum() {
        for (bounds, row_bytes, head) in [
            (vec![0, 10], 8u64, 128u64),
            (vec![0, 1000, 2000, 2500], 80_000, 128),
            (vec![0, 3, 6, 9, 12], 4 << 20, 128),
            ((0..=100).map(|i| i * 7).collect::<Vec<_>>(), 1 << 16, 128),
        ] {
            let parts = plan_parts(&bounds, row_bytes, head);
            let n = *bounds.last().unwrap();
            assert_eq!(parts.first().unwrap().0, 0);
            assert_eq!(parts.last().unwrap().1, n);
            for w in parts.windows(2) {
                assert_eq!(w[0].1, w[1].0);
            }
            for (i, &(a, b)) in parts.iter().enumerate() {
                let size = (b - a) as u64 * row_bytes + if i == 0 { head } else { 0 };
                assert!(
                    i + 1 == parts.len() || size >= MIN_PART_SIZE,
                    "{bounds:?}: part {i} has {size} bytes"
                );
            }
            assert!(parts.len() <= brisk_io::MAX_PARTS);
        }
        // Band boundaries are preferred when bands are big enough.
        let parts = plan_parts(&[0, 100, 200, 300], 100_000, 128);
        assert_eq!(parts, vec![(0, 100), (100, 200), (200, 300)]);
    }
}
