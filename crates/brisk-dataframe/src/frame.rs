//! [`DataFrame`]: a lazy, partitioned dataframe whose partitions are Polars `DataFrame`s.
//!
//! Every operation returns a new lazy frame at once, with its schema already known (operations
//! are applied to an empty frame of the input schema, so a bad column name or type is an error
//! right away). Nothing is read or computed until `compute()`, `head()`, `len()`, `persist()`
//! or a writer runs.

use std::sync::{Arc, OnceLock};

use brisk_core::{Collection, ComputeOptions, Key, Layer, TaskFailure, Value};
use polars::prelude::{DataFrame as PlFrame, DataType, Expr, PolarsResult, Schema, SchemaRef, col};

use crate::error::{DataFrameError, Result};
use crate::lower::{Lowered, lower};
use crate::node::{Divisions, Node, NodeRef, Op};
use crate::partition;
use crate::steps::{self, Step, Steps, Udf};

/// A lazy, partitioned dataframe (like `dask.dataframe.DataFrame`, with Polars partitions).
///
/// ```
/// # let _ = brisk_local::LocalScheduler::threaded();
/// use brisk_core::Collection;
/// use brisk_dataframe::DataFrame;
/// use polars::prelude::*;
///
/// let pdf = df!("x" => [1i64, 2, 3, 4, 5, 6], "y" => ["a", "b", "a", "b", "a", "b"])?;
/// let ddf = DataFrame::from_polars(pdf, 3)?;
/// let out = ddf.filter(col("x").gt(lit(2)))?.with_columns([(col("x") * lit(10)).alias("z")])?;
/// assert_eq!(out.columns(), ["x", "y", "z"]);
/// let result = out.compute()?;
/// assert_eq!(result.column("z")?.i64()?.sum(), Some(180));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DataFrame {
    pub(crate) node: NodeRef,
    lowered: Arc<OnceLock<Lowered>>,
}

impl DataFrame {
    pub(crate) fn from_node(node: NodeRef) -> DataFrame {
        DataFrame {
            node,
            lowered: Arc::new(OnceLock::new()),
        }
    }

    /// A lazy frame over an in-memory Polars frame, cut into `npartitions` row slices.
    pub fn from_polars(df: PlFrame, npartitions: usize) -> Result<DataFrame> {
        if npartitions == 0 {
            return Err(DataFrameError::invalid("npartitions", "must be at least 1"));
        }
        let h = df.height();
        let parts = (0..npartitions)
            .map(|i| {
                let s = i * h / npartitions;
                let e = (i + 1) * h / npartitions;
                df.slice(s as i64, e - s)
            })
            .collect();
        Self::from_partitions(parts)
    }

    /// A lazy frame whose partitions are the given frames (which must share one schema).
    pub fn from_partitions(parts: Vec<PlFrame>) -> Result<DataFrame> {
        let Some(first) = parts.first() else {
            return Err(DataFrameError::invalid(
                "partitions",
                "give at least one partition",
            ));
        };
        let schema = partition::schema_of(first);
        for (i, p) in parts.iter().enumerate() {
            if p.schema() != &schema {
                return Err(DataFrameError::PartitionSchema {
                    operation: "from_partitions".into(),
                    partition: i,
                    expected: partition::schema_text(&schema),
                    found: partition::schema_text(p.schema()),
                });
            }
        }
        let n = parts.len();
        let values = parts.into_iter().map(partition::value).collect();
        let src = crate::io::memory::frames(values, "from-polars");
        Ok(Self::from_node(Node::new(
            Op::Scan {
                source: src,
                columns: None,
                predicate: None,
            },
            schema,
            n,
            None,
        )))
    }

    /// The optimized plan as graph layers, built once. The optimizer only fails on a bug (its
    /// rewrites re-derive schemas that were already checked when the frame was built): then
    /// every output task fails with [`DataFrameError::Optimize`], so `compute()` returns that
    /// error instead of running the unoptimized plan, which could silently differ.
    pub(crate) fn lowered(&self) -> &Lowered {
        self.lowered
            .get_or_init(|| lower_or_fail(&self.node, crate::optimize::optimize(&self.node)))
    }

