//! numpy's `.npy` files (format 1.0/2.0, little-endian; C order, and Fortran order for
//! reading), read and written one chunk
//! per task: no step holds the whole array.
//!
//! Files are named by [`UrlPath`]: a local path or any URL brisk-io reads (`s3://…`). A
//! chunk is read as byte ranges, one per contiguous run of the chunk in the file: positioned
//! reads on one open file for local files, ranged requests (runs close together merged) for
//! objects. A local file is written with one positioned write per run as chunks are computed.
//! An object is written as a multipart upload whose parts are bands of whole rows (axis 0),
//! each part put by its own task as soon as the chunks it covers are computed, in any order:
//! memory stays bounded by a few bands, never the whole array (see [`write()`]).
//!
//! ```
//! use brisk_core::Collection;
//! # brisk_local::LocalScheduler::threaded();
//! let dir = tempfile::tempdir()?;
//! let p = dir.path().join("x.npy");
//! let x = brisk_array::arange_with(0.0, 12.0, 1.0, 5)?;
//! brisk_array::io::npy::write(&x, &p)?;
//! let back = brisk_array::io::npy::read::<f64>(&p, 4)?;
//! assert_eq!(back.compute()?, x.compute()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::os::unix::fs::FileExt;

use brisk_core::{TaskFailure, Value};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use super::UrlPath;
use crate::array::{Array, for_each_block};
use crate::chunks::{self, ChunkSpec};
use crate::dtype::{DType, Element, with_dtype};
use crate::error::{ArrayError, Result};
use crate::eval::ChunkLoc;

crate::kernels::kernel! {
    /// `(file, loc) -> chunk`
    pub(crate) READ = "brisk_array::npy_read" => crate::io::npy::read_kernel
}
crate::kernels::kernel! {
    /// `(file, loc, chunk) -> ()`
    pub(crate) WRITE = "brisk_array::npy_write" => crate::io::npy::write_kernel
}

/// An `.npy` file's layout (what read and write tasks carry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NpyFile {
    /// The file or object.
    pub location: UrlPath,
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
    /// Where the data starts.
    pub offset: u64,
    /// Whether the data is in Fortran (column-major) order: then it is laid out as the C-order
    /// array of the reversed shape, and a chunk is read as that array's region and transposed.
    #[serde(default)]
    pub fortran_order: bool,
}
brisk_core::data!(NpyFile, serde);

pub(crate) fn bad(location: &UrlPath, reason: impl Into<String>) -> ArrayError {
    ArrayError::Format {
        path: location.display_path(),
        format: ".npy",
        reason: reason.into(),
    }
}

/// How much of a file [`header`] reads at first (headers are usually 128 bytes).
const HEADER_PROBE: u64 = 4096;

/// Read the header of the `.npy` file at `location` (a path or URL).
pub fn header(location: impl Into<UrlPath>) -> Result<NpyFile> {
    let loc = location.into();
    let (url, storage) = (loc.url(), loc.storage());
    let mut head = storage.read_range(url, 0, HEADER_PROBE)?;
    let (hlen, start) = header_len(&loc, &head)?;
    let need = start + hlen;
    if (head.len() as u64) < need && head.len() as u64 == HEADER_PROBE {
        head.extend(storage.read_range(url, HEADER_PROBE, need - HEADER_PROBE)?);
    }
    parse_header(loc, &head)
}

/// The header's length and where it starts, from the preamble.
fn header_len(loc: &UrlPath, pre: &[u8]) -> Result<(u64, u64)> {
    if pre.len() < 10 {
        return Err(bad(loc, "too short for a header"));
    }
    if &pre[..6] != b"\x93NUMPY" {
        return Err(bad(loc, "missing the \\x93NUMPY magic"));
    }
    match pre[6] {
        1 => Ok((u64::from(u16::from_le_bytes([pre[8], pre[9]])), 10)),
        2 | 3 => {
            if pre.len() < 12 {
                return Err(bad(loc, "truncated header"));
            }
            Ok((
                u64::from(u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]])),
                12,
            ))
        }
        v => Err(bad(loc, format!("unsupported format version {v}"))),
    }
}

