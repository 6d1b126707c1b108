//! Zarr arrays (format 3 and 2) through the `zarrs` crate, read and written one chunk per
//! task. Writing uses the brisk chunks as the Zarr chunk grid (or shard grid, with sharding;
//! irregular chunks are made regular first), so tasks never touch the same Zarr chunk.
//!
//! Reading takes what zarr-python writes: format 3 with `bytes`, `zstd` (its default),
//! `gzip`, `blosc`, `transpose`, `crc32c` and `sharding_indexed`; format 2 with the `zstd`,
//! `blosc` (zarr-python 2's default), `gzip` and `zlib` compressors, in C or F order.
//! [`write()`] writes format 3 with zstd like zarr-python; [`write_with`] and [`ZarrOptions`]
//! choose the format, the compressor, a transpose and sharding.
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
use zarrs::array::{Array as ZArray, DataType, data_type};
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

/// Write `array` as a Zarr array in directory (created) or object store prefix `location`,
/// one task per chunk, as zarr-python does by default: format 3, zstd level 0.
pub fn write<T: Element>(array: &Array<T>, location: impl Into<UrlPath>) -> Result<()> {
    write_with(array, location, &ZarrOptions::default())
}

/// Which Zarr format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZarrFormat {
    /// Zarr format 2 (`.zarray`, numcodecs compressors).
    V2,
    /// Zarr format 3 (`zarr.json`, codec pipeline).
    #[default]
    V3,
}

/// Blosc's byte shuffle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BloscShuffle {
    /// No shuffle.
    None,
    /// Byte shuffle (zarr-python 2's default).
    Byte,
    /// Bit shuffle.
    Bit,
}

/// How chunks are compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compressor {
    /// Raw bytes.
    None,
    /// Zstandard at `level` (zarr-python 3's default is level 0).
    Zstd {
        /// Compression level.
        level: i32,
    },
    /// gzip at `level` (0-9).
    Gzip {
        /// Compression level.
        level: u32,
    },
    /// Blosc with compressor `cname` (`lz4`, `lz4hc`, `blosclz`, `zstd`, `zlib`) at `clevel`
    /// (0-9); zarr-python 2 used `lz4`, level 5, byte shuffle.
    Blosc {
        /// The inner compressor.
        cname: String,
        /// Compression level.
        clevel: u8,
        /// The shuffle.
        shuffle: BloscShuffle,
    },
}

/// How [`write_with`] lays out a Zarr array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZarrOptions {
    /// The format (default 3).
    pub format: ZarrFormat,
    /// The compressor (default zstd level 0).
    pub compressor: Compressor,
    /// Sharding (format 3): the inner chunk shape. Each brisk chunk (rounded up to a multiple
    /// of it) becomes one shard, written by one task.
    pub shard_inner_chunks: Option<Vec<usize>>,
    /// A `transpose` codec (format 3): the axis order in which chunk bytes are stored
    /// (`[1, 0]` stores a 2-D chunk column-major).
    pub transpose: Option<Vec<usize>>,
}

impl Default for ZarrOptions {
    fn default() -> Self {
        ZarrOptions {
            format: ZarrFormat::V3,
            compressor: Compressor::Zstd { level: 0 },
            shard_inner_chunks: None,
            transpose: None,
        }
    }
}

fn v2_dtype(d: DType) -> &'static str {
    match d {
        DType::Bool => "|b1",
        DType::U8 => "|u1",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U64 => "<u8",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    }
}

fn fill_json(d: DType) -> serde_json::Value {
    match d {
        DType::Bool => serde_json::json!(false),
        DType::F32 | DType::F64 => serde_json::json!(0.0),
        _ => serde_json::json!(0),
    }
}

