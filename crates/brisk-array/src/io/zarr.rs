//! Zarr (v3) arrays through the `zarrs` crate, read and written one chunk per task. Writing
//! uses the brisk chunks as the Zarr chunk grid (irregular chunks are made regular first), so
//! tasks never touch the same Zarr chunk.
//!
//! The array lives in a local directory, or under a prefix of an object store
//! (`s3://bucket/x.zarr`, with the storage options of its [`UrlPath`]): local directories use
//! zarrs' filesystem store, objects go through brisk-io's object_store client
//! (`zarrs_object_store`), driven by brisk-io's runtime.
//!
//! ```
//! use brisk_core::Collection;
//! # brisk_local::LocalScheduler::threaded();
//! let dir = tempfile::tempdir()?;
//! let x = brisk_array::RandomState::new(1).random([30, 20], [10, 8])?;
//! brisk_array::io::zarr::write(&x, dir.path().join("x.zarr"))?;
//! let back = brisk_array::io::zarr::read::<f64>(dir.path().join("x.zarr"), "auto")?;
//! assert_eq!(back.chunks()[0], vec![10, 10, 10]);
//! assert_eq!(back.compute()?, x.compute()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ops::Range;
use std::sync::Arc;

use brisk_core::{TaskFailure, Value};
use brisk_io::object_store::prefix::PrefixStore;
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use zarrs::array::{Array as ZArray, ArrayBuilder, DataType, data_type};
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::ReadableWritableListableStorage;
use zarrs::storage::storage_adapter::async_to_sync::{
    AsyncToSyncBlockOn, AsyncToSyncStorageAdapter,
};
use zarrs_object_store::AsyncObjectStore;

use super::UrlPath;

use crate::array::Array;
use crate::chunks::{self, AxisChunks, ChunkSpec};
use crate::dtype::{DType, Element, with_dtype};
use crate::error::{ArrayError, Result};
use crate::eval::ChunkLoc;

crate::kernels::kernel! {
    /// `(store, loc) -> chunk`
    pub(crate) READ = "brisk_array::zarr_read" => crate::io::zarr::read_kernel, label "read-zarr"
}
crate::kernels::kernel! {
    /// `(store, loc, chunk) -> ()`
    pub(crate) WRITE = "brisk_array::zarr_write" => crate::io::zarr::write_kernel, label "store-zarr"
}

/// A Zarr array in a directory or under an object store prefix (what read and write tasks
/// carry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZarrArray {
    /// The directory or prefix.
    pub location: UrlPath,
    /// Element type.
    pub dtype: DType,
}
brisk_core::data!(ZarrArray, serde);

fn zerr(location: &UrlPath, e: impl std::error::Error + Send + Sync + 'static) -> ArrayError {
    ArrayError::storage(format!("Zarr array {location}"), e)
}

/// zarrs' synchronous API over object_store's futures, on brisk-io's runtime.
struct BriskBlockOn;

impl AsyncToSyncBlockOn for BriskBlockOn {
    fn block_on<F: core::future::Future>(&self, future: F) -> F::Output {
        brisk_io::block_on(future)
    }
}

/// The zarrs store for `location`: its directory, or its prefix in an object store.
fn store(location: &UrlPath) -> Result<ReadableWritableListableStorage> {
    if let Some(path) = location.local_path()? {
        let fs = FilesystemStore::new(&path).map_err(|e| zerr(location, e))?;
        return Ok(Arc::new(fs));
    }
    let (client, prefix) = location.storage().object_store(location.url())?;
    let prefixed = PrefixStore::new(client, prefix);
    Ok(Arc::new(AsyncToSyncStorageAdapter::new(
        Arc::new(AsyncObjectStore::new(prefixed)),
        BriskBlockOn,
    )))
}

fn zdtype(d: DType) -> DataType {
    match d {
        DType::Bool => data_type::bool(),
        DType::U8 => data_type::uint8(),
        DType::I32 => data_type::int32(),
        DType::I64 => data_type::int64(),
        DType::U64 => data_type::uint64(),
        DType::F32 => data_type::float32(),
        DType::F64 => data_type::float64(),
    }
}

type ZStore = dyn zarrs::storage::ReadableWritableListableStorageTraits;

fn open(location: &UrlPath) -> Result<ZArray<ZStore>> {
    ZArray::open(store(location)?, "/").map_err(|e| zerr(location, e))
}

