//! Reading and writing arrays chunk by chunk: numpy's `.npy` files, HDF5 datasets (feature
//! `hdf5`, system libhdf5) and Zarr arrays (feature `zarr`).
//! Each read or write is one task per chunk (or per part of an object), so no step ever holds
//! the whole array.
//!
//! Files are named by [`UrlPath`]: a local path, or through brisk-io a `file://`, `s3://`,
//! `gs://`, `az://` or `http(s)://` URL. `.npy` and Zarr read and write object stores; HDF5
//! needs a local file (libhdf5 opens files itself), and any other URL is a clear error.

#[cfg(feature = "hdf5")]
pub mod hdf5;
pub mod npy;
pub(crate) mod npy_parts;
mod url;
#[cfg(feature = "zarr")]
pub mod zarr;

pub use url::UrlPath;

use brisk_core::{TaskFailure, Value};

use crate::eval::ChunkLoc;

fn typed<T: std::any::Any>(v: &Value) -> Result<&T, TaskFailure> {
    v.downcast_ref::<T>()
        .map_err(|m| TaskFailure::msg(m.to_string()))
}

/// The `(target, chunk location)` arguments of a read task; `expected` is the error for any
/// other shape.
pub(crate) fn read_args<'a, F: std::any::Any>(
    args: &'a [Value],
    expected: &str,
) -> Result<(&'a F, &'a ChunkLoc), TaskFailure> {
    let [target, loc] = args else {
        return Err(TaskFailure::msg(expected.to_string()));
    };
    Ok((typed::<F>(target)?, typed::<ChunkLoc>(loc)?))
}

/// The `(target, chunk location, chunk)` arguments of a write task; `expected` is the error
/// for any other shape.
pub(crate) fn write_args<'a, F: std::any::Any>(
    args: &'a [Value],
    expected: &str,
) -> Result<(&'a F, &'a ChunkLoc, &'a Value), TaskFailure> {
    let [target, loc, chunk] = args else {
        return Err(TaskFailure::msg(expected.to_string()));
    };
    Ok((typed::<F>(target)?, typed::<ChunkLoc>(loc)?, chunk))
}