    /// The schema of every partition (known before computing).
    pub fn schema(&self) -> SchemaRef {
        self.node.schema.clone()
    }

    /// The column names.
    pub fn columns(&self) -> Vec<String> {
        self.node
            .schema
            .iter_names()
            .map(|n| n.to_string())
            .collect()
    }

    /// The columns and their types.
    pub fn dtypes(&self) -> Vec<(String, DataType)> {
        self.node
            .schema
            .iter()
            .map(|(n, d)| (n.to_string(), d.clone()))
            .collect()
    }

    /// The number of partitions.
    pub fn npartitions(&self) -> usize {
        self.node.npartitions
    }

    /// The sorted boundaries of the partitions along the index column, when known (after
    /// `set_index`).
    pub fn divisions(&self) -> Option<&Divisions> {
        self.node.divisions.as_deref()
    }

    /// The index column set by `set_index`, if any.
    pub fn index(&self) -> Option<&str> {
        self.divisions().map(|d| d.column.as_str())
    }

    /// How many operations (graph layers) the plan has.
    pub fn num_layers(&self) -> usize {
        self.node.count_nodes()
    }

    // ---- partition-wise operations -------------------------------------------------------

    pub(crate) fn map_step(&self, step: Step, operation: &'static str) -> Result<DataFrame> {
        let schema = steps::schema_after(&self.node.schema, std::slice::from_ref(&step))
            .map_err(DataFrameError::polars(operation))?;
        let divisions = self
            .node
            .divisions
            .clone()
            .filter(|d| preserves_index(&step, &d.column, &self.node.schema, &schema));
        let (input, mut list) = match &self.node.op {
            Op::Map { input, steps } => (Arc::clone(input), steps.0.clone()),
            _ => (Arc::clone(&self.node), Vec::new()),
        };
        list.push(step);
        Ok(Self::from_node(Node::new(
            Op::Map {
                input,
                steps: Arc::new(Steps(list)),
            },
            schema,
            self.node.npartitions,
            divisions,
        )))
    }

    /// Keep the given expressions' results (Polars' `select`). Elementwise expressions run
    /// partition by partition; aggregates (`col("x").sum()`, `col("x") - col("x").mean()`),
    /// windows of aggregates (`.over(..)`), `shift`/`diff`/`rolling_*` and `cum_*` are planned
    /// across partitions so that the answer is the one Polars gives on the whole frame; an
    /// expression that cannot be planned so is [`DataFrameError::NotPartitionable`].
    pub fn select<E: AsRef<[Expr]>>(&self, exprs: E) -> Result<DataFrame> {
        self.planned(crate::planned::Kind::Select, exprs.as_ref().to_vec())
    }

    /// Keep the rows where `predicate` is true.
    pub fn filter(&self, predicate: Expr) -> Result<DataFrame> {
        let dt = steps::schema_after(
            &self.node.schema,
            &[Step::Select(vec![predicate.clone().alias("__predicate")])],
        )
        .map_err(DataFrameError::polars("filter"))?;
        match dt.get("__predicate") {
            Some(DataType::Boolean) | Some(DataType::Null) => {}
            other => {
                return Err(DataFrameError::invalid(
                    "filter predicate",
                    format!(
                        "{predicate:?} has type {}, not Boolean",
                        other.map(|d| d.to_string()).unwrap_or_default()
                    ),
                ));
            }
        }
        self.planned(crate::planned::Kind::Filter, vec![predicate])
    }

    /// Add or replace columns (Polars' `with_columns`), planned across partitions as
    /// [`DataFrame::select`] is.
    pub fn with_columns<E: AsRef<[Expr]>>(&self, exprs: E) -> Result<DataFrame> {
        self.planned(crate::planned::Kind::WithColumns, exprs.as_ref().to_vec())
    }

    /// Add or replace one column.
    pub fn with_column(&self, expr: Expr) -> Result<DataFrame> {
        self.with_columns([expr])
    }

