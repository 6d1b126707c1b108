//! Order-dependent expressions across partition boundaries (Dask's `map_overlap`, plus
//! carried cumulative values).
//!
//! The rows of a frame are its partitions one after another, so `shift`, `diff`, `rolling_*`
//! and `cum_*` have the answer Polars gives on the concatenated frame when each partition
//! sees what it needs of its neighbours:
//! - **context rows**: partition `i` is evaluated on `before_i ++ part_i ++ after_i`, where
//!   `before_i` is the last `before` rows of everything before it (a chain of small tasks:
//!   `before_{i+1} = tail(before_i ++ part_i)`, so a partition shorter than the reach is no
//!   problem) and `after_i` the first `after` rows of everything after it; the rows of
//!   `part_i` are then sliced out;
//! - **carries**: for `cum_sum(x)` each partition's total `sum(x)` is combined along the
//!   chain into the total of everything before it, which is added to the partition's own
//!   `cum_sum` (maxima for `cum_max`, products for `cum_prod`, counts for `cum_count`; from the
//!   end for `reverse`).
//!
//! The step runs as `with_columns` on the extended frame, then the `post` steps (a select
//! or a filter on the computed predicate) on the sliced rows.

use std::sync::Arc;

use brisk_core::{Arg, Key, Node as GNode, Task, Value};
use polars::prelude::{
    Column, DataFrame as PlFrame, Expr, IntoLazy, PolarsResult, Scalar, Schema, col,
};
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};
use crate::exprplan::CumKind;
use crate::partition;
use crate::steps::{self, Step};

/// One carried aggregate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CarrySpec {
    /// The carry column the step reads.
    pub name: String,
    /// The function.
    pub kind: CumKind,
    /// Its input.
    pub input: Expr,
    /// From the end.
    pub reverse: bool,
}

impl CarrySpec {
    /// The partition's total, aliased to the carry's name.
    fn chunk(&self) -> Expr {
        let x = self.input.clone();
        let e = match self.kind {
            CumKind::Sum => x.sum(),
            CumKind::Count => x.count(),
            CumKind::Min => x.min(),
            CumKind::Max => x.max(),
            // (Polars' `product` needs a feature this crate does not build.)
            CumKind::Prod => x.drop_nulls().cum_prod(false).last(),
        };
        e.alias(self.name.as_str())
    }

    /// Totals merged.
    fn combine(&self) -> Expr {
        let c = col(self.name.as_str());
        let e = match self.kind {
            CumKind::Sum | CumKind::Count => c.sum(),
            CumKind::Min => c.min(),
            CumKind::Max => c.max(),
            CumKind::Prod => c.drop_nulls().cum_prod(false).last(),
        };
        e.alias(self.name.as_str())
    }
}

/// What an ordered step computes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OrderedSpec {
    /// Rows of context before each partition.
    pub before: usize,
    /// Rows of context after each partition.
    pub after: usize,
    /// Carried aggregates.
    pub carries: Vec<CarrySpec>,
    /// `with_columns` expressions over the extended frame.
    pub exprs: Vec<Expr>,
    /// Steps on the partition's own rows afterwards.
    pub post: Vec<Step>,
}
brisk_core::register_serde_type!(OrderedSpec);

impl OrderedSpec {
    fn chunk_exprs(&self, reverse: bool) -> Vec<Expr> {
        self.carries
            .iter()
            .filter(|c| c.reverse == reverse)
            .map(CarrySpec::chunk)
            .collect()
    }

    fn combine_exprs(&self, reverse: bool) -> Vec<Expr> {
        self.carries
            .iter()
            .filter(|c| c.reverse == reverse)
            .map(CarrySpec::combine)
            .collect()
    }

