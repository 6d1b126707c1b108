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
    /// Every left row with every right row (no keys). With a one-row right side this adds
    /// its columns to every left row.
    Cross,
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
            How::Cross => JoinType::Cross,
        }
    }

    /// Whether the left side may be broadcast (the right side is kept whole).
    pub(crate) fn can_broadcast_left(self) -> bool {
        matches!(self, How::Inner | How::Right | How::Cross)
    }

    /// Whether the right side may be broadcast.
    pub(crate) fn can_broadcast_right(self) -> bool {
        matches!(
            self,
            How::Inner | How::Left | How::Semi | How::Anti | How::Cross
        )
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
    /// Keep the left rows' order (a window's aggregates joined back).
    #[serde(default)]
    pub keep_left_order: bool,
}
brisk_core::register_serde_type!(JoinSpec);

impl JoinSpec {
    /// Join two frames (an inner join on one integer key through [`crate::fastjoin`]).
    pub fn join(&self, left: PlFrame, right: PlFrame) -> PolarsResult<PlFrame> {
        if left.height() > 0
            && right.height() > 0
            && let Some(joined) = crate::fastjoin::try_join(self, &left, &right)
        {
            return joined;
        }
        self.polars_join(left, right)
    }

    /// Join two frames with Polars' join.
    pub(crate) fn polars_join(&self, left: PlFrame, right: PlFrame) -> PolarsResult<PlFrame> {
        let mut args =
            JoinArgs::new(self.how.polars()).with_suffix(Some(self.suffix.as_str().into()));
        args.nulls_equal = self.nulls_equal;
        if self.how == How::Outer {
            args = args.with_coalesce(JoinCoalesce::CoalesceColumns);
        }
        if self.keep_left_order {
            args.maintain_order = polars::prelude::MaintainOrderJoin::Left;
        }
        if self.how == How::Cross {
            return left
                .lazy()
                .cross_join(right.lazy(), Some(self.suffix.as_str().into()))
                .collect();
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

/// Options of [`crate::DataFrame::join_with`].
#[derive(Debug, Clone)]
#[must_use]
pub struct JoinOptions {
    how: How,
    left_on: Vec<String>,
    right_on: Vec<String>,
    suffix: String,
    broadcast: Option<bool>,
    npartitions: Option<usize>,
    method: Option<crate::ShuffleMethod>,
    nulls_equal: bool,
    keep_left_order: bool,
}

impl JoinOptions {
    /// Join on `left_on` (left side) and `right_on` (right side).
    pub fn new(
        left_on: impl crate::IntoColumns,
        right_on: impl crate::IntoColumns,
        how: How,
    ) -> JoinOptions {
        JoinOptions {
            how,
            left_on: left_on.into_columns(),
            right_on: right_on.into_columns(),
            suffix: "_right".into(),
            broadcast: None,
            npartitions: None,
            method: None,
            nulls_equal: false,
            keep_left_order: false,
        }
    }

    /// The suffix of right columns whose names clash with left ones (default `"_right"`).
    pub fn suffix(mut self, s: impl Into<String>) -> Self {
        self.suffix = s.into();
        self
    }

    /// Force (`Some(true)`) or forbid (`Some(false)`) broadcasting the smaller side; by default
    /// a side with one partition is broadcast.
    pub fn broadcast(mut self, b: Option<bool>) -> Self {
        self.broadcast = b;
        self
    }

    /// Partitions of a shuffled join's result (default: the larger side's count).
    pub fn npartitions(mut self, n: usize) -> Self {
        self.npartitions = Some(n);
        self
    }

    /// How the shuffle moves data (default: `BRISK_SHUFFLE`, else disk).
    pub fn shuffle_method(mut self, m: crate::ShuffleMethod) -> Self {
        self.method = Some(m);
        self
    }

    /// Let null keys match each other (as pandas does).
    pub fn nulls_equal(mut self, yes: bool) -> Self {
        self.nulls_equal = yes;
        self
    }

    /// Keep the left rows in their order within each partition.
    pub(crate) fn keep_left_order(mut self) -> Self {
        self.keep_left_order = true;
        self
    }
}

impl crate::DataFrame {
    /// Join with `other` on columns of the same names: `a.merge(&b, "id", How::Left)`.
    pub fn merge(
        &self,
        other: &crate::DataFrame,
        on: impl crate::IntoColumns,
        how: How,
    ) -> Result<crate::DataFrame> {
        let on = on.into_columns();
        self.join_with(other, JoinOptions::new(on.clone(), on, how))
    }

    /// Join with `other` on `left_on` = `right_on`.
    pub fn join(
        &self,
        other: &crate::DataFrame,
        left_on: impl crate::IntoColumns,
        right_on: impl crate::IntoColumns,
        how: How,
    ) -> Result<crate::DataFrame> {
        self.join_with(other, JoinOptions::new(left_on, right_on, how))
    }

    /// Join with `other` as `options` say. A side with one partition (or any side, with
    /// `broadcast(Some(true))`) is broadcast to every partition of the other when the join kind
    /// allows it; otherwise both sides are shuffled by a hash of their keys.
    pub fn join_with(&self, other: &crate::DataFrame, o: JoinOptions) -> Result<crate::DataFrame> {
        use crate::node::{Node, Op};
        use crate::shuffle::Partitioner;
        let (ls, rs) = (self.schema(), other.schema());
        if o.how == How::Cross {
            if !(o.left_on.is_empty() && o.right_on.is_empty()) {
                return Err(DataFrameError::invalid(
                    "join keys",
                    "a cross join takes no keys",
                ));
            }
        } else if o.left_on.is_empty() || o.left_on.len() != o.right_on.len() {
            return Err(DataFrameError::invalid(
                "join keys",
                format!(
                    "give the same positive number of left and right keys (got {} and {})",
                    o.left_on.len(),
                    o.right_on.len()
                ),
            ));
        }
        crate::reduce::check_columns("join (left keys)", &ls, &o.left_on)?;
        crate::reduce::check_columns("join (right keys)", &rs, &o.right_on)?;
        let (nl, nr) = (self.npartitions(), other.npartitions());
        let broadcast_right = o.how.can_broadcast_right()
            && match o.broadcast {
                Some(true) => nr <= nl,
                Some(false) => false,
                None => nr == 1 || (o.how == How::Cross && nr <= nl),
            };
        let broadcast_left = !broadcast_right
            && o.how.can_broadcast_left()
            && match o.broadcast {
                Some(true) => nl <= nr,
                Some(false) => false,
                None => nl == 1 || o.how == How::Cross,
            };
        if o.broadcast == Some(true) && !broadcast_left && !broadcast_right {
            return Err(DataFrameError::invalid(
                "broadcast",
                format!(
                    "a {:?} join cannot broadcast its smaller side; use broadcast(None)",
                    o.how
                ),
            ));
        }
        let mut spec = JoinSpec {
            left_on: o.left_on.clone(),
            right_on: o.right_on.clone(),
            how: o.how,
            suffix: o.suffix.clone(),
            nulls_equal: o.nulls_equal,
            strategy: JoinStrategy::Partitionwise,
            keep_left_order: o.keep_left_order,
        };
        let schema = spec
            .output_schema(&ls, &rs)
            .map_err(DataFrameError::polars("join"))?;
        let (left, right, n) = if nl == 1 && nr == 1 {
            (self.clone(), other.clone(), 1)
        } else if broadcast_right {
            spec.strategy = JoinStrategy::BroadcastRight;
            (self.clone(), other.clone(), nl)
        } else if broadcast_left {
            spec.strategy = JoinStrategy::BroadcastLeft;
            (self.clone(), other.clone(), nr)
        } else {
            let n = o.npartitions.unwrap_or(nl.max(nr));
            if n == 0 {
                return Err(DataFrameError::invalid("npartitions", "must be at least 1"));
            }
            let mut cast = Vec::new();
            for (l, r) in o.left_on.iter().zip(&o.right_on) {
                let (a, b) = (ls.get(l).cloned(), rs.get(r).cloned());
                let (Some(a), Some(b)) = (a, b) else { continue };
                let t = polars_core::utils::try_get_supertype(&a, &b)
                    .map_err(DataFrameError::polars("join (key types)"))?;
                cast.push(t);
            }
            let method = match o.method {
                Some(m) => m,
                None => crate::ShuffleMethod::from_env()?,
            };
            let l = self.shuffle_node(
                Partitioner::Hash {
                    columns: o.left_on.clone(),
                    cast: cast.clone(),
                    npartitions: n,
                },
                None,
                method,
            );
            let r = other.shuffle_node(
                Partitioner::Hash {
                    columns: o.right_on.clone(),
                    cast,
                    npartitions: n,
                },
                None,
                method,
            );
            (l, r, n)
        };
        Ok(crate::DataFrame::from_node(Node::new(
            Op::Join {
                left: Arc::clone(&left.node),
                right: Arc::clone(&right.node),
                spec: Arc::new(spec),
            },
            schema,
            n,
            None,
        )))
    }
}
