//! Writing arrays chunk by chunk: [`Array::store`] into any [`ChunkSink`], and the file
//! formats as methods (`to_npy`, `to_hdf5`, `to_zarr`).

use std::sync::Arc;

use brisk_core::{ComputeOptions, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::ArrayD;

use crate::array::{Array, for_each_block};
use crate::dtype::Element;
use crate::error::{ArrayError, Result};
use crate::io::UrlPath;

/// Anything that can take the chunks of an array, one region at a time (from several threads
/// at once).
pub trait ChunkSink<T: Element>: Send + Sync + 'static {
    /// Write `chunk`, whose first element is at `start`.
    fn write(
        &self,
        start: &[usize],
        chunk: &ArrayD<T>,
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

impl<T: Element> Array<T> {
    /// Compute the array and hand every chunk to `sink` as soon as it is ready (Dask's
    /// `store`); the whole array is never in memory.
    pub fn store(&self, sink: impl ChunkSink<T>) -> Result<()> {
        let meta = &self.meta;
        meta.require_known("store")?;
        let sink: Arc<dyn ChunkSink<T>> = Arc::new(sink);
        let name = tokenize("store");
        let offsets = meta.offsets();
        let mut nodes = Vec::new();
        let mut keys = Vec::new();
        for_each_block(&meta.numblocks(), |idx| {
            let start: Vec<usize> = idx
                .iter()
                .enumerate()
                .map(|(a, &i)| offsets[a][i])
                .collect();
            let s = Arc::clone(&sink);
            let func = brisk_core::Func::raw("store", move |args: &[Value]| {
                let c = args
                    .first()
                    .ok_or_else(|| TaskFailure::msg("store: no chunk"))?
                    .downcast_ref::<ArrayD<T>>()
                    .map_err(|m| TaskFailure::msg(format!("store: {m}")))?;
                s.write(&start, c).map_err(TaskFailure::from_error)?;
                Ok(Value::new(()))
            });
            let key =
                Key::with_shared_name(&name, &idx.iter().map(|&i| i as u32).collect::<Vec<_>>());
            nodes.push((
                key.clone(),
                Node::Task(Task {
                    func,
                    args: vec![brisk_core::Arg::Key(meta.key(idx))],
                }),
            ));
            keys.push(key);
        });
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![meta.layer()?]);
        let graph = brisk_core::layer::materialize(&[&layer]);
        brisk_core::default_scheduler()?
            .get(&graph, &keys, &ComputeOptions::optimized())
            .map_err(ArrayError::from)?;
        Ok(())
    }

    /// Write a numpy `.npy` file chunk by chunk, to a local path or an object store URL
    /// (see [`crate::io::npy::write`]).
    pub fn to_npy(&self, location: impl Into<UrlPath>) -> Result<()> {
        crate::io::npy::write(self, location)
    }

    /// Write dataset `dataset` of an HDF5 file chunk by chunk (local files only; needs the
    /// `hdf5` feature, otherwise [`crate::ArrayError::FeatureDisabled`]).
    pub fn to_hdf5(&self, location: impl Into<UrlPath>, dataset: &str) -> Result<()> {
        crate::io::hdf5::write(self, location, dataset)
    }

    /// Write a Zarr v3 array chunk by chunk, to a local directory or an object store prefix.
    #[cfg(feature = "zarr")]
    pub fn to_zarr(&self, location: impl Into<UrlPath>) -> Result<()> {
        crate::io::zarr::write(self, location)
    }
}