    /// Run the step on one partition, given its context and carries.
    pub fn run(
        &self,
        before: &PlFrame,
        part: &PlFrame,
        after: &PlFrame,
        carries: &[&PlFrame],
    ) -> PolarsResult<PlFrame> {
        let mut df = before.clone();
        df.vstack_mut(part)?;
        df.vstack_mut(after)?;
        let height = df.height();
        let mut extra: Vec<Column> = Vec::new();
        for c in carries {
            for column in c.columns() {
                let value = if column.is_empty() {
                    polars::prelude::AnyValue::Null
                } else {
                    column.get(0)?.into_static()
                };
                extra.push(Column::new_scalar(
                    column.name().clone(),
                    Scalar::new(column.dtype().clone(), value),
                    height,
                ));
            }
        }
        if !extra.is_empty() {
            df = df.hstack(&extra)?;
        }
        let names: Vec<String> = extra.iter().map(|c| c.name().to_string()).collect();
        let mut lf = df.lazy().with_columns(&self.exprs);
        if !names.is_empty() {
            lf = lf.drop(polars::prelude::Selector::ByName {
                names: names.iter().map(|s| s.as_str().into()).collect(),
                strict: false,
            });
        }
        let out = lf.collect()?;
        let out = out.slice(before.height() as i64, part.height());
        steps::apply(out, &self.post)
    }

    /// The schema after the step, over partitions of `schema`.
    pub fn output_schema(&self, schema: &Schema) -> PolarsResult<polars::prelude::SchemaRef> {
        let empty = partition::empty(schema);
        let mut carries = Vec::new();
        for reverse in [false, true] {
            let exprs = self.chunk_exprs(reverse);
            if !exprs.is_empty() {
                carries.push(empty.clone().lazy().select(&exprs).collect()?);
            }
        }
        let refs: Vec<&PlFrame> = carries.iter().collect();
        Ok(self.run(&empty, &empty, &empty, &refs)?.schema().clone())
    }
}

fn frames(v: &[Arc<PlFrame>]) -> Vec<PlFrame> {
    v.iter().map(|f| (**f).clone()).collect()
}

/// Kernel: the last `n` rows of the context before a partition and the partition.
pub(crate) fn ordered_tail(prev: Arc<PlFrame>, part: Arc<PlFrame>, n: u64) -> Result<Value> {
    let df = partition::concat(frames(&[prev, part]), None)?;
    Ok(partition::value(df.tail(Some(n as usize))))
}

/// Kernel: the first `n` rows of a partition and the context after it.
pub(crate) fn ordered_head(part: Arc<PlFrame>, next: Arc<PlFrame>, n: u64) -> Result<Value> {
    let df = partition::concat(frames(&[part, next]), None)?;
    Ok(partition::value(df.head(Some(n as usize))))
}

/// Kernel: a partition's totals for the carries in one direction.
pub(crate) fn ordered_chunk(
    part: Arc<PlFrame>,
    spec: Arc<OrderedSpec>,
    reverse: bool,
) -> Result<Value> {
    (*part)
        .clone()
        .lazy()
        .select(spec.chunk_exprs(reverse))
        .collect()
        .map(partition::value)
        .map_err(DataFrameError::polars("cumulative carry (chunk)"))
}

/// Kernel: the carry after one more partition (`prev` totals merged with `chunk`'s);
/// `first` starts the chain from `chunk`'s empty slice.
pub(crate) fn ordered_carry(
    prev: Arc<PlFrame>,
    chunk: Arc<PlFrame>,
    spec: Arc<OrderedSpec>,
    reverse: bool,
) -> Result<Value> {
    partition::concat(frames(&[prev, chunk]), None)?
        .lazy()
        .select(spec.combine_exprs(reverse))
        .collect()
        .map(partition::value)
        .map_err(DataFrameError::polars("cumulative carry (combine)"))
}

/// Kernel: one partition of the step.
pub(crate) fn ordered_partition(
    before: Arc<PlFrame>,
    part: Arc<PlFrame>,
    after: Arc<PlFrame>,
    carries: Vec<Arc<PlFrame>>,
    spec: Arc<OrderedSpec>,
) -> Result<Value> {
    let refs: Vec<&PlFrame> = carries.iter().map(|c| c.as_ref()).collect();
    spec.run(&before, &part, &after, &refs)
        .map(partition::value)
        .map_err(DataFrameError::polars("order-dependent step"))
}

brisk_core::register!(
    ordered_tail as "brisk_dataframe.ordered_tail",
    ordered_head as "brisk_dataframe.ordered_head",
    ordered_chunk as "brisk_dataframe.ordered_chunk",
    ordered_carry as "brisk_dataframe.ordered_carry",
    ordered_partition as "brisk_dataframe.ordered_partition",
);

