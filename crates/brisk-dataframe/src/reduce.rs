//! Tree reductions: every partition is reduced to a small partial result (chunk), partial
//! results are merged `split_every` at a time (combine) until few are left, and the last merge
//! produces the answer (aggregate). With `split_out > 1` each chunk's partial result is split by
//! a hash of the group keys, so that many groups spread over several output partitions.
//!
//! What is reduced is a [`Reducer`]: an aggregation (`groupby(..).agg(..)`, `sum`, `nunique`,
//! `value_counts`, `len`, …), duplicate removal, or a quantile sketch.

use std::sync::Arc;

use brisk_core::{Arg, Key, Node as GNode, Task, Value};
use polars::prelude::{
    DataFrame as PlFrame, Engine, Expr, IntoLazy, LazyFrame, PolarsResult, Schema, SchemaRef,
    SortMultipleOptions, UniqueKeepStrategy, col, cols,
};
use polars_core::query_result::QueryResult;
use serde::{Deserialize, Serialize};

use crate::columns::{ColumnSet, exprs_columns};
use crate::error::{DataFrameError, Result};
use crate::fastagg::Fast;
use crate::partition;
use crate::quantile::QuantileSpec;
use crate::steps::{self, Step};

/// An aggregation as three lists of Polars expressions: per partition (by group when there are
/// keys), over concatenated partial results, and once at the end.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct AggSpec {
    /// Group keys (empty: one row for the whole frame).
    pub keys: Vec<String>,
    /// Partial results of one partition.
    pub chunk: Vec<Expr>,
    /// Merging partial results (same output names as `chunk`).
    pub combine: Vec<Expr>,
    /// The answer from the merged partial results (the keys are prepended).
    pub finalize: Vec<Expr>,
    /// Drop rows whose keys are null (pandas' `dropna=True`).
    pub dropna: bool,
    /// Sort the result by the keys.
    pub sort: bool,
    /// Steps applied to the answer (sorting a `value_counts`, …).
    pub post: Vec<Step>,
    /// Run the group-bys on Polars' streaming engine: a hash aggregation that updates
    /// per-group states as it goes, where the in-memory engine first builds a vector of row
    /// indices per group (one allocation per group: ~30% of the CPU time in `malloc`/`free`
    /// with 100k groups per partition). Only for order-insensitive functions.
    #[serde(default)]
    pub streaming: bool,
    /// The same aggregation without Polars' group-by, for one integer key and 64-bit
    /// columns (checked per partition; see [`crate::fastagg`]).
    #[serde(default)]
    pub fast: Option<Fast>,
    /// The label of the layer (not sent to other processes).
    #[serde(skip, default = "default_label")]
    pub label: &'static str,
}

fn default_label() -> &'static str {
    "agg"
}

impl AggSpec {
    /// The chunk step over one partition's query: the null-key filter (`dropna`) and the
    /// group-by, in the same query as what produced the partition.
    pub fn chunk_query(&self, lf: LazyFrame) -> LazyFrame {
        let mut lf = lf;
        if self.dropna
            && let Some(p) = self
                .keys
                .iter()
                .map(|k| col(k.as_str()).is_not_null())
                .reduce(|x, y| x.and(y))
        {
            lf = lf.filter(p);
        }
        grouped(lf, &self.keys, &self.chunk)
    }
}

/// What a tree reduction computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Reducer {
    /// An aggregation.
    Agg(AggSpec),
    /// Duplicate rows removed.
    Unique {
        /// Columns deciding duplicates (`None`: all).
        subset: Option<Vec<String>>,
        /// Which duplicate survives.
        keep: UniqueKeepStrategy,
    },
    /// A quantile sketch of one column.
    Quantiles(QuantileSpec),
}
brisk_core::register_serde_type!(Reducer);

fn grouped(lf: LazyFrame, keys: &[String], exprs: &[Expr]) -> LazyFrame {
    if keys.is_empty() {
        lf.select(exprs)
    } else {
        // Group order does not matter here (results are sorted at the end when asked for);
        // rows keep their order within groups, which is what `first`/`last` need.
        lf.group_by(keys.iter().map(|k| col(k.as_str())).collect::<Vec<_>>())
            .agg(exprs)
    }
}

/// Collect `lf` on the streaming engine when asked (see [`AggSpec::streaming`]).
pub(crate) fn collect(lf: LazyFrame, streaming: bool) -> PolarsResult<PlFrame> {
    if !streaming {
        return lf.collect();
    }
    match lf.collect_with_engine(Engine::Streaming)? {
        QueryResult::Single(df) => Ok(df),
        QueryResult::Multiple(_) => Err(polars::prelude::PolarsError::ComputeError(
            "a group-by query returned several frames".into(),
        )),
    }
}

