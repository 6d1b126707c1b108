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
