//! The logical plan behind a lazy dataframe: a DAG of [`Node`]s, each an operation over input
//! nodes, with its output schema, partition count and divisions known when it is built.
//!
//! Nothing here builds tasks: [`crate::optimize`] rewrites the DAG (projection and predicate
//! pushdown) and [`crate::lower`] turns it into graph layers when something is computed.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use polars::prelude::{Expr, SchemaRef, Series};

use crate::join::JoinSpec;
use crate::reduce::Reducer;
use crate::shuffle::{Partitioner, ShuffleMethod};
use crate::steps::Steps;

/// A shared node.
pub(crate) type NodeRef = Arc<Node>;

/// One operation of the logical plan.
pub(crate) struct Node {
    /// Identity: names the node's graph layer. Nodes rebuilt by the optimizer derive theirs
    /// from the original's and the pushed-down parameters, so equal rewrites share tasks.
    pub uid: u64,
    /// What the node does.
    pub op: Op,
    /// The schema of every partition.
    pub schema: SchemaRef,
    /// The number of partitions.
    pub npartitions: usize,
    /// Sorted boundaries of an index column, when known.
    pub divisions: Option<Arc<Divisions>>,
}

/// The sorted boundaries of the partitions along one column (the dataframe's index after
/// `set_index`): partition `i` holds the rows with `bounds[i] <= column < bounds[i + 1]` (the
/// last partition includes its upper bound). Nulls, if any, are in the last partition.
#[derive(Debug, Clone)]
pub struct Divisions {
    /// The column the partitions are sorted by.
    pub column: String,
    /// `npartitions + 1` boundaries.
    pub bounds: Series,
}

/// A source of partitions read from outside the graph: files, or frames in memory.
pub(crate) trait ScanSource: Send + Sync {
    /// The layer name prefix (`"read-csv"`).
    fn label(&self) -> &'static str;
    /// The number of partitions.
    fn npartitions(&self) -> usize;
    /// Whether the source can read only some columns.
    fn projectable(&self) -> bool;
    /// Whether the source can apply a predicate while reading (and skip data by statistics).
    fn filterable(&self) -> bool {
        false
    }
    /// The graph node that produces partition `i`, reading only `columns` (all if `None`) and
    /// keeping only the rows where `predicate` holds.
    fn partition(
        &self,
        i: usize,
        columns: Option<&[String]>,
        predicate: Option<&Expr>,
    ) -> brisk_core::Node;
    /// For each partition, whether some row may satisfy `predicate` (from file statistics).
    fn may_match(&self, _predicate: &Expr) -> Vec<bool> {
        vec![true; self.npartitions()]
    }
    /// Layers the partitions' tasks depend on (for partitions computed by another graph).
    fn deps(&self) -> Vec<Arc<brisk_core::Layer>> {
        Vec::new()
    }
}

/// The operations.
pub(crate) enum Op {
    /// Read partitions from a source.
    Scan {
        /// Where the partitions come from.
        source: Arc<dyn ScanSource>,
        /// Read only these columns (pushed down by the optimizer).
        columns: Option<Arc<Vec<String>>>,
        /// Keep only matching rows (pushed down by the optimizer).
        predicate: Option<Expr>,
    },
    /// Partition-wise steps.
    Map {
        /// The input.
        input: NodeRef,
        /// The steps, applied to each partition in one task.
        steps: Arc<Steps>,
    },
    /// A tree reduction (chunk → combine → aggregate) into `npartitions` outputs.
    Reduce {
        /// The input.
        input: NodeRef,
        /// What to compute.
        reducer: Arc<Reducer>,
        /// How many partial results one combine task merges.
        split_every: usize,
    },
    /// Moving rows between partitions by hash or by range.
    Shuffle {
        /// The input.
        input: NodeRef,
        /// Which output partition each row goes to.
        partitioner: Arc<Partitioner>,
        /// For a range partitioner: a one-partition node computing the boundaries.
        boundaries: Option<NodeRef>,
        /// In memory or through files on disk.
        method: ShuffleMethod,
    },
    /// A join of two inputs, partition-wise after the optimizer aligned them.
    Join {
        /// The left input.
        left: NodeRef,
        /// The right input.
        right: NodeRef,
        /// Keys, kind, suffix.
        spec: Arc<JoinSpec>,
    },
    /// Merging or splitting partitions.
    Repartition {
        /// The input.
        input: NodeRef,
    },
    /// The partitions of several inputs one after another.
    Concat {
        /// The inputs (same schema).
        inputs: Vec<NodeRef>,
    },
    /// Some partitions of the input, in the given order.
    Partitions {
        /// The input.
        input: NodeRef,
        /// Which partitions.
        indices: Arc<Vec<usize>>,
    },
    /// Partition-wise expressions that also see rows or totals of neighbouring partitions
    /// (`shift`, `diff`, `rolling_*`, `cum_*`; see [`crate::ordered`]).
    Ordered {
        /// The input.
        input: NodeRef,
        /// What to compute.
        spec: Arc<crate::ordered::OrderedSpec>,
    },
    /// A one-partition result assembled from several one-partition inputs.
    Assemble {
        /// The inputs.
        inputs: Vec<NodeRef>,
        /// How to assemble them.
        how: Arc<crate::describe::Assemble>,
    },
}