/// A chunked array over the Zarr array in directory (or object store prefix) `location`.
/// `"auto"` chunks follow the Zarr chunk grid.
pub fn read<T: Element>(
    location: impl Into<UrlPath>,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    let location = location.into();
    let z = open(&location)?;
    let found = DType::ALL
        .into_iter()
        .find(|d| zdtype(*d) == *z.data_type())
        .ok_or_else(|| ArrayError::Format {
            path: location.display_path(),
            format: "Zarr",
            reason: format!("element type {:?} is not supported", z.data_type()),
        })?;
    if found != T::DTYPE {
        return Err(ArrayError::WrongDType {
            what: format!("Zarr array {location}"),
            expected: T::DTYPE,
            found,
        });
    }
    let shape: Vec<usize> = z.shape().iter().map(|&d| d as usize).collect();
    let mut spec = chunks.into();
    if spec == ChunkSpec::All(AxisChunks::Auto) && !shape.is_empty() {
        let zero = vec![0u64; shape.len()];
        if let Ok(c) = z.chunk_shape(&zero) {
            spec = ChunkSpec::PerAxis(
                c.iter()
                    .map(|d| AxisChunks::Size(d.get() as usize))
                    .collect(),
            );
        }
    }
    let chunks = chunks::normalize(&spec, &shape, T::DTYPE.itemsize())?;
    let target = Value::new(ZarrArray {
        location,
        dtype: T::DTYPE,
    });
    Ok(super::source_array(
        "read-zarr",
        READ,
        target,
        shape,
        chunks,
    ))
}

fn read_typed<T: Element + zarrs::array::ElementOwned>(
    z: &ZarrArray,
    loc: &ChunkLoc,
) -> Result<ArrayD<T>> {
    let a = open(&z.location)?;
    let subset: Vec<Range<u64>> = loc
        .start
        .iter()
        .zip(&loc.shape)
        .map(|(&s, &n)| s as u64..(s + n) as u64)
        .collect();
    let v: Vec<T> = a
        .retrieve_array_subset(&subset)
        .map_err(|e| zerr(&z.location, e))?;
    ArrayD::from_shape_vec(IxDyn(&loc.shape), v)
        .map_err(|e| ArrayError::invalid("chunk", e.to_string()))
}

pub(crate) fn read_kernel(args: &[Value]) -> std::result::Result<Value, TaskFailure> {
    let (z, loc) =
        super::read_args::<ZarrArray>(args, "zarr read: expected an array and a location")?;
    with_dtype!(z.dtype, T => Ok(Value::new(read_typed::<T>(z, loc)?)))
}

fn write_typed<T: Element + zarrs::array::Element>(
    z: &ZarrArray,
    loc: &ChunkLoc,
    chunk: &Value,
) -> Result<()> {
    let a = chunk
        .downcast_ref::<ArrayD<T>>()
        .map_err(|m| ArrayError::invalid("chunk", m.to_string()))?;
    let za = open(&z.location)?;
    let std = a.as_standard_layout();
    let data: Vec<T> = std.iter().copied().collect();
    // Edge chunks are smaller than the grid's, so write the region (one task per Zarr chunk,
    // so no two tasks touch one chunk).
    let subset: Vec<Range<u64>> = loc
        .start
        .iter()
        .zip(&loc.shape)
        .map(|(&s, &n)| s as u64..(s + n) as u64)
        .collect();
    za.store_array_subset(&subset, &data)
        .map_err(|e| zerr(&z.location, e))
}

pub(crate) fn write_kernel(args: &[Value]) -> std::result::Result<Value, TaskFailure> {
    let (z, loc, chunk) = super::write_args::<ZarrArray>(
        args,
        "zarr write: expected an array, a location and a chunk",
    )?;
    with_dtype!(z.dtype, T => write_typed::<T>(z, loc, chunk)?);
    Ok(Value::new(()))
}

/// Write `array` as a Zarr v3 array in directory (created) or object store prefix `location`,
/// one task per chunk.
pub fn write<T: Element>(array: &Array<T>, location: impl Into<UrlPath>) -> Result<()> {
    array.meta.require_known("to_zarr")?;
    let location = location.into();
    if let Some(path) = location.local_path()? {
        std::fs::create_dir_all(&path).map_err(|e| ArrayError::io("cannot create", &path, e))?;
    }
    let size = array.chunksize();
    let regular: Vec<Vec<usize>> = array
        .shape()
        .iter()
        .zip(&size)
        .map(|(&d, &c)| chunks::regular(d, c.max(1)))
        .collect();
    let meta = crate::rechunk::rechunk_meta(&array.meta, regular)?;
    let store = store(&location)?;
    let mut fill = Vec::new();
    T::write_le(&[T::default()], &mut fill);
    let shape: Vec<u64> = meta.shape.iter().map(|&d| d as u64).collect();
    let chunk_shape: Vec<u64> = size.iter().map(|&c| c.max(1) as u64).collect();
    let za = ArrayBuilder::new(
        shape,
        chunk_shape,
        zdtype(T::DTYPE),
        zarrs::array::FillValue::from(fill),
    )
    .build(store, "/")
    .map_err(|e| zerr(&location, e))?;
    za.store_metadata().map_err(|e| zerr(&location, e))?;
    let z = Value::new(ZarrArray {
        location,
        dtype: T::DTYPE,
    });
    super::store_chunks(&meta, "store-zarr", WRITE, z)
}
