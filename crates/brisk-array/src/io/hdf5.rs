//! HDF5 datasets through the `hdf5-metno` crate (Debian's `libhdf5-dev`).
//!
//! ```no_run
//! use brisk_core::Collection;
//! let x = brisk_array::io::hdf5::read::<f64>("myfile.hdf5", "/x", "auto")?;
//! let y = &x - &x.mean_with(&brisk_array::ReduceOpts::axis(1).keepdims(true))?;
//! brisk_array::io::hdf5::write(&y, "out.hdf5", "y")?;
//! # Ok::<(), brisk_array::ArrayError>(())
//! ```

use std::path::PathBuf;

use brisk_core::{TaskFailure, Value};
use hdf5_metno as h5;
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use super::UrlPath;
use crate::array::Array;
use crate::chunks::{self, ChunkSpec};
use crate::dtype::{DType, Element, with_dtype};
use crate::error::{ArrayError, Result};
use crate::eval::ChunkLoc;

crate::kernels::kernel! {
    /// `(dataset, loc) -> chunk`
    pub(crate) READ = "brisk_array::hdf5_read" => crate::io::hdf5::read_kernel, label "read-hdf5"
}
crate::kernels::kernel! {
    /// `(dataset, loc, chunk) -> ()`
    pub(crate) WRITE = "brisk_array::hdf5_write" => crate::io::hdf5::write_kernel, label "store-hdf5"
}

/// A dataset in a file (what read and write tasks carry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hdf5Dataset {
    /// The file.
    pub path: PathBuf,
    /// The dataset's name in the file.
    pub dataset: String,
    /// Its element type.
    pub dtype: DType,
}
brisk_core::data!(Hdf5Dataset, serde);

fn h5err(ctx: &Hdf5Dataset, e: h5::Error) -> ArrayError {
    ArrayError::storage(
        format!("HDF5 dataset {} in {}", ctx.dataset, ctx.path.display()),
        e,
    )
}

fn dtype_of(d: &h5::Datatype) -> Option<DType> {
    use h5::types::{FloatSize, IntSize, TypeDescriptor as T};
    Some(match d.to_descriptor().ok()? {
        T::Boolean => DType::Bool,
        T::Unsigned(IntSize::U1) => DType::U8,
        T::Integer(IntSize::U4) => DType::I32,
        T::Integer(IntSize::U8) => DType::I64,
        T::Unsigned(IntSize::U8) => DType::U64,
        T::Float(FloatSize::U4) => DType::F32,
        T::Float(FloatSize::U8) => DType::F64,
        _ => return None,
    })
}

fn selection(loc: &ChunkLoc) -> h5::Hyperslab {
    let v: Vec<h5::SliceOrIndex> = loc
        .start
        .iter()
        .zip(&loc.shape)
        .map(|(&s, &n)| h5::SliceOrIndex::from(s..s + n))
        .collect();
    h5::Hyperslab::from(v)
}

/// A chunked array over dataset `dataset` of the HDF5 file at `location`, read one chunk per
/// task. `chunks` may be `"auto"`; the element type must match the dataset's. The file must be
/// local (a path or `file://` URL): libhdf5 opens files itself, so an object store URL is an
/// [`ArrayError::NotLocal`] error.
pub fn read<T: Element>(
    location: impl Into<UrlPath>,
    dataset: &str,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    let path = location.into().require_local("HDF5")?;
    let ctx = Hdf5Dataset {
        path: path.clone(),
        dataset: dataset.to_string(),
        dtype: T::DTYPE,
    };
    let file = h5::File::open(&path).map_err(|e| h5err(&ctx, e))?;
    let ds = file.dataset(dataset).map_err(|e| h5err(&ctx, e))?;
    let found = ds
        .dtype()
        .ok()
        .and_then(|d| dtype_of(&d))
        .ok_or_else(|| ArrayError::Format {
            path: path.clone(),
            format: "HDF5",
            reason: format!("dataset {dataset} has an element type brisk does not read"),
        })?;
    if found != T::DTYPE {
        return Err(ArrayError::WrongDType {
            what: format!("HDF5 dataset {dataset} in {}", path.display()),
            expected: T::DTYPE,
            found,
        });
    }
    let shape = ds.shape();
    let chunks = chunks::normalize(&chunks.into(), &shape, T::DTYPE.itemsize())?;
    Ok(super::source_array(
        "hdf5-read",
        READ,
        Value::new(ctx),
        shape,
        chunks,
    ))
}