/// The tasks of an ordered step over `n` partitions of layer `input` (schema `schema`).
pub(crate) fn lower(
    out: &Arc<str>,
    input: &Arc<str>,
    n: usize,
    schema: &Schema,
    spec: &Arc<OrderedSpec>,
) -> Vec<(Key, GNode)> {
    let s = Value::from_arc(Arc::clone(spec));
    let key = |name: &Arc<str>, i: usize| Key::with_shared_name(name, &[i as u32]);
    let part = |i: usize| Arg::Key(key(input, i));
    let empty = Arg::Literal(partition::value(partition::empty(schema)));
    let mut nodes = Vec::new();
    let named = |suffix: &str| -> Arc<str> { format!("{out}-{suffix}").into() };
    let before_name = named("before");
    let after_name = named("after");
    let u = |x: usize| Arg::Literal(Value::from(x as u64));
    // Context before: before_0 is empty, before_{i+1} = tail(before_i ++ part_i).
    let before: Vec<Arg> = if spec.before == 0 {
        vec![empty.clone(); n]
    } else {
        let mut v = vec![empty.clone()];
        for i in 1..n {
            let k = key(&before_name, i);
            nodes.push((
                k.clone(),
                GNode::Task(Task::new(
                    ordered_tail,
                    vec![v[i - 1].clone(), part(i - 1), u(spec.before)],
                )),
            ));
            v.push(Arg::Key(k));
        }
        v
    };
    let after: Vec<Arg> = if spec.after == 0 {
        vec![empty.clone(); n]
    } else {
        let mut v = vec![empty.clone(); n];
        for i in (0..n.saturating_sub(1)).rev() {
            let k = key(&after_name, i);
            nodes.push((
                k.clone(),
                GNode::Task(Task::new(
                    ordered_head,
                    vec![part(i + 1), v[i + 1].clone(), u(spec.after)],
                )),
            ));
            v[i] = Arg::Key(k);
        }
        v
    };
    // Carries, one chain per direction.
    let mut carry_args: Vec<Vec<Arg>> = vec![Vec::new(); n];
    for reverse in [false, true] {
        if spec.chunk_exprs(reverse).is_empty() {
            continue;
        }
        let tag = if reverse { "rev" } else { "fwd" };
        let chunk_name = named(&format!("chunk-{tag}"));
        let carry_name = named(&format!("carry-{tag}"));
        let rv = Arg::Literal(Value::from(reverse));
        for i in 0..n {
            nodes.push((
                key(&chunk_name, i),
                GNode::Task(Task::new(
                    ordered_chunk,
                    vec![part(i), Arg::Literal(s.clone()), rv.clone()],
                )),
            ));
        }
        let order: Vec<usize> = if reverse {
            (0..n).rev().collect()
        } else {
            (0..n).collect()
        };
        // The first partition in the chain's direction gets the combine of an empty slice
        // (sum 0, count 0, null extremes); each next one the previous carry merged with the
        // previous partition's totals.
        let mut prev: Option<(Arg, usize)> = None;
        for &i in &order {
            let k = key(&carry_name, i);
            let args = match &prev {
                None => vec![
                    Arg::Task(Box::new(Task::new(
                        ordered_empty_like,
                        vec![Arg::Key(key(&chunk_name, i))],
                    ))),
                    Arg::Task(Box::new(Task::new(
                        ordered_empty_like,
                        vec![Arg::Key(key(&chunk_name, i))],
                    ))),
                    Arg::Literal(s.clone()),
                    rv.clone(),
                ],
                Some((carry, j)) => vec![
                    carry.clone(),
                    Arg::Key(key(&chunk_name, *j)),
                    Arg::Literal(s.clone()),
                    rv.clone(),
                ],
            };
            nodes.push((k.clone(), GNode::Task(Task::new(ordered_carry, args))));
            carry_args[i].push(Arg::Key(k.clone()));
            prev = Some((Arg::Key(k), i));
        }
    }
    for i in 0..n {
        nodes.push((
            key(out, i),
            GNode::Task(Task::new(
                ordered_partition,
                vec![
                    before[i].clone(),
                    part(i),
                    after[i].clone(),
                    Arg::List(std::mem::take(&mut carry_args[i])),
                    Arg::Literal(s.clone()),
                ],
            )),
        ));
    }
    nodes
}

/// Kernel: an empty frame with `df`'s columns.
pub(crate) fn ordered_empty_like(df: Arc<PlFrame>) -> Value {
    partition::value(df.clear())
}

brisk_core::register!(ordered_empty_like as "brisk_dataframe.ordered_empty_like");
