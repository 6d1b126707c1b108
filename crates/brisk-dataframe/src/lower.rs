//! Turning an (optimized) logical plan into graph layers: one layer per node, whose keys are
//! `(layer-name, i)` for the node's partitions. Partition-wise chains become linear chains of
//! tasks, which the core's fusion runs as one task per partition.

use std::collections::HashMap;
use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node as GNode, Task, Value};

use crate::node::{NodeRef, Op};
use crate::optimize::topo;
use crate::partition;

/// A node as graph: its top layer, its key name and its partition count.
#[derive(Clone)]
pub(crate) struct Lowered {
    /// The layer holding the node's tasks (its inputs' layers are its dependencies).
    pub layer: Arc<Layer>,
    /// The key name of the node's partitions.
    pub name: Arc<str>,
    /// The number of partitions.
    pub npartitions: usize,
}

impl Lowered {
    /// The key of partition `i`.
    pub fn key(&self, i: usize) -> Key {
        Key::with_shared_name(&self.name, &[i as u32])
    }

    /// All partition keys, in order.
    pub fn keys(&self) -> Vec<Key> {
        (0..self.npartitions).map(|i| self.key(i)).collect()
    }
}

/// Lower the plan below `root` (already optimized).
pub(crate) fn lower(root: &NodeRef) -> Lowered {
    let order = topo(std::slice::from_ref(root));
    let mut done: HashMap<usize, Lowered> = HashMap::new();
    let mut last = None;
    for n in order {
        let inputs: Vec<Lowered> =
            n.op.inputs()
                .into_iter()
                .filter_map(|i| done.get(&(Arc::as_ptr(i) as usize)).cloned())
                .collect();
        let l = lower_one(&n, &inputs);
        done.insert(Arc::as_ptr(&n) as usize, l.clone());
        last = Some(l);
    }
    done.remove(&(Arc::as_ptr(root) as usize))
        .or(last)
        .unwrap_or_else(|| Lowered {
            layer: Layer::from_nodes("empty", vec![], vec![]),
            name: "empty".into(),
            npartitions: 0,
        })
}

/// Kernel: the optimizer failed (see [`failed`]).
pub(crate) fn optimize_failed(reason: String) -> crate::error::Result<Value> {
    Err(crate::error::DataFrameError::Optimize { reason })
}

brisk_core::register!(optimize_failed as "brisk_dataframe.optimize_failed");

/// Graph layers for a plan the optimizer could not rewrite: one task per output partition,
/// each failing with [`crate::error::DataFrameError::Optimize`].
pub(crate) fn failed(root: &NodeRef, reason: String) -> Lowered {
    let name: Arc<str> = format!("optimize-failed-{:016x}", root.uid).into();
    let n = root.npartitions.max(1);
    let nodes = (0..n)
        .map(|i| {
            (
                Key::with_shared_name(&name, &[i as u32]),
                GNode::Task(Task::new(
                    optimize_failed,
                    vec![Arg::Literal(Value::new(reason.clone()))],
                )),
            )
        })
        .collect();
    Lowered {
        layer: Layer::from_nodes(Arc::clone(&name), nodes, vec![]),
        name,
        npartitions: n,
    }
}

fn lower_one(n: &NodeRef, inputs: &[Lowered]) -> Lowered {
    let name = n.layer_name();
    let out = |i: usize| Key::with_shared_name(&name, &[i as u32]);
    let nodes: Vec<(Key, GNode)> = match &n.op {
        Op::Scan {
            source,
            columns,
            predicate,
        } => {
            let keep = predicate
                .as_ref()
                .map(|p| source.may_match(p))
                .unwrap_or_else(|| vec![true; n.npartitions]);
            (0..n.npartitions)
                .map(|i| {
                    let node = if keep.get(i).copied().unwrap_or(true) {
                        source.partition(
                            i,
                            columns.as_deref().map(Vec::as_slice),
                            predicate.as_ref(),
                        )
                    } else {
                        GNode::Literal(partition::value(partition::empty(&n.schema)))
                    };
                    (out(i), node)
                })
                .collect()
        }
        Op::Map { steps, .. } => {
            let s = Value::from_arc(Arc::clone(steps));
            (0..n.npartitions)
                .map(|i| {
                    (
                        out(i),
                        GNode::Task(Task::new(
                            crate::steps::map_partition,
                            vec![Arg::Key(inputs[0].key(i)), Arg::Literal(s.clone())],
                        )),
                    )
                })
                .collect()
        }
        Op::Reduce {
            reducer,
            split_every,
            ..
        } => crate::reduce::lower(
            &name,
            &inputs[0].name,
            inputs[0].npartitions,
            reducer,
            *split_every,
            n.npartitions,
        ),
        Op::Shuffle {
            partitioner,
            method,
            ..
        } => crate::shuffle::lower(
            &name,
            &inputs[0].name,
            inputs[0].npartitions,
            partitioner,
            inputs.get(1).map(|b| b.key(0)),
            *method,
            &n.schema,
        ),
        Op::Join { spec, .. } => crate::join::lower(
            &name,
            &inputs[0].name,
            inputs[0].npartitions,
            &inputs[1].name,
            inputs[1].npartitions,
            spec,
        ),
        Op::Ordered { input, spec } => crate::ordered::lower(
            &name,
            &inputs[0].name,
            inputs[0].npartitions,
            &input.schema,
            spec,
        ),
        Op::Repartition { .. } => {
            crate::repartition::lower(&name, &inputs[0].name, inputs[0].npartitions, n.npartitions)
        }
        Op::Partitions { indices, .. } => indices
            .iter()
            .enumerate()
            .map(|(j, &i)| (out(j), GNode::Alias(inputs[0].key(i))))
            .collect(),
        Op::Concat { .. } => {
            let mut v = Vec::with_capacity(n.npartitions);
            for l in inputs {
                for i in 0..l.npartitions {
                    v.push((out(v.len()), GNode::Alias(l.key(i))));
                }
            }
            v
        }
        Op::Assemble { how, .. } => vec![(
            out(0),
            GNode::Task(Task::new(
                crate::describe::assemble,
                vec![
                    Arg::List(inputs.iter().map(|l| Arg::Key(l.key(0))).collect()),
                    Arg::Literal(Value::from_arc(Arc::clone(how))),
                ],
            )),
        )],
    };
    let mut deps: Vec<Arc<Layer>> = inputs.iter().map(|l| Arc::clone(&l.layer)).collect();
    if let Op::Scan { source, .. } = &n.op {
        deps.extend(source.deps());
    }
    Lowered {
        layer: Layer::from_nodes(Arc::clone(&name), nodes, deps),
        name,
        npartitions: n.npartitions,
    }
}