    /// Drop columns.
    pub fn drop<S: AsRef<str>>(&self, columns: impl IntoIterator<Item = S>) -> Result<DataFrame> {
        let cols: Vec<String> = columns
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        crate::reduce::check_columns("drop", &self.node.schema, &cols)?;
        self.map_step(Step::Drop(cols), "drop")
    }

    /// Rename columns: `rename(["a"], ["b"])`.
    pub fn rename<S: AsRef<str>, T: AsRef<str>>(
        &self,
        existing: impl IntoIterator<Item = S>,
        new: impl IntoIterator<Item = T>,
    ) -> Result<DataFrame> {
        let existing: Vec<String> = existing
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        let new: Vec<String> = new.into_iter().map(|s| s.as_ref().to_string()).collect();
        if existing.len() != new.len() {
            return Err(DataFrameError::invalid(
                "rename",
                format!("{} old names but {} new names", existing.len(), new.len()),
            ));
        }
        crate::reduce::check_columns("rename", &self.node.schema, &existing)?;
        self.map_step(Step::Rename { existing, new }, "rename")
    }

    /// Drop rows that have a null in `subset` (or in any column when `None`).
    pub fn drop_nulls(&self, subset: Option<&[&str]>) -> Result<DataFrame> {
        let subset: Option<Vec<String>> = subset.map(|s| s.iter().map(|c| c.to_string()).collect());
        if let Some(s) = &subset {
            crate::reduce::check_columns("drop_nulls", &self.node.schema, s)?;
        }
        self.map_step(Step::DropNulls(subset), "drop_nulls")
    }

    /// Apply `f` to every partition. The output schema is found by calling `f` on an empty
    /// frame; if `f` cannot handle one, use [`DataFrame::map_partitions_with_schema`].
    ///
    /// A closure runs in this process only: a graph holding it cannot go to a cluster. A
    /// `fn(DataFrame) -> PolarsResult<DataFrame>` marked `#[brisk::func]` runs anywhere, a
    /// cluster's workers included.
    pub fn map_partitions<F>(&self, label: &str, f: F) -> Result<DataFrame>
    where
        F: Fn(PlFrame) -> PolarsResult<PlFrame> + Send + Sync + 'static,
    {
        let empty = partition::empty(&self.node.schema);
        let out = f(empty).map_err(DataFrameError::polars("map_partitions (on an empty frame)"))?;
        let schema = partition::schema_of(&out);
        self.map_partitions_with_schema(label, schema, f)
    }

    /// Apply `f` to every partition, declaring the schema it produces (checked on every
    /// partition).
    pub fn map_partitions_with_schema<F>(
        &self,
        label: &str,
        schema: SchemaRef,
        f: F,
    ) -> Result<DataFrame>
    where
        F: Fn(PlFrame) -> PolarsResult<PlFrame> + Send + Sync + 'static,
    {
        let udf = match brisk_core::Func::registered::<F>() {
            Some(func) => Udf::from_func(label.to_string(), func, schema),
            None => Udf {
                label: label.to_string(),
                f: Arc::new(f),
                func: None,
                schema,
            },
        };
        self.map_step(Step::Udf(udf), "map_partitions")
    }

    /// One column as a lazy [`crate::Series`].
    pub fn column(&self, name: &str) -> Result<crate::Series> {
        crate::reduce::check_columns("column", &self.node.schema, &[name.to_string()])?;
        Ok(crate::Series::from_frame(self.select([col(name)])?))
    }

