//! [`Item`]: one lazy value computed from a bag (a count, a sum, a fold's result).

use std::marker::PhantomData;
use std::sync::Arc;

use brisk_core::{Collection, Error, Key, Layer, Value};

/// A single lazy result of a bag reduction, like dask's `Item`: compute it with
/// [`Collection::compute`], or together with others with [`brisk_core::compute`].
pub struct Item<T> {
    pub(crate) key: Key,
    pub(crate) layer: Arc<Layer>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Item<T> {
    fn clone(&self) -> Self {
        Item {
            key: self.key.clone(),
            layer: Arc::clone(&self.layer),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Item<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Item({})", self.key)
    }
}

impl<T> Item<T> {
    pub(crate) fn new(key: Key, layer: Arc<Layer>) -> Self {
        Item {
            key,
            layer,
            _t: PhantomData,
        }
    }

    /// The key of the result in the graph.
    pub fn key(&self) -> &Key {
        &self.key
    }
}

impl<T: Clone + Send + Sync + 'static> Collection for Item<T> {
    type Output = T;

    fn layers(&self) -> Vec<Arc<Layer>> {
        vec![Arc::clone(&self.layer)]
    }

    fn output_keys(&self) -> Vec<Key> {
        vec![self.key.clone()]
    }

    fn finalize(&self, values: Vec<Value>) -> Result<T, Error> {
        let v = values.into_iter().next().ok_or(Error::Cancelled)?;
        let arc = v.downcast_arc::<T>().map_err(|mismatch| Error::WrongType {
            key: self.key.clone(),
            mismatch,
        })?;
        Ok(Arc::unwrap_or_clone(arc))
    }
}