fn parse_header(loc: UrlPath, bytes: &[u8]) -> Result<NpyFile> {
    let (hlen, start) = header_len(&loc, bytes)?;
    let end = start + hlen;
    if (bytes.len() as u64) < end {
        return Err(bad(&loc, "truncated header"));
    }
    let h = String::from_utf8_lossy(&bytes[start as usize..end as usize]);
    let field = |k: &str| -> Option<String> {
        let i = h.find(&format!("'{k}'"))?;
        let rest = h[i + k.len() + 2..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        Some(rest.to_string())
    };
    let descr = field("descr").ok_or_else(|| bad(&loc, "no 'descr' in the header"))?;
    let descr = descr.trim_start_matches('\'');
    let descr = &descr[..descr.find('\'').unwrap_or(0)];
    let dtype = DType::from_npy_descr(descr)
        .ok_or_else(|| bad(&loc, format!("element type {descr:?} is not supported (little-endian bool, u8, i32, i64, u64, f32, f64 are)")))?;
    let fortran =
        field("fortran_order").ok_or_else(|| bad(&loc, "no 'fortran_order' in the header"))?;
    let fortran_order = fortran.starts_with("True");
    let shape_txt = field("shape").ok_or_else(|| bad(&loc, "no 'shape' in the header"))?;
    let inner = shape_txt
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(&loc, "malformed shape"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad(&loc, format!("malformed shape {inner:?}")))?;
    Ok(NpyFile {
        location: loc,
        dtype,
        shape,
        offset: end,
        fortran_order,
    })
}

/// Contiguous runs of a region in C order: (first flat index, length) pairs.
pub(crate) fn runs(shape: &[usize], loc: &ChunkLoc) -> Vec<(usize, usize)> {
    let n = shape.len();
    if n == 0 {
        return vec![(0, 1)];
    }
    if loc.shape.contains(&0) {
        return vec![];
    }
    // Axes after k are covered whole: each index prefix over axes 0..=k-1 plus the range on k
    // is one run.
    let mut k = n - 1;
    while k > 0 && loc.start[k] == 0 && loc.shape[k] == shape[k] {
        k -= 1;
    }
    let inner: usize = shape[k + 1..].iter().product();
    let mut strides = vec![1usize; n];
    for a in (0..n - 1).rev() {
        strides[a] = strides[a + 1] * shape[a + 1];
    }
    let mut out = Vec::new();
    let prefix: Vec<usize> = loc.shape[..k].to_vec();
    let mut pos = vec![0usize; k];
    for_each_block(&prefix.iter().map(|&d| d.max(1)).collect::<Vec<_>>(), |p| {
        pos.copy_from_slice(p);
        let mut flat = loc.start[k] * strides[k];
        for a in 0..k {
            flat += (loc.start[a] + pos[a]) * strides[a];
        }
        out.push((flat, loc.shape[k] * inner));
    });
    if k == 0 {
        out = vec![(loc.start[0] * strides[0], loc.shape[0] * inner)];
    }
    out
}

/// A chunked array over the `.npy` file at `location` (a local path or a URL such as
/// `s3://bucket/x.npy`), read one chunk per task.
pub fn read<T: Element>(
    location: impl Into<UrlPath>,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    let h = header(location)?;
    if h.dtype != T::DTYPE {
        return Err(ArrayError::WrongDType {
            what: h.location.url().to_string(),
            expected: T::DTYPE,
            found: h.dtype,
        });
    }
    let len = h.location.storage().size(h.location.url())?;
    let need = h.offset + (h.shape.iter().product::<usize>() * h.dtype.itemsize()) as u64;
    if len < need {
        return Err(bad(
            &h.location,
            format!("{len} bytes, but the header promises {need}"),
        ));
    }
    let shape = h.shape.clone();
    let chunks = chunks::normalize(&chunks.into(), &shape, T::DTYPE.itemsize())?;
    Ok(super::source_array(
        "read-npy",
        READ,
        Value::new(h),
        shape,
        chunks,
    ))
}

fn read_typed<T: Element>(h: &NpyFile, loc: &ChunkLoc) -> Result<ArrayD<T>> {
    // A Fortran-order file is the C-order array of the reversed shape: read the reversed
    // region of that, then reverse the axes back.
    let (shape, region) = if h.fortran_order {
        let rev = |v: &[usize]| v.iter().rev().copied().collect::<Vec<_>>();
        (
            rev(&h.shape),
            ChunkLoc {
                start: rev(&loc.start),
                shape: rev(&loc.shape),
            },
        )
    } else {
        (h.shape.clone(), loc.clone())
    };
    let item = T::DTYPE.itemsize();
    let total: usize = region.shape.iter().product();
    let mut bytes = vec![0u8; total * item];
    let byte_runs: Vec<(u64, usize)> = runs(&shape, &region)
        .into_iter()
        .map(|(flat, len)| (h.offset + (flat * item) as u64, len * item))
        .collect();
    h.location
        .storage()
        .read_ranges_into(h.location.url(), &byte_runs, &mut bytes)?;
    let v = T::read_le(&bytes).ok_or_else(|| bad(&h.location, "a bool byte other than 0 or 1"))?;
    let a = ArrayD::from_shape_vec(IxDyn(&region.shape), v)
        .map_err(|e| bad(&h.location, e.to_string()))?;
    Ok(if h.fortran_order {
        a.reversed_axes().as_standard_layout().into_owned()
    } else {
        a
    })
}

pub(crate) fn read_kernel(args: &[Value]) -> std::result::Result<Value, TaskFailure> {
    let (h, loc) = super::read_args::<NpyFile>(args, "npy read: expected a file and a location")?;
    with_dtype!(h.dtype, T => Ok(Value::new(read_typed::<T>(h, loc)?)))
}

fn write_typed<T: Element>(h: &NpyFile, loc: &ChunkLoc, chunk: &Value) -> Result<()> {
    let a = chunk
        .downcast_ref::<ArrayD<T>>()
        .map_err(|m| ArrayError::invalid("chunk", m.to_string()))?;
    if a.shape() != loc.shape.as_slice() {
        return Err(ArrayError::ShapeMismatch {
            op: "npy write",
            expected: loc.shape.clone(),
            found: a.shape().to_vec(),
        });
    }
    let path = h.location.require_local(".npy positioned write")?;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| ArrayError::io("cannot open", &path, e))?;
    let std = a.as_standard_layout();
    let data = std.as_slice().unwrap_or(&[]);
    let item = T::DTYPE.itemsize();
    let mut at = 0;
    let mut bytes = Vec::new();
    for (flat, len) in runs(&h.shape, loc) {
        bytes.clear();
        T::write_le(&data[at..at + len], &mut bytes);
        f.write_all_at(&bytes, h.offset + (flat * item) as u64)
            .map_err(|e| ArrayError::io("cannot write", &path, e))?;
        at += len;
    }
    Ok(())
}