    /// The partitions at `indices`, as a new lazy frame.
    pub fn partitions(&self, indices: &[usize]) -> Result<DataFrame> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.node.npartitions) {
            return Err(DataFrameError::invalid(
                "partition index",
                format!(
                    "{bad} is out of range for {} partitions",
                    self.node.npartitions
                ),
            ));
        }
        if indices.is_empty() {
            return Err(DataFrameError::invalid(
                "partitions",
                "give at least one index",
            ));
        }
        let divisions = self.node.divisions.as_ref().and_then(|d| {
            let contiguous = indices.windows(2).all(|w| w[1] == w[0] + 1);
            contiguous.then(|| {
                Arc::new(Divisions {
                    column: d.column.clone(),
                    bounds: d.bounds.slice(indices[0] as i64, indices.len() + 1),
                })
            })
        });
        Ok(Self::from_node(Node::new(
            Op::Partitions {
                input: Arc::clone(&self.node),
                indices: Arc::new(indices.to_vec()),
            },
            self.node.schema.clone(),
            indices.len(),
            divisions,
        )))
    }

    /// Partition `i`, as a new lazy frame.
    pub fn get_partition(&self, i: usize) -> Result<DataFrame> {
        self.partitions(&[i])
    }

    /// Change the number of partitions by concatenating neighbours or cutting partitions into
    /// equal row slices (no shuffle).
    pub fn repartition(&self, npartitions: usize) -> Result<DataFrame> {
        if npartitions == 0 {
            return Err(DataFrameError::invalid("npartitions", "must be at least 1"));
        }
        let n_in = self.node.npartitions;
        let divisions = self.node.divisions.as_ref().and_then(|d| {
            (npartitions <= n_in).then(|| {
                let groups = crate::repartition::merge_groups(n_in, npartitions);
                let mut idx: Vec<polars::prelude::IdxSize> = groups
                    .iter()
                    .map(|g| g.start as polars::prelude::IdxSize)
                    .collect();
                idx.push(n_in as polars::prelude::IdxSize);
                let bounds = d
                    .bounds
                    .take(&polars::prelude::IdxCa::from_vec("idx".into(), idx))
                    .ok()?;
                Some(Arc::new(Divisions {
                    column: d.column.clone(),
                    bounds,
                }))
            })?
        });
        Ok(Self::from_node(Node::new(
            Op::Repartition {
                input: Arc::clone(&self.node),
            },
            self.node.schema.clone(),
            npartitions,
            divisions,
        )))
    }

    // ---- computing ------------------------------------------------------------------------

    /// Compute every partition and keep them in memory: the returned frame has no work left,
    /// so everything built on it starts from the stored partitions.
    pub fn persist(&self) -> Result<DataFrame> {
        let values = brisk_core::default_scheduler()?.persist(
            &self.graph(),
            &self.output_keys(),
            &ComputeOptions::optimized(),
        )?;
        let src = crate::io::memory::frames(values, "persisted");
        Ok(Self::from_node(Node::new(
            Op::Scan {
                source: src,
                columns: None,
                predicate: None,
            },
            self.node.schema.clone(),
            self.node.npartitions,
            self.node.divisions.clone(),
        )))
    }

    /// The first `n` rows. Computes the first partition (reading only its block), then the
    /// next ones only while fewer than `n` rows have been found.
    pub fn head(&self, n: usize) -> Result<PlFrame> {
        let mut parts = Vec::new();
        let mut have = 0;
        for i in 0..self.node.npartitions {
            if have >= n {
                break;
            }
            let p = self
                .get_partition(i)?
                .map_step(Step::Head(n - have), "head")?
                .compute()?;
            have += p.height();
            parts.push(p);
        }
        partition::concat(parts, Some(&self.node.schema))
    }

    /// The last `n` rows (computes partitions from the end while fewer than `n` were found).
    pub fn tail(&self, n: usize) -> Result<PlFrame> {
        let mut parts = Vec::new();
        let mut have = 0;
        for i in (0..self.node.npartitions).rev() {
            if have >= n {
                break;
            }
            let p = self
                .get_partition(i)?
                .map_step(Step::Tail(n - have), "tail")?
                .compute()?;
            have += p.height();
            parts.push(p);
        }
        parts.reverse();
        partition::concat(parts, Some(&self.node.schema))
    }

    /// The number of rows, lazily (a tree reduction of partition lengths).
    pub fn num_rows(&self) -> Result<crate::Scalar<u64>> {
        let out = self.agg([crate::Agg::size().alias("len")])?;
        Ok(crate::Scalar::new(out, "len"))
    }

    /// The number of rows (computes, like Dask's `len(df)`).
    pub fn len(&self) -> Result<usize> {
        Ok(self.num_rows()?.compute()? as usize)
    }

    /// Whether the frame has no rows (computes).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Compute and return the result as one Polars frame (same as [`Collection::compute`],
    /// with this crate's error type).
    pub fn collect(&self) -> Result<PlFrame> {
        Ok(self.compute()?)
    }
}

