//! Rewrites of the logical plan before it becomes tasks:
//!
//! - **Projection pushdown**: walking from the output back to the readers, each node learns
//!   which of its columns its consumers use; readers then read only those (for CSV, Parquet and
//!   JSON), and partition-wise steps carry only those.
//! - **Predicate pushdown**: filters directly over a Parquet reader move into it, where file
//!   statistics let whole row groups be skipped before reading.
//!
//! Rewritten nodes get identities derived from the original's and the pushed-down parameters,
//! so two collections that need the same columns of one reader still share its tasks.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::Expr;

use crate::columns::ColumnSet;
use crate::error::{DataFrameError, Result};
use crate::join::How;
use crate::node::{Node, NodeRef, Op, derive_uid};
use crate::steps::{self, Step, Steps};

fn ptr(n: &NodeRef) -> usize {
    Arc::as_ptr(n) as usize
}

/// All nodes reachable from `roots`, each once, inputs before the nodes that read them.
pub(crate) fn topo(roots: &[NodeRef]) -> Vec<NodeRef> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut stack: Vec<(NodeRef, bool)> =
        roots.iter().rev().map(|r| (Arc::clone(r), false)).collect();
    while let Some((n, expanded)) = stack.pop() {
        if expanded {
            out.push(n);
            continue;
        }
        if !seen.insert(ptr(&n)) {
            continue;
        }
        let inputs: Vec<NodeRef> = n.op.inputs().into_iter().cloned().collect();
        stack.push((n, true));
        for i in inputs.into_iter().rev() {
            if !seen.contains(&ptr(&i)) {
                stack.push((i, false));
            }
        }
    }
    out
}

/// The columns each input of `node` must provide so that `node` can produce `needed`.
fn input_needs(node: &Node, needed: &ColumnSet) -> Vec<ColumnSet> {
    match &node.op {
        Op::Scan { .. } => vec![],
        Op::Map { steps, .. } => vec![steps::steps_need(&steps.0, needed)],
        Op::Reduce { reducer, .. } => vec![reducer.needs(needed)],
        Op::Shuffle {
            partitioner,
            boundaries,
            ..
        } => {
            let mut n = needed.clone();
            n.union(&ColumnSet::of(partitioner.columns()));
            let mut v = vec![n];
            if boundaries.is_some() {
                v.push(ColumnSet::All);
            }
            v
        }
        Op::Join { left, right, spec } => join_needs(spec, &left.schema, &right.schema, needed),
        Op::Repartition { .. } | Op::Partitions { .. } => vec![needed.clone()],
        Op::Ordered { .. } => vec![ColumnSet::All],
        Op::Concat { inputs } => vec![needed.clone(); inputs.len()],
        Op::Assemble { inputs, .. } => vec![ColumnSet::All; inputs.len()],
    }
}

/// What a join needs of each side. Right columns keep their output names only if the same
/// left columns are present, so a right column that clashes pulls its left namesake in too.
fn join_needs(
    spec: &crate::join::JoinSpec,
    left: &polars::prelude::Schema,
    right: &polars::prelude::Schema,
    needed: &ColumnSet,
) -> Vec<ColumnSet> {
    if matches!(spec.how, How::Right | How::Outer) || matches!(needed, ColumnSet::All) {
        return vec![ColumnSet::All, ColumnSet::All];
    }
    let mut r = ColumnSet::of(&spec.right_on);
    if !matches!(spec.how, How::Semi | How::Anti) {
        for name in right.iter_names() {
            if needed.contains(name) || needed.contains(&format!("{name}{}", spec.suffix)) {
                r.insert(name);
            }
        }
    }
    let mut l = ColumnSet::of(&spec.left_on);
    for name in left.iter_names() {
        if needed.contains(name) || r.contains(name) {
            l.insert(name);
        }
    }
    vec![l, r]
}

/// A node reading only `cols` of `input`.
fn project(input: NodeRef, cols: Vec<String>) -> Result<NodeRef> {
    let step = Step::Select(
        cols.iter()
            .map(|c| polars::prelude::col(c.as_str()))
            .collect(),
    );
    let schema = steps::schema_after(&input.schema, std::slice::from_ref(&step))
        .map_err(DataFrameError::polars("projection"))?;
    let uid = derive_uid(input.uid, &format!("project:{cols:?}"));
    let n = input.npartitions;
    let div = input.divisions.clone();
    Ok(Node::with_uid(
        uid,
        Op::Map {
            input,
            steps: Arc::new(Steps(vec![step])),
        },
        schema,
        n,
        div,
    ))
}

/// `input`, narrowed to `needed` when it has more columns.
fn narrowed(input: NodeRef, needed: &ColumnSet) -> Result<NodeRef> {
    if needed.drops_any(&input.schema) {
        let cols = needed.project(&input.schema);
        project(input, cols)
    } else {
        Ok(input)
    }
}