fn read_typed<T: Element + h5::H5Type>(ctx: &Hdf5Dataset, loc: &ChunkLoc) -> Result<ArrayD<T>> {
    let file = h5::File::open(&ctx.path).map_err(|e| h5err(ctx, e))?;
    let ds = file.dataset(&ctx.dataset).map_err(|e| h5err(ctx, e))?;
    if loc.shape.is_empty() {
        let v: ArrayD<T> = ds.read_dyn().map_err(|e| h5err(ctx, e))?;
        return Ok(v);
    }
    let a: ArrayD<T> = ds
        .read_slice::<T, _, IxDyn>(selection(loc))
        .map_err(|e| h5err(ctx, e))?;
    if a.shape() != loc.shape.as_slice() {
        return Err(ArrayError::ShapeMismatch {
            op: "HDF5 read",
            expected: loc.shape.clone(),
            found: a.shape().to_vec(),
        });
    }
    Ok(a)
}

pub(crate) fn read_kernel(args: &[Value]) -> std::result::Result<Value, TaskFailure> {
    let (ctx, loc) =
        super::read_args::<Hdf5Dataset>(args, "hdf5 read: expected a dataset and a location")?;
    with_dtype!(ctx.dtype, T => Ok(Value::new(read_typed::<T>(ctx, loc)?)))
}

fn write_typed<T: Element + h5::H5Type>(
    ctx: &Hdf5Dataset,
    loc: &ChunkLoc,
    chunk: &Value,
) -> Result<()> {
    let a = chunk
        .downcast_ref::<ArrayD<T>>()
        .map_err(|m| ArrayError::invalid("chunk", m.to_string()))?;
    let file = h5::File::open_rw(&ctx.path).map_err(|e| h5err(ctx, e))?;
    let ds = file.dataset(&ctx.dataset).map_err(|e| h5err(ctx, e))?;
    if loc.shape.is_empty() {
        return ds.write(a).map_err(|e| h5err(ctx, e));
    }
    ds.write_slice(a, selection(loc)).map_err(|e| h5err(ctx, e))
}

pub(crate) fn write_kernel(args: &[Value]) -> std::result::Result<Value, TaskFailure> {
    let (ctx, loc, chunk) = super::write_args::<Hdf5Dataset>(
        args,
        "hdf5 write: expected a dataset, a location and a chunk",
    )?;
    with_dtype!(ctx.dtype, T => write_typed::<T>(ctx, loc, chunk)?);
    Ok(Value::new(()))
}

/// Write `array` to dataset `dataset` of the HDF5 file at `location` (created, or opened and
/// the dataset replaced), one task per chunk: chunks are computed and written as they come.
/// The file must be local, as for [`read`].
pub fn write<T: Element>(
    array: &Array<T>,
    location: impl Into<UrlPath>,
    dataset: &str,
) -> Result<()> {
    array.meta.require_known("to_hdf5")?;
    let path: PathBuf = location.into().require_local("HDF5")?;
    let ctx = Hdf5Dataset {
        path: path.clone(),
        dataset: dataset.to_string(),
        dtype: T::DTYPE,
    };
    {
        let file = if path.exists() {
            h5::File::open_rw(&path)
        } else {
            h5::File::create(&path)
        }
        .map_err(|e| h5err(&ctx, e))?;
        if file.link_exists(dataset) {
            file.unlink(dataset).map_err(|e| h5err(&ctx, e))?;
        }
        with_dtype!(T::DTYPE, U => {
            file.new_dataset::<U>()
                .shape(array.shape())
                .create(dataset)
                .map_err(|e| h5err(&ctx, e))?;
        });
    }
    super::store_chunks(&array.meta, "store-hdf5", WRITE, Value::new(ctx))
}