/// The layers of the optimized plan, or of tasks that fail with the optimizer's error.
fn lower_or_fail(node: &NodeRef, optimized: Result<NodeRef>) -> Lowered {
    match optimized {
        Ok(opt) => lower(&opt),
        Err(e) => {
            tracing::error!(error = %e, "optimizing a dataframe failed; its tasks will fail");
            crate::lower::failed(node, e.to_string())
        }
    }
}

fn preserves_index(step: &Step, index: &str, before: &Schema, after: &Schema) -> bool {
    if before.get(index) != after.get(index) {
        return false;
    }
    match step {
        Step::Filter(_) | Step::Head(_) | Step::Tail(_) | Step::DropNulls(_) => true,
        Step::Unique { .. } => true,
        Step::Drop(c) => !c.iter().any(|x| x == index),
        Step::Select(exprs) => exprs
            .iter()
            .any(|e| matches!(e, Expr::Column(n) if n == index)),
        Step::WithColumns(exprs) => !exprs
            .iter()
            .any(|e| crate::columns::output_name(e).is_none_or(|n| n == index)),
        Step::Rename { existing, .. } => !existing.iter().any(|x| x == index),
        Step::Sort { .. } | Step::Udf(_) | Step::GroupBy { .. } => false,
    }
}

impl Collection for DataFrame {
    type Output = PlFrame;

    fn layers(&self) -> Vec<Arc<Layer>> {
        vec![Arc::clone(&self.lowered().layer)]
    }

    fn output_keys(&self) -> Vec<Key> {
        self.lowered().keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<PlFrame, brisk_core::Error> {
        let first = self.lowered().key(0);
        let fail = |e: DataFrameError| brisk_core::Error::TaskFailed {
            key: first.clone(),
            failure: Box::new(TaskFailure::from_error(Box::new(e))),
        };
        let frames = values
            .iter()
            .map(partition::frame)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|f| brisk_core::Error::TaskFailed {
                key: first.clone(),
                failure: Box::new(f),
            })?;
        partition::concat(frames, Some(&self.node.schema)).map_err(fail)
    }
}

/// Concatenate lazy frames (their partitions one after another). They must share a schema.
pub fn concat(frames: &[DataFrame]) -> Result<DataFrame> {
    let Some(first) = frames.first() else {
        return Err(DataFrameError::invalid("concat", "give at least one frame"));
    };
    for (i, f) in frames.iter().enumerate() {
        if f.node.schema != first.node.schema {
            return Err(DataFrameError::PartitionSchema {
                operation: format!("concat (frame {i})"),
                partition: 0,
                expected: partition::schema_text(&first.node.schema),
                found: partition::schema_text(&f.node.schema),
            });
        }
    }
    let n = frames.iter().map(|f| f.node.npartitions).sum();
    Ok(DataFrame::from_node(Node::new(
        Op::Concat {
            inputs: frames.iter().map(|f| Arc::clone(&f.node)).collect(),
        },
        first.node.schema.clone(),
        n,
        None,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_optimizer_is_an_error_not_an_unoptimized_run() {
        let _ = brisk_local::LocalScheduler::threaded();
        let pdf = polars::df!("x" => [1i64, 2, 3]).unwrap();
        let df = DataFrame::from_polars(pdf, 2).unwrap();
        let broken = lower_or_fail(
            &df.node,
            Err(DataFrameError::invalid("test", "a rewrite went wrong")),
        );
        assert!(df.lowered.set(broken).is_ok());
        let err = df.compute().unwrap_err().to_string();
        assert!(
            err.contains("optimizing the dataframe plan failed")
                && err.contains("a rewrite went wrong"),
            "{err}"
        );
    }
}
