//! Joins on columns. A small side (one partition, or asked for) is broadcast: concatenated once
//! and joined with every partition of the other side. Otherwise both sides are shuffled by a
//! hash of their keys into the same number of partitions, and partition `i` of one side is
//! joined with partition `i` of the other.
//!
//! Null keys never match (SQL semantics, as in Polars; pandas matches them).

use std::sync::Arc;

use brisk_core::{Arg, Key, Node as GNode, Task, Value};
use polars::prelude::{
    DataFrame as PlFrame, IntoLazy, JoinArgs, JoinCoalesce, JoinType, PolarsResult, Schema,
    SchemaRef, col,
};
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};
use crate::partition;

/// The kind of join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum How {
    /// Rows whose keys appear on both sides.
    #[default]
    Inner,
    /// Every left row, with the matching right rows or nulls.
    Left,
    /// Every right row, with the matching left rows or nulls.
    Right,
    /// Every row of both sides (keys coalesced, as in pandas' `how="outer"`).
    Outer,
    /// Left rows that have a match (left columns only).
    Semi,
    /// Left rows that have no match (left columns only).
    Anti,
}

impl How {
    fn polars(self) -> JoinType {
        match self {
            How::Inner => JoinType::Inner,
            How::Left => JoinType::Left,
            How::Right => JoinType::Right,
            How::Outer => JoinType::Full,
            How::Semi => JoinType::Semi,
            How::Anti => JoinType::Anti,
        }
    }

    /// Whether the left side may be broadcast (the right side is kept whole).
    pub(crate) fn can_broadcast_left(self) -> bool {
        matches!(self, How::Inner | How::Right)
    }

    /// Whether the right side may be broadcast.
    pub(crate) fn can_broadcast_right(self) -> bool {
        matches!(self, How::Inner | How::Left | How::Semi | How::Anti)
    }
}

/// How partitions meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum JoinStrategy {
    /// Partition `i` with partition `i` (both sides hash-partitioned alike, or one partition).
    Partitionwise,
    /// Every left partition with the whole right side.
    BroadcastRight,
    /// The whole left side with every right partition.
    BroadcastLeft,
}

/// What a join does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JoinSpec {
    /// Left key columns.
    pub left_on: Vec<String>,
    /// Right key columns.
    pub right_on: Vec<String>,
    /// The kind.
    pub how: How,
    /// Appended to right column names that clash with left ones.
    pub suffix: String,
    /// Whether null keys match each other.
    pub nulls_equal: bool,
    /// How partitions meet.
    pub strategy: JoinStrategy,
}
brisk_core::register_serde_type!(JoinSpec);

impl JoinSpec {
    /// Join two frames.
    pub fn join(&self, left: PlFrame, right: PlFrame) -> PolarsResult<PlFrame> {
        let mut args =
            JoinArgs::new(self.how.polars()).with_suffix(Some(self.suffix.as_str().into()));
        args.nulls_equal = self.nulls_equal;
        if self.how == How::Outer {
            args = args.with_coalesce(JoinCoalesce::CoalesceColumns);
        }
        let l: Vec<_> = self.left_on.iter().map(|c| col(c.as_str())).collect();
        let r: Vec<_> = self.right_on.iter().map(|c| col(c.as_str())).collect();
        left.lazy().join(right.lazy(), l, r, args).collect()
    }

    /// The output schema, by joining empty frames.
    pub fn output_schema(&self, left: &Schema, right: &Schema) -> PolarsResult<SchemaRef> {
        Ok(self
            .join(partition::empty(left), partition::empty(right))?
            .schema()
            .clone())
    }
}

/// Kernel: join two partitions.
pub(crate) fn join_partitions(
    left: Arc<PlFrame>,
    right: Arc<PlFrame>,
    spec: Arc<JoinSpec>,
) -> Result<Value> {
    spec.join((*left).clone(), (*right).clone())
        .map(partition::value)
        .map_err(DataFrameError::polars("join"))
}

/// Kernel: all partitions of one side as one frame.
pub(crate) fn concat_all(parts: Vec<Arc<PlFrame>>) -> Result<Value> {
    partition::concat_arcs(&parts, None).map(partition::value)
}

brisk_core::register!(
    join_partitions as "brisk_dataframe.join_partitions",
    concat_all as "brisk_dataframe.concat_all",
);

/// The tasks of a join of layers `left` (`nl` partitions) and `right` (`nr`).
pub(crate) fn lower(
    out: &Arc<str>,
    left: &Arc<str>,
    nl: usize,
    right: &Arc<str>,
    nr: usize,
    spec: &Arc<JoinSpec>,
) -> Vec<(Key, GNode)> {
    let s = Arg::Literal(Value::from_arc(Arc::clone(spec)));
    let key = |name: &Arc<str>, i: usize| Arg::Key(Key::with_shared_name(name, &[i as u32]));
    let all = |name: &Arc<str>, n: usize| {
        Arg::Task(Box::new(Task::new(
            concat_all,
            vec![Arg::List((0..n).map(|i| key(name, i)).collect())],
        )))
    };
    let mut nodes = Vec::new();
    let mut push = |i: usize, l: Arg, r: Arg| {
        nodes.push((
            Key::with_shared_name(out, &[i as u32]),
            GNode::Task(Task::new(join_partitions, vec![l, r, s.clone()])),
        ));
    };
    match spec.strategy {
        JoinStrategy::Partitionwise => {
            for i in 0..nl.max(nr) {
                push(i, key(left, i.min(nl - 1)), key(right, i.min(nr - 1)));
            }
        }
        JoinStrategy::BroadcastRight => {
            let whole: Arc<str> = format!("{out}-broadcast").into();
            let wk = Key::from(&*whole);
            let mut tasks = vec![(
                wk.clone(),
                match all(right, nr) {
                    Arg::Task(t) => GNode::Task(*t),
                    _ => unreachable!("all() builds a task"),
                },
            )];
            for i in 0..nl {
                push(i, key(left, i), Arg::Key(wk.clone()));
            }
            tasks.append(&mut nodes);
            return tasks;
        }
        JoinStrategy::BroadcastLeft => {
            let whole: Arc<str> = format!("{out}-broadcast").into();
            let wk = Key::from(&*whole);
            let mut tasks = vec![(
                wk.clone(),
                match all(left, nl) {
                    Arg::Task(t) => GNode::Task(*t),
                    _ => unreachable!("all() builds a task"),
                },
            )];
            for i in 0..nr {
                push(i, Arg::Key(wk.clone()), key(right, i));
            }
            tasks.append(&mut nodes);
            return tasks;
        }
    }
    nodes
}