pub(crate) fn write_kernel(args: &[Value]) -> std::result::Result<Value, TaskFailure> {
    let (h, loc, chunk) =
        super::write_args::<NpyFile>(args, "npy write: expected a file, a location and a chunk")?;
    with_dtype!(h.dtype, T => write_typed::<T>(h, loc, chunk)?);
    Ok(Value::new(()))
}

pub(crate) fn header_bytes(dtype: DType, shape: &[usize]) -> Vec<u8> {
    let shape_txt = match shape {
        [a] => format!("({a},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape_txt}, }}",
        dtype.npy_descr()
    );
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Write `array` as a `.npy` file at `location` (a local path or a URL such as
/// `s3://bucket/x.npy`), chunk by chunk as chunks are computed.
///
/// A local file is created at its full size and each chunk is written in place with one
/// positioned write per contiguous run. An object is written as one multipart upload: the
/// file is cut into parts of whole rows (axis 0) of 8 to 32 MiB (S3 wants 5 MiB), at band
/// boundaries of the chunk grid where possible; each part is a task that depends on the
/// chunks it covers and uploads as soon as they are computed, in any order. Memory is bounded
/// by the parts in flight and the chunks they wait for (about one band of chunks along axis 0
/// per running part), never the whole array. A failed write aborts the upload.
pub fn write<T: Element>(array: &Array<T>, location: impl Into<UrlPath>) -> Result<()> {
    let meta = &array.meta;
    meta.require_known("to_npy")?;
    let location = location.into();
    let head = header_bytes(T::DTYPE, &meta.shape);
    let Some(path) = location.local_path()? else {
        return super::npy_parts::write_object(array, &location, head);
    };
    let total = head.len() as u64 + (array.size() * T::DTYPE.itemsize()) as u64;
    {
        let f = File::create(&path).map_err(|e| ArrayError::io("cannot create", &path, e))?;
        f.write_all_at(&head, 0)
            .map_err(|e| ArrayError::io("cannot write", &path, e))?;
        f.set_len(total)
            .map_err(|e| ArrayError::io("cannot size", &path, e))?;
    }
    let h = Value::new(NpyFile {
        location: location.clone(),
        dtype: T::DTYPE,
        shape: meta.shape.clone(),
        offset: head.len() as u64,
        fortran_order: false,
    });
    super::store_chunks(meta, "store-npy", WRITE, h)
}
