//! Partitions that are already in memory: `from_polars`, `from_partitions`, and what
//! `persist` keeps.

use std::sync::Arc;

use brisk_core::{Node as GNode, Value};
use polars::prelude::Expr;

use crate::node::ScanSource;

/// Frames held as values.
pub(crate) struct Frames {
    /// One value (a Polars frame) per partition.
    pub parts: Vec<Value>,
    /// The layer label.
    pub label: &'static str,
}

impl ScanSource for Frames {
    fn label(&self) -> &'static str {
        self.label
    }
    fn npartitions(&self) -> usize {
        self.parts.len()
    }
    fn projectable(&self) -> bool {
        false
    }
    fn partition(&self, i: usize, _: Option<&[String]>, _: Option<&Expr>) -> GNode {
        GNode::Literal(self.parts[i].clone())
    }
}

/// A source from values.
pub(crate) fn frames(parts: Vec<Value>, label: &'static str) -> Arc<Frames> {
    Arc::new(Frames { parts, label })
}