impl Op {
    /// The inputs of the operation, in order.
    pub fn inputs(&self) -> Vec<&NodeRef> {
        match self {
            Op::Scan { .. } => vec![],
            Op::Map { input, .. }
            | Op::Reduce { input, .. }
            | Op::Repartition { input }
            | Op::Ordered { input, .. }
            | Op::Partitions { input, .. } => {
                vec![input]
            }
            Op::Shuffle {
                input, boundaries, ..
            } => {
                let mut v = vec![input];
                if let Some(b) = boundaries {
                    v.push(b);
                }
                v
            }
            Op::Join { left, right, .. } => vec![left, right],
            Op::Concat { inputs } | Op::Assemble { inputs, .. } => inputs.iter().collect(),
        }
    }

    /// A short name for layer names and messages.
    pub fn label(&self) -> &'static str {
        match self {
            Op::Scan { source, .. } => source.label(),
            Op::Map { steps, .. } => steps.0.last().map(|s| s.name()).unwrap_or("map"),
            Op::Reduce { reducer, .. } => reducer.label(),
            Op::Shuffle { .. } => "shuffle",
            Op::Join { .. } => "join",
            Op::Repartition { .. } => "repartition",
            Op::Ordered { .. } => "ordered",
            Op::Partitions { .. } => "partitions",
            Op::Concat { .. } => "concat",
            Op::Assemble { how, .. } => how.label(),
        }
    }
}

impl Node {
    /// A new node with a fresh identity.
    pub fn new(
        op: Op,
        schema: SchemaRef,
        npartitions: usize,
        divisions: Option<Arc<Divisions>>,
    ) -> NodeRef {
        Arc::new(Node {
            uid: fresh_uid(),
            op,
            schema,
            npartitions,
            divisions,
        })
    }

    /// A node with a given identity (for the optimizer's rewrites).
    pub fn with_uid(
        uid: u64,
        op: Op,
        schema: SchemaRef,
        npartitions: usize,
        divisions: Option<Arc<Divisions>>,
    ) -> NodeRef {
        Arc::new(Node {
            uid,
            op,
            schema,
            npartitions,
            divisions,
        })
    }

    /// The layer name: `"{label}-{uid as hex}"`.
    pub fn layer_name(&self) -> Arc<str> {
        format!("{}-{:016x}", self.op.label(), self.uid).into()
    }

    /// A copy of the plan below (and including) this node under new identities derived from
    /// `tag`, when that plan only reads and transforms partition by partition (scans, maps,
    /// picked or concatenated partitions), so that computing it a second time costs one more
    /// read and holds nothing; `None` for anything else (reductions, shuffles, joins).
    ///
    /// A sort uses it to compute its boundaries from a read of its own (which the optimizer
    /// narrows to the sort column): sharing the partitions with the shuffle would keep every
    /// one of them in memory until the boundaries are known, i.e. the whole data set.
    pub fn recomputable_copy(self: &NodeRef, tag: &str) -> Option<NodeRef> {
        fn go(
            n: &NodeRef,
            tag: &str,
            memo: &mut std::collections::HashMap<usize, NodeRef>,
        ) -> Option<NodeRef> {
            let at = Arc::as_ptr(n) as usize;
            if let Some(c) = memo.get(&at) {
                return Some(Arc::clone(c));
            }
            let op = match &n.op {
                Op::Scan {
                    source,
                    columns,
                    predicate,
                } => Op::Scan {
                    source: Arc::clone(source),
                    columns: columns.clone(),
                    predicate: predicate.clone(),
                },
                Op::Map { input, steps } => Op::Map {
                    input: go(input, tag, memo)?,
                    steps: Arc::clone(steps),
                },
                Op::Partitions { input, indices } => Op::Partitions {
                    input: go(input, tag, memo)?,
                    indices: Arc::clone(indices),
                },
                Op::Concat { inputs } => Op::Concat {
                    inputs: inputs
                        .iter()
                        .map(|i| go(i, tag, memo))
                        .collect::<Option<Vec<_>>>()?,
                },
                _ => return None,
            };
            let copy = Node::with_uid(
                derive_uid(n.uid, tag),
                op,
                n.schema.clone(),
                n.npartitions,
                n.divisions.clone(),
            );
            memo.insert(at, Arc::clone(&copy));
            Some(copy)
        }
        go(self, tag, &mut std::collections::HashMap::new())
    }

    /// How many layers the plan below (and including) this node has.
    pub fn count_nodes(self: &NodeRef) -> usize {
        crate::optimize::topo(std::slice::from_ref(self)).len()
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{} partitions]", self.layer_name(), self.npartitions)
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A fresh identity, unique in this process.
pub(crate) fn fresh_uid() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        splitmix(t ^ u64::from(std::process::id()))
    });
    splitmix(seed ^ splitmix(COUNTER.fetch_add(1, Ordering::Relaxed)))
}

/// An identity derived from `base` and some text (deterministic).
pub(crate) fn derive_uid(base: u64, text: &str) -> u64 {
    let mut h = splitmix(base);
    for chunk in text.as_bytes().chunks(8) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        h = splitmix(h ^ u64::from_le_bytes(b));
    }
    h
}