fn unique(
    df: PlFrame,
    subset: &Option<Vec<String>>,
    keep: UniqueKeepStrategy,
) -> PolarsResult<PlFrame> {
    df.lazy()
        .unique_stable(
            subset.as_ref().map(|s| cols(s.iter().map(String::as_str))),
            keep,
        )
        .collect()
}

impl Reducer {
    /// The layer label.
    pub fn label(&self) -> &'static str {
        match self {
            Reducer::Agg(a) => a.label,
            Reducer::Unique { .. } => "drop-duplicates",
            Reducer::Quantiles(_) => "quantiles",
        }
    }

    /// The partial result of one partition.
    pub fn chunk(&self, df: PlFrame) -> PolarsResult<PlFrame> {
        match self {
            Reducer::Agg(a) => match &a.fast {
                Some(f) if f.chunk.supports(df.schema()) => f.chunk.run(&df),
                _ => collect(a.chunk_query(df.lazy()), a.streaming),
            },
            Reducer::Unique { subset, keep } => unique(df, subset, *keep),
            Reducer::Quantiles(q) => q.chunk(df),
        }
    }

    /// Merge partial results.
    pub fn combine(&self, parts: Vec<PlFrame>, schema: Option<&Schema>) -> PolarsResult<PlFrame> {
        let df = partition::concat(parts, schema).map_err(to_polars)?;
        match self {
            Reducer::Agg(a) => match &a.fast {
                Some(f) if f.combine.supports(df.schema()) => f.combine.run(&df),
                _ => collect(grouped(df.lazy(), &a.keys, &a.combine), a.streaming),
            },
            Reducer::Unique { subset, keep } => unique(df, subset, *keep),
            Reducer::Quantiles(q) => q.combine(df),
        }
    }

    /// The answer from one merged partial result.
    pub fn finalize(&self, df: PlFrame) -> PolarsResult<PlFrame> {
        match self {
            Reducer::Agg(a) => {
                let mut exprs: Vec<Expr> = a.keys.iter().map(|k| col(k.as_str())).collect();
                exprs.extend(a.finalize.iter().cloned());
                let mut lf = df.lazy().select(exprs);
                if a.sort && !a.keys.is_empty() {
                    lf = lf.sort(
                        a.keys.iter().map(String::as_str).collect::<Vec<_>>(),
                        SortMultipleOptions::default()
                            .with_nulls_last(true)
                            .with_maintain_order(true),
                    );
                }
                let df = lf.collect()?;
                steps::apply(df, &a.post)
            }
            Reducer::Unique { .. } => Ok(df),
            Reducer::Quantiles(q) => q.finalize(df),
        }
    }

    /// The columns the reduction reads, when its consumer needs `needed` of its output.
    pub fn needs(&self, needed: &ColumnSet) -> ColumnSet {
        match self {
            Reducer::Agg(a) => {
                let mut s = exprs_columns(&a.chunk);
                s.union(&ColumnSet::of(&a.keys));
                s
            }
            Reducer::Unique { subset: None, .. } => ColumnSet::All,
            Reducer::Unique {
                subset: Some(s), ..
            } => {
                let mut n = needed.clone();
                n.union(&ColumnSet::of(s));
                n
            }
            Reducer::Quantiles(q) => ColumnSet::of([&q.column]),
        }
    }

    /// The columns whose hash decides the output partition with `split_out > 1`.
    pub fn split_columns(&self, schema: &Schema) -> Option<Vec<String>> {
        match self {
            Reducer::Agg(a) if !a.keys.is_empty() => Some(a.keys.clone()),
            Reducer::Unique { subset, .. } => Some(
                subset
                    .clone()
                    .unwrap_or_else(|| schema.iter_names().map(|n| n.to_string()).collect()),
            ),
            _ => None,
        }
    }

    /// The schema of the answer, found by reducing an empty frame of `input`.
    pub fn output_schema(&self, input: &Schema) -> PolarsResult<SchemaRef> {
        let c = self.chunk(partition::empty(input))?;
        let c = self.combine(vec![c], None)?;
        Ok(self.finalize(c)?.schema().clone())
    }
}

fn to_polars(e: DataFrameError) -> polars::prelude::PolarsError {
    polars::prelude::PolarsError::ComputeError(e.to_string().into())
}

fn failed(op: &'static str) -> impl FnOnce(polars::prelude::PolarsError) -> DataFrameError {
    DataFrameError::polars(op)
}