/// The metadata document of a new array (`zarr.json` or `.zarray`), checked against `options`.
fn metadata_json(
    dtype: DType,
    shape: &[usize],
    chunk_shape: &[usize],
    options: &ZarrOptions,
) -> Result<serde_json::Value> {
    use serde_json::json;
    let shuffle = |s: BloscShuffle| match s {
        BloscShuffle::None => 0,
        BloscShuffle::Byte => 1,
        BloscShuffle::Bit => 2,
    };
    if let Compressor::Blosc { cname, clevel, .. } = &options.compressor {
        if !["lz4", "lz4hc", "blosclz", "zstd", "zlib"].contains(&cname.as_str()) {
            return Err(ArrayError::invalid(
                "compressor",
                format!("blosc cname {cname:?} is not one of lz4, lz4hc, blosclz, zstd, zlib"),
            ));
        }
        if *clevel > 9 {
            return Err(ArrayError::invalid(
                "compressor",
                format!("blosc clevel {clevel} is above 9"),
            ));
        }
    }
    if let Compressor::Gzip { level } = options.compressor
        && level > 9
    {
        return Err(ArrayError::invalid(
            "compressor",
            format!("gzip level {level} is above 9"),
        ));
    }
    match options.format {
        ZarrFormat::V2 => {
            if options.shard_inner_chunks.is_some() || options.transpose.is_some() {
                return Err(ArrayError::invalid(
                    "options",
                    "sharding and transpose codecs exist in Zarr format 3 only",
                ));
            }
            let compressor = match &options.compressor {
                Compressor::None => serde_json::Value::Null,
                Compressor::Zstd { level } => json!({"id": "zstd", "level": level}),
                Compressor::Gzip { level } => json!({"id": "gzip", "level": level}),
                Compressor::Blosc {
                    cname,
                    clevel,
                    shuffle: s,
                } => json!({
                    "id": "blosc", "cname": cname, "clevel": clevel, "shuffle": shuffle(*s), "blocksize": 0
                }),
            };
            Ok(json!({
                "zarr_format": 2,
                "shape": shape,
                "chunks": chunk_shape,
                "dtype": v2_dtype(dtype),
                "compressor": compressor,
                "fill_value": fill_json(dtype),
                "order": "C",
                "filters": null,
                "dimension_separator": ".",
            }))
        }
        ZarrFormat::V3 => {
            let compress = match &options.compressor {
                Compressor::None => vec![],
                Compressor::Zstd { level } => {
                    vec![
                        json!({"name": "zstd", "configuration": {"level": level, "checksum": false}}),
                    ]
                }
                Compressor::Gzip { level } => {
                    vec![json!({"name": "gzip", "configuration": {"level": level}})]
                }
                Compressor::Blosc {
                    cname,
                    clevel,
                    shuffle: s,
                } => vec![json!({
                    "name": "blosc",
                    "configuration": {
                        "cname": cname, "clevel": clevel,
                        "shuffle": match s { BloscShuffle::None => "noshuffle", BloscShuffle::Byte => "shuffle", BloscShuffle::Bit => "bitshuffle" },
                        "typesize": dtype.itemsize(), "blocksize": 0
                    }
                })],
            };
            let mut codecs = Vec::new();
            if let Some(order) = &options.transpose {
                let mut sorted = order.clone();
                sorted.sort_unstable();
                if sorted != (0..shape.len()).collect::<Vec<_>>() {
                    return Err(ArrayError::invalid(
                        "transpose",
                        format!("{order:?} is not a permutation of the {} axes", shape.len()),
                    ));
                }
                codecs.push(json!({"name": "transpose", "configuration": {"order": order}}));
            }
            let bytes = json!({"name": "bytes", "configuration": {"endian": "little"}});
            let inner: Vec<serde_json::Value> =
                std::iter::once(bytes.clone()).chain(compress).collect();
            match &options.shard_inner_chunks {
                None => codecs.extend(inner),
                Some(sub) => codecs.push(json!({
                    "name": "sharding_indexed",
                    "configuration": {
                        "chunk_shape": sub,
                        "codecs": inner,
                        "index_codecs": [bytes, {"name": "crc32c"}],
                        "index_location": "end",
                    }
                })),
            }
            Ok(json!({
                "zarr_format": 3,
                "node_type": "array",
                "shape": shape,
                "data_type": zdtype_name(dtype),
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk_shape}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": fill_json(dtype),
                "codecs": codecs,
                "attributes": {},
            }))
        }
    }
}

fn zdtype_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "bool",
        DType::U8 => "uint8",
        DType::I32 => "int32",
        DType::I64 => "int64",
        DType::U64 => "uint64",
        DType::F32 => "float32",
        DType::F64 => "float64",
    }
}

/// Write `array` as a Zarr array at `location` with `options`: the format, the compressor,
/// a transpose and sharding. One task per brisk chunk, which is one Zarr chunk (or shard).
///
/// ```
/// use brisk_array::io::zarr::{self, Compressor, ZarrFormat, ZarrOptions};
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let dir = tempfile::tempdir()?;
/// let x = brisk_array::RandomState::new(1).random([30, 20], [10, 8])?;
/// let v2_blosc = ZarrOptions {
///     format: ZarrFormat::V2,
///     compressor: Compressor::Blosc { cname: "lz4".into(), clevel: 5, shuffle: zarr::BloscShuffle::Byte },
///     ..ZarrOptions::default()
/// };
/// zarr::write_with(&x, dir.path().join("x.zarr"), &v2_blosc)?;
/// let sharded = ZarrOptions { shard_inner_chunks: Some(vec![5, 4]), ..ZarrOptions::default() };
/// zarr::write_with(&x, dir.path().join("s.zarr"), &sharded)?;
/// for name in ["x.zarr", "s.zarr"] {
///     assert_eq!(zarr::read::<f64>(dir.path().join(name), "auto")?.compute()?, x.compute()?);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_with<T: Element>(
    array: &Array<T>,
    location: impl Into<UrlPath>,
    options: &ZarrOptions,
) -> Result<()> {
    array.meta.require_known("to_zarr")?;
    let location = location.into();
    if let Some(path) = location.local_path()? {
        std::fs::create_dir_all(&path).map_err(|e| ArrayError::io("cannot create", &path, e))?;
    }
    let mut size: Vec<usize> = array.chunksize().iter().map(|&c| c.max(1)).collect();
    if let Some(sub) = &options.shard_inner_chunks {
        if sub.len() != array.ndim() || sub.contains(&0) {
            return Err(ArrayError::invalid(
                "shard_inner_chunks",
                format!(
                    "{sub:?} must give a positive inner chunk length for each of the {} axes",
                    array.ndim()
                ),
            ));
        }
        // A shard holds whole inner chunks.
        for (c, &s) in size.iter_mut().zip(sub) {
            *c = c.div_ceil(s) * s;
        }
    }
    let regular: Vec<Vec<usize>> = array
        .shape()
        .iter()
        .zip(&size)
        .map(|(&d, &c)| chunks::regular(d, c))
        .collect();
    let meta = crate::rechunk::rechunk_meta(&array.meta, regular)?;
    let doc = metadata_json(T::DTYPE, &meta.shape, &size, options)?;
    let parsed: zarrs::metadata::ArrayMetadata = serde_json::from_value(doc).map_err(|e| {
        ArrayError::invalid("options", format!("zarr metadata could not be made: {e}"))
    })?;
    let store = store(&location)?;
    let za = ZArray::new_with_metadata(store, "/", parsed).map_err(|e| zerr(&location, e))?;
    za.store_metadata().map_err(|e| zerr(&location, e))?;
    let z = Value::new(ZarrArray {
        location,
        dtype: T::DTYPE,
    });
    super::store_chunks(&meta, "store-zarr", WRITE, z)
}