fn and_all(preds: Vec<Expr>) -> Option<Expr> {
    preds.into_iter().reduce(|a, b| a.and(b))
}

/// Optimize the plan below `root`.
pub(crate) fn optimize(root: &NodeRef) -> Result<NodeRef> {
    let order = topo(std::slice::from_ref(root));
    let mut needed: HashMap<usize, ColumnSet> = HashMap::new();
    let mut consumers: HashMap<usize, usize> = HashMap::new();
    needed.insert(ptr(root), ColumnSet::All);
    for n in order.iter().rev() {
        let mine = needed.get(&ptr(n)).cloned().unwrap_or(ColumnSet::All);
        for (input, need) in n.op.inputs().into_iter().zip(input_needs(n, &mine)) {
            needed
                .entry(ptr(input))
                .and_modify(|s| s.union(&need))
                .or_insert(need);
            *consumers.entry(ptr(input)).or_default() += 1;
        }
    }
    let mut done: HashMap<usize, NodeRef> = HashMap::new();
    for n in &order {
        let need = needed.get(&ptr(n)).cloned().unwrap_or(ColumnSet::All);
        let inputs: Vec<NodeRef> =
            n.op.inputs()
                .into_iter()
                .map(|i| done.get(&ptr(i)).cloned().unwrap_or_else(|| Arc::clone(i)))
                .collect();
        let sole = |i: &NodeRef| consumers.get(&ptr(i)).copied().unwrap_or(0) <= 1;
        let new = rebuild(n, inputs, &need, &sole)?;
        done.insert(ptr(n), new);
    }
    Ok(done.remove(&ptr(root)).unwrap_or_else(|| Arc::clone(root)))
}

fn same_inputs(n: &Node, inputs: &[NodeRef]) -> bool {
    n.op.inputs()
        .iter()
        .zip(inputs)
        .all(|(a, b)| Arc::ptr_eq(a, b))
}

fn derived(n: &Node, inputs: &[NodeRef], extra: &str) -> u64 {
    let ids: Vec<u64> = inputs.iter().map(|i| i.uid).collect();
    derive_uid(n.uid, &format!("{ids:?}{extra}"))
}

