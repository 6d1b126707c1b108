//! The [`Collection`] trait: what `compute()`, `visualize()` and multi-collection
//! [`compute`](fn@compute) need from a lazy collection (delayed values, arrays, dataframes,
//! bags).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::layer::{self, Layer};
use crate::scheduler::{ComputeOptions, default_scheduler};
use crate::{Graph, Key, Value};

/// A lazy collection: some layers of graph, the keys that hold its pieces, and how to assemble
/// the pieces into a result.
pub trait Collection {
    /// What `compute()` returns.
    type Output;

    /// The layers the collection's keys live in (usually its one top layer).
    fn layers(&self) -> Vec<Arc<Layer>>;

    /// The keys whose values make up the result.
    fn output_keys(&self) -> Vec<Key>;

    /// Assemble the computed values of [`Collection::output_keys`] (in order) into the result.
    fn finalize(&self, values: Vec<Value>) -> Result<Self::Output, Error>;

    /// The materialized task graph.
    fn graph(&self) -> Graph {
        let layers = self.layers();
        let refs: Vec<&Arc<Layer>> = layers.iter().collect();
        layer::materialize(&refs)
    }

    /// Compute the result on the default scheduler.
    fn compute(&self) -> Result<Self::Output, Error> {
        let values = default_scheduler()?.get(
            &self.graph(),
            &self.output_keys(),
            &ComputeOptions::optimized(),
        )?;
        self.finalize(values)
    }

    /// Draw the task graph (`.svg`, `.png`, `.pdf` with Graphviz, or `.dot`).
    fn visualize(&self, path: impl AsRef<Path>) -> Result<PathBuf, Error>
    where
        Self: Sized,
    {
        crate::dot::visualize(&self.graph(), path)
    }
}

/// Several collections computed together, sharing their common work.
pub trait ComputeMany {
    /// A tuple of the results.
    type Output;
    /// Compute them all in one run on the default scheduler.
    fn compute_many(self) -> Result<Self::Output, Error>;
}

macro_rules! compute_many {
    ($($c:ident $i:tt),+) => {
        impl<'a, $($c: Collection),+> ComputeMany for ($(&'a $c,)+) {
            type Output = ($($c::Output,)+);
            #[allow(non_snake_case)]
            fn compute_many(self) -> Result<Self::Output, Error> {
                let mut layers = Vec::new();
                let mut keys = Vec::new();
                let mut counts = Vec::new();
                $(
                    layers.extend(self.$i.layers());
                    let k = self.$i.output_keys();
                    counts.push(k.len());
                    keys.extend(k);
                )+
                let refs: Vec<&Arc<Layer>> = layers.iter().collect();
                let graph = layer::materialize(&refs);
                let values = default_scheduler()?.get(&graph, &keys, &ComputeOptions::optimized())?;
                let mut values = values.into_iter();
                let mut counts = counts.into_iter();
                $(
                    let n = counts.next().unwrap_or(0);
                    let $c = self.$i.finalize(values.by_ref().take(n).collect())?;
                )+
                Ok(($($c,)+))
            }
        }
    };
}
compute_many!(A 0);
compute_many!(A 0, B 1);
compute_many!(A 0, B 1, C 2);
compute_many!(A 0, B 1, C 2, D 3);
compute_many!(A 0, B 1, C 2, D 3, E 4);
compute_many!(A 0, B 1, C 2, D 3, E 4, F 5);

impl<C: Collection> ComputeMany for &[C] {
    type Output = Vec<C::Output>;
    fn compute_many(self) -> Result<Self::Output, Error> {
        let mut layers = Vec::new();
        let mut keys = Vec::new();
        let mut counts = Vec::new();
        for c in self {
            layers.extend(c.layers());
            let k = c.output_keys();
            counts.push(k.len());
            keys.extend(k);
        }
        let refs: Vec<&Arc<Layer>> = layers.iter().collect();
        let graph = layer::materialize(&refs);
        let values = default_scheduler()?.get(&graph, &keys, &ComputeOptions::optimized())?;
        let mut values = values.into_iter();
        self.iter()
            .zip(counts)
            .map(|(c, n)| c.finalize(values.by_ref().take(n).collect()))
            .collect()
    }
}

/// Compute several collections at once, sharing their common work: `compute((&a, &b))`.
pub fn compute<C: ComputeMany>(collections: C) -> Result<C::Output, Error> {
    collections.compute_many()
}
