//! Layered graphs: what collections hold instead of one big dict.
//!
//! Each operation adds one [`Layer`] (its nodes, or a recipe for them) that points at the layers
//! it reads. Layers are shared by `Arc`, so building an expression costs O(operations), not
//! O(tasks), and two expressions that share an input share its layer. The full [`Graph`] is only
//! materialized when something is computed.

use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::{Graph, Key, Node};

/// The nodes of one layer, materialized on demand.
pub trait LayerBody: Send + Sync {
    /// Add this layer's nodes to `graph`.
    fn materialize(&self, graph: &mut Graph);
    /// How many nodes this layer has.
    fn len(&self) -> usize;
    /// Whether the layer has no nodes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LayerBody for Vec<(Key, Node)> {
    fn materialize(&self, graph: &mut Graph) {
        for (k, n) in self {
            graph.set(k.clone(), n.clone());
        }
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// One operation's worth of graph, and the layers it depends on.
pub struct Layer {
    name: Arc<str>,
    body: Box<dyn LayerBody>,
    deps: Vec<Arc<Layer>>,
}

impl Layer {
    /// A layer from a body and its input layers.
    pub fn new(
        name: impl Into<Arc<str>>,
        body: impl LayerBody + 'static,
        deps: Vec<Arc<Layer>>,
    ) -> Arc<Layer> {
        Arc::new(Layer {
            name: name.into(),
            body: Box::new(body),
            deps,
        })
    }

    /// A layer holding explicit nodes.
    pub fn from_nodes(
        name: impl Into<Arc<str>>,
        nodes: Vec<(Key, Node)>,
        deps: Vec<Arc<Layer>>,
    ) -> Arc<Layer> {
        Layer::new(name, nodes, deps)
    }

    /// The layer's name (unique per operation).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layers this one reads.
    pub fn deps(&self) -> &[Arc<Layer>] {
        &self.deps
    }

    /// The number of nodes in this layer alone.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether this layer alone has no nodes.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}

impl Drop for Layer {
    /// Drop long chains of layers (a million `delayed` calls in a row) without recursion.
    fn drop(&mut self) {
        let mut pending = std::mem::take(&mut self.deps);
        while let Some(layer) = pending.pop() {
            if let Some(mut inner) = Arc::into_inner(layer) {
                pending.append(&mut inner.deps);
            }
        }
    }
}

/// All layers reachable from `tops`, each once, inputs before the layers that read them.
pub fn walk(tops: &[&Arc<Layer>]) -> Vec<Arc<Layer>> {
    let mut seen: FxHashSet<*const Layer> = FxHashSet::default();
    let mut out = Vec::new();
    let mut stack: Vec<(Arc<Layer>, bool)> = tops.iter().map(|l| (Arc::clone(l), false)).collect();
    stack.reverse();
    while let Some((layer, expanded)) = stack.pop() {
        if expanded {
            out.push(layer);
            continue;
        }
        if !seen.insert(Arc::as_ptr(&layer)) {
            continue;
        }
        let deps: Vec<Arc<Layer>> = layer.deps.iter().rev().cloned().collect();
        stack.push((layer, true));
        for d in deps {
            if !seen.contains(&Arc::as_ptr(&d)) {
                stack.push((d, false));
            }
        }
    }
    out
}

/// The graph of all layers reachable from `tops`.
pub fn materialize(tops: &[&Arc<Layer>]) -> Graph {
    let layers = walk(tops);
    let mut graph = Graph::with_capacity(layers.iter().map(|l| l.len()).sum());
    for l in &layers {
        l.body.materialize(&mut graph);
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn shared_layers_materialize_once_and_long_chains_drop() {
        let base = Layer::from_nodes(
            "a",
            vec![(Key::from("a"), Node::Literal(Value::from(1)))],
            vec![],
        );
        let mut top = Arc::clone(&base);
        for i in 0..200_000u32 {
            let key = Key::new("chain", &[i]);
            top = Layer::from_nodes(
                format!("l{i}"),
                vec![(key, Node::Literal(Value::from(i)))],
                vec![top, Arc::clone(&base)],
            );
        }
        let g = materialize(&[&top]);
        assert_eq!(g.len(), 200_001);
        assert_eq!(walk(&[&top, &top]).len(), 200_001);
        drop(top);
        assert_eq!(Arc::strong_count(&base), 1);
    }
}