fn rebuild(
    n: &NodeRef,
    inputs: Vec<NodeRef>,
    needed: &ColumnSet,
    sole: &dyn Fn(&NodeRef) -> bool,
) -> Result<NodeRef> {
    match &n.op {
        Op::Scan {
            source,
            columns: None,
            predicate,
        } if source.projectable() && needed.drops_any(&n.schema) => {
            let cols = needed.project(&n.schema);
            let schema = Arc::new(select_schema(&n.schema, &cols));
            let uid = derive_uid(n.uid, &format!("columns:{cols:?}"));
            Ok(Node::with_uid(
                uid,
                Op::Scan {
                    source: Arc::clone(source),
                    columns: Some(Arc::new(cols)),
                    predicate: predicate.clone(),
                },
                schema,
                n.npartitions,
                n.divisions.clone(),
            ))
        }
        Op::Scan { .. } => Ok(Arc::clone(n)),
        Op::Map { steps, .. } => {
            let mut input = inputs.into_iter().next().unwrap_or_else(|| Arc::clone(n));
            let mut rest: Vec<Step> = steps.0.clone();
            // Leading filters over a reader that filters (and reads for no one else) move in.
            if let Op::Scan {
                source,
                columns,
                predicate,
            } = &input.op
                && source.filterable()
                && sole(&input)
                && rest.first().is_some_and(Step::is_filter)
            {
                let k = rest.iter().take_while(|s| s.is_filter()).count();
                let mut preds: Vec<Expr> = predicate.iter().cloned().collect();
                for s in rest.drain(..k) {
                    if let Step::Filter(p) = s {
                        preds.push(p);
                    }
                }
                let pred = and_all(preds);
                let uid = derive_uid(input.uid, &format!("predicate:{pred:?}"));
                input = Node::with_uid(
                    uid,
                    Op::Scan {
                        source: Arc::clone(source),
                        columns: columns.clone(),
                        predicate: pred,
                    },
                    input.schema.clone(),
                    input.npartitions,
                    input.divisions.clone(),
                );
            }
            if rest.is_empty() {
                return Ok(input);
            }
            if Arc::ptr_eq(&input, n.op.inputs()[0]) && rest.len() == steps.0.len() {
                return Ok(Arc::clone(n));
            }
            let schema = steps::schema_after(&input.schema, &rest)
                .map_err(DataFrameError::polars("projection"))?;
            let uid = derived(n, std::slice::from_ref(&input), &format!("{}", rest.len()));
            Ok(Node::with_uid(
                uid,
                Op::Map {
                    input,
                    steps: Arc::new(Steps(rest)),
                },
                schema,
                n.npartitions,
                n.divisions.clone(),
            ))
        }
        _ if same_inputs(n, &inputs) && !matches!(n.op, Op::Join { .. } | Op::Concat { .. }) => {
            Ok(Arc::clone(n))
        }
        Op::Reduce {
            reducer,
            split_every,
            ..
        } => Ok(Node::with_uid(
            derived(n, &inputs, ""),
            Op::Reduce {
                input: Arc::clone(&inputs[0]),
                reducer: Arc::clone(reducer),
                split_every: *split_every,
            },
            n.schema.clone(),
            n.npartitions,
            n.divisions.clone(),
        )),
        Op::Shuffle {
            partitioner,
            method,
            boundaries,
            ..
        } => {
            let mut it = inputs.into_iter();
            let input = it.next().unwrap_or_else(|| Arc::clone(n));
            let b = if boundaries.is_some() {
                it.next()
            } else {
                None
            };
            let all = [Some(input.clone()), b.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            Ok(Node::with_uid(
                derived(n, &all, ""),
                Op::Shuffle {
                    input: input.clone(),
                    partitioner: Arc::clone(partitioner),
                    boundaries: b,
                    method: *method,
                },
                input.schema.clone(),
                n.npartitions,
                n.divisions.clone(),
            ))
        }
        Op::Join { spec, .. } => {
            let needs = join_needs(
                spec,
                &n.op.inputs()[0].schema,
                &n.op.inputs()[1].schema,
                needed,
            );
            let mut it = inputs.into_iter();
            let (Some(l), Some(r)) = (it.next(), it.next()) else {
                return Ok(Arc::clone(n));
            };
            let l = narrowed(l, &needs[0])?;
            let r = narrowed(r, &needs[1])?;
            if Arc::ptr_eq(&l, n.op.inputs()[0]) && Arc::ptr_eq(&r, n.op.inputs()[1]) {
                return Ok(Arc::clone(n));
            }
            let schema = spec
                .output_schema(&l.schema, &r.schema)
                .map_err(DataFrameError::polars("join"))?;
            Ok(Node::with_uid(
                derived(n, &[l.clone(), r.clone()], ""),
                Op::Join {
                    left: l,
                    right: r,
                    spec: Arc::clone(spec),
                },
                schema,
                n.npartitions,
                n.divisions.clone(),
            ))
        }
        Op::Repartition { .. } => {
            let input = Arc::clone(&inputs[0]);
            Ok(Node::with_uid(
                derived(n, &inputs, ""),
                Op::Repartition {
                    input: input.clone(),
                },
                input.schema.clone(),
                n.npartitions,
                n.divisions.clone(),
            ))
        }
        Op::Ordered { spec, .. } => Ok(Node::with_uid(
            derived(n, &inputs, ""),
            Op::Ordered {
                input: Arc::clone(&inputs[0]),
                spec: Arc::clone(spec),
            },
            n.schema.clone(),
            n.npartitions,
            n.divisions.clone(),
        )),
        Op::Partitions { indices, .. } => {
            let input = Arc::clone(&inputs[0]);
            Ok(Node::with_uid(
                derived(n, &inputs, ""),
                Op::Partitions {
                    input: input.clone(),
                    indices: Arc::clone(indices),
                },
                input.schema.clone(),
                n.npartitions,
                n.divisions.clone(),
            ))
        }
        Op::Concat { .. } => {
            let cols = needed.project(&n.schema);
            let need = ColumnSet::of(&cols);
            let inputs = inputs
                .into_iter()
                .map(|i| narrowed(i, &need))
                .collect::<Result<Vec<_>>>()?;
            if same_inputs(n, &inputs) {
                return Ok(Arc::clone(n));
            }
            let schema = inputs[0].schema.clone();
            Ok(Node::with_uid(
                derived(n, &inputs, ""),
                Op::Concat { inputs },
                schema,
                n.npartitions,
                n.divisions.clone(),
            ))
        }
        Op::Assemble { how, .. } => Ok(Node::with_uid(
            derived(n, &inputs, ""),
            Op::Assemble {
                inputs,
                how: Arc::clone(how),
            },
            n.schema.clone(),
            n.npartitions,
            n.divisions.clone(),
        )),
    }
}

/// The fields of `schema` named in `cols`, in `cols` order.
pub(crate) fn select_schema(
    schema: &polars::prelude::Schema,
    cols: &[String],
) -> polars::prelude::Schema {
    use polars::prelude::SchemaExt;
    cols.iter().filter_map(|c| schema.get_field(c)).collect()
}