/// Kernel: the partial result of one partition.
pub(crate) fn reduce_chunk(df: Arc<PlFrame>, r: Arc<Reducer>) -> Result<Value> {
    r.chunk((*df).clone())
        .map(partition::value)
        .map_err(failed("reduction (chunk)"))
}

/// Kernel: the partial result of one partition, split into `n` pieces by a hash of the keys.
pub(crate) fn reduce_chunk_split(df: Arc<PlFrame>, r: Arc<Reducer>, n: u64) -> Result<Value> {
    let part = r
        .chunk((*df).clone())
        .map_err(failed("reduction (chunk)"))?;
    let cols = r.split_columns(df.schema()).unwrap_or_default();
    let pieces = crate::shuffle::hash_split(&part, &cols, &[], n as usize)?;
    Ok(Value::list(
        pieces.into_iter().map(partition::value).collect(),
    ))
}

/// Kernel: merge partial results.
pub(crate) fn reduce_combine(parts: Vec<Arc<PlFrame>>, r: Arc<Reducer>) -> Result<Value> {
    let parts = parts.iter().map(|p| (**p).clone()).collect();
    r.combine(parts, None)
        .map(partition::value)
        .map_err(failed("reduction (combine)"))
}

/// Kernel: merge partial results and finish.
pub(crate) fn reduce_aggregate(parts: Vec<Arc<PlFrame>>, r: Arc<Reducer>) -> Result<Value> {
    let parts = parts.iter().map(|p| (**p).clone()).collect();
    let c = r
        .combine(parts, None)
        .map_err(failed("reduction (aggregate)"))?;
    r.finalize(c)
        .map(partition::value)
        .map_err(failed("reduction (aggregate)"))
}

brisk_core::register!(
    reduce_chunk as "brisk_dataframe.reduce_chunk",
    reduce_chunk_split as "brisk_dataframe.reduce_chunk_split",
    reduce_combine as "brisk_dataframe.reduce_combine",
    reduce_aggregate as "brisk_dataframe.reduce_aggregate",
);

/// The tasks of a tree reduction of `n_in` partitions of layer `input` into `split_out`
/// outputs named `(out, j)`.
pub(crate) fn lower(
    out: &Arc<str>,
    input: &Arc<str>,
    n_in: usize,
    reducer: &Arc<Reducer>,
    split_every: usize,
    split_out: usize,
) -> Vec<(Key, GNode)> {
    let r = Value::from_arc(Arc::clone(reducer));
    let chunk_name: Arc<str> = format!("{out}-chunk").into();
    let combine_name: Arc<str> = format!("{out}-combine").into();
    let mut nodes = Vec::new();
    for i in 0..n_in {
        let src = Arg::Key(Key::with_shared_name(input, &[i as u32]));
        let task = if split_out > 1 {
            Task::new(
                reduce_chunk_split,
                vec![
                    src,
                    Arg::Literal(r.clone()),
                    Arg::Literal(Value::from(split_out as u64)),
                ],
            )
        } else {
            Task::new(reduce_chunk, vec![src, Arg::Literal(r.clone())])
        };
        nodes.push((
            Key::with_shared_name(&chunk_name, &[i as u32]),
            GNode::Task(task),
        ));
    }
    for j in 0..split_out {
        let level: Vec<Arg> = (0..n_in)
            .map(|i| {
                let k = Arg::Key(Key::with_shared_name(&chunk_name, &[i as u32]));
                if split_out > 1 {
                    Arg::Task(Box::new(crate::shuffle::piece_task(k, j)))
                } else {
                    k
                }
            })
            .collect();
        let level =
            brisk_core::tree::reduce_levels(level, split_every, false, |depth, g, group| {
                let key = Key::with_shared_name(&combine_name, &[depth, j as u32, g as u32]);
                nodes.push((
                    key.clone(),
                    GNode::Task(Task::new(
                        reduce_combine,
                        vec![Arg::List(group.to_vec()), Arg::Literal(r.clone())],
                    )),
                ));
                Arg::Key(key)
            });
        nodes.push((
            Key::with_shared_name(out, &[j as u32]),
            GNode::Task(Task::new(
                reduce_aggregate,
                vec![Arg::List(level), Arg::Literal(r.clone())],
            )),
        ));
    }
    nodes
}

/// Validate that `names` are columns of `schema`.
pub(crate) fn check_columns(
    operation: &'static str,
    schema: &Schema,
    names: &[String],
) -> Result<()> {
    for n in names {
        if schema.get(n).is_none() {
            return Err(DataFrameError::ColumnNotFound {
                operation,
                column: n.clone(),
                available: partition::names_text(schema.iter_names()),
            });
        }
    }
    Ok(())
}
