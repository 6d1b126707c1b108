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

use std::sync::Arc;

use brisk_core::{Arg, ComputeOptions, Key, Layer, Node, Task, TaskFailure, Value, tokenize};

use crate::array::{Array, BlockwiseBody, Meta, for_each_block};
use crate::dtype::Element;
use crate::error::Result;
use crate::eval::ChunkLoc;

/// A lazy array of `shape` in `chunks`, each chunk read by the registered kernel `kernel`
/// from `target` (a file or dataset description); `label` names the layer.
pub(crate) fn source_array<T: Element>(
    label: &'static str,
    kernel: crate::kernels::Kernel,
    target: Value,
    shape: Vec<usize>,
    chunks: Vec<Vec<usize>>,
) -> Array<T> {
    let name = tokenize(label);
    let body = BlockwiseBody {
        name: Arc::clone(&name),
        chunks: chunks.clone(),
        func: crate::kernels::func(kernel, label),
        program: target,
        inputs: vec![],
        extra: vec![],
    };
    let layer = Layer::new(Arc::clone(&name), body, vec![]);
    Array::from_layer(name, shape, chunks, layer)
}

/// Compute the array described by `meta` and write each chunk with the registered kernel
/// `kernel`, called as `(target, chunk location, chunk)`: one task per chunk, so no step holds
/// the whole array. `label` names the layer.
pub(crate) fn store_chunks(
    meta: &Meta,
    label: &'static str,
    kernel: crate::kernels::Kernel,
    target: Value,
) -> Result<()> {
    let name = tokenize(label);
    let func = crate::kernels::func(kernel, label);
    let offsets = meta.offsets();
    let mut nodes = Vec::new();
    let mut keys = Vec::new();
    for_each_block(&meta.numblocks(), |idx| {
        let idx32: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
        let key = Key::with_shared_name(&name, &idx32);
        nodes.push((
            key.clone(),
            Node::Task(Task {
                func: func.clone(),
                args: vec![
                    Arg::Literal(target.clone()),
                    Arg::Literal(Value::new(meta.loc(idx, &offsets))),
                    Arg::Key(meta.key(idx)),
                ],
            }),
        ));
        keys.push(key);
    });
    let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![meta.layer()?]);
    let graph = brisk_core::layer::materialize(&[&layer]);
    brisk_core::default_scheduler()?.get(&graph, &keys, &ComputeOptions::optimized())?;
    Ok(())
}

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
