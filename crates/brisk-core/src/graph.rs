//! Graphs: keys to nodes, as in the talk's dict.

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use crate::error::Error;
use crate::{Key, Node};

/// A task graph: a map from keys to nodes (literals, tasks or aliases).
///
/// Build one with [`crate::graph!`] or [`Graph::insert`]. Graphs are validated when they run:
/// missing dependencies, cycles and unknown output keys are clear errors.
#[derive(Clone, Default)]
pub struct Graph {
    /// Nodes in a hash-indexed vector: compiling a plan looks each key up once and then
    /// works with its dense position (no second million-entry map).
    nodes: IndexMap<Key, Node, FxBuildHasher>,
    /// The first key given twice to [`Graph::insert_noting_duplicates`]; reported when the
    /// graph is validated, so that a `graph!` literal never panics.
    duplicate: Option<Key>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty graph with room for `n` nodes.
    pub fn with_capacity(n: usize) -> Self {
        Graph {
            nodes: IndexMap::with_capacity_and_hasher(n, FxBuildHasher),
            duplicate: None,
        }
    }

    /// Add a node; a key that is already present is an error.
    pub fn insert(&mut self, key: impl Into<Key>, node: impl crate::IntoNode) -> Result<(), Error> {
        let key = key.into();
        match self.nodes.entry(key) {
            indexmap::map::Entry::Occupied(e) => Err(Error::DuplicateKey {
                key: e.key().clone(),
            }),
            indexmap::map::Entry::Vacant(e) => {
                e.insert(node.into_node());
                Ok(())
            }
        }
    }

    /// Add a node; a repeated key keeps the first node and is reported as
    /// [`Error::DuplicateKey`] when the graph is validated (what [`crate::graph!`] uses).
    pub fn insert_noting_duplicates(&mut self, key: impl Into<Key>, node: impl crate::IntoNode) {
        if let Err(Error::DuplicateKey { key }) = self.insert(key, node)
            && self.duplicate.is_none()
        {
            self.duplicate = Some(key);
        }
    }

    /// The first repeated key noted by [`Graph::insert_noting_duplicates`].
    pub fn duplicate_key(&self) -> Option<&Key> {
        self.duplicate.as_ref()
    }

    /// Add or replace a node, returning the previous one.
    pub fn set(&mut self, key: impl Into<Key>, node: impl crate::IntoNode) -> Option<Node> {
        self.nodes.insert(key.into(), node.into_node())
    }

    /// The node under `key`.
    pub fn get(&self, key: &Key) -> Option<&Node> {
        self.nodes.get(key)
    }

    /// The stored key and node under `key`.
    pub fn nodes_entry(&self, key: &Key) -> Option<(&Key, &Node)> {
        self.nodes.get_key_value(key)
    }

    /// The dense position (below [`Graph::len`]), stored key and node under `key`.
    pub(crate) fn get_full(&self, key: &Key) -> Option<(usize, &Key, &Node)> {
        self.nodes.get_full(key)
    }

    /// Whether `key` is in the graph.
    pub fn contains(&self, key: &Key) -> bool {
        self.nodes.contains_key(key)
    }

    /// Remove and return the node under `key`.
    pub fn remove(&mut self, key: &Key) -> Option<Node> {
        self.nodes.swap_remove(key)
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// All keys and nodes, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Node)> {
        self.nodes.iter()
    }

    /// All keys, sorted (for stable output).
    pub fn sorted_keys(&self) -> Vec<&Key> {
        let mut keys: Vec<&Key> = self.nodes.keys().collect();
        keys.sort_unstable();
        keys
    }

    /// Add all nodes of `other`, replacing nodes with the same keys.
    pub fn extend(&mut self, other: Graph) {
        self.nodes.extend(other.nodes);
    }

    /// Reserve room for `n` more nodes.
    pub fn reserve(&mut self, n: usize) {
        self.nodes.reserve(n);
    }

    /// Check that `outputs` exist, every dependency exists, and there is no cycle, without
    /// running anything.
    pub fn validate(&self, outputs: &[Key]) -> Result<(), Error> {
        crate::plan::Plan::compile(self, outputs, &crate::plan::PlanOptions::default()).map(|_| ())
    }
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for k in self.sorted_keys() {
            m.entry(k, &self.nodes[k]);
        }
        m.finish()
    }
}

impl FromIterator<(Key, Node)> for Graph {
    fn from_iter<I: IntoIterator<Item = (Key, Node)>>(iter: I) -> Self {
        Graph {
            nodes: iter.into_iter().collect(),
            duplicate: None,
        }
    }
}
