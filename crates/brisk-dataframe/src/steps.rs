//! Partition-wise steps: what `select`, `filter`, `with_columns`, `map_partitions`, … do to
//! each partition. Consecutive steps are kept in one list and run as one Polars lazy query per
//! partition, in one task.
//!
//! The same [`apply`] runs on an empty frame at build time, which is how every operation knows
//! its output schema before anything is computed, and how bad column names or types are
//! reported at once.

use std::fmt;
use std::sync::Arc;

use polars::prelude::{
    DataFrame as PlFrame, Expr, IntoLazy, LazyFrame, PolarsResult, Schema, SchemaRef,
    SortMultipleOptions, UniqueKeepStrategy, cols,
};
use serde::{Deserialize, Serialize};

use crate::columns::{ColumnSet, expr_columns, exprs_columns, output_name};

/// One partition-wise step.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) enum Step {
    /// Keep these expressions' results.
    Select(Vec<Expr>),
    /// Keep the rows where the predicate holds.
    Filter(Expr),
    /// Add or replace columns.
    WithColumns(Vec<Expr>),
    /// Drop columns (those absent are ignored at run time; checked at build time).
    Drop(Vec<String>),
    /// Rename columns.
    Rename {
        /// Old names.
        existing: Vec<String>,
        /// New names.
        new: Vec<String>,
    },
    /// Sort the partition.
    Sort {
        /// Columns to sort by.
        by: Vec<String>,
        /// Per column: descending?
        descending: Vec<bool>,
        /// Nulls after the values.
        nulls_last: bool,
    },
    /// Drop duplicate rows within the partition.
    Unique {
        /// Columns that decide duplicates (`None`: all).
        subset: Option<Vec<String>>,
        /// Which duplicate to keep.
        keep: UniqueKeepStrategy,
    },
    /// Drop rows with nulls (in `subset`, or in any column).
    DropNulls(Option<Vec<String>>),
    /// The first `n` rows.
    Head(usize),
    /// The last `n` rows.
    Tail(usize),
    /// A group-by of the partition (after a shuffle put each group in one partition).
    GroupBy {
        /// Key columns.
        keys: Vec<String>,
        /// Aggregation expressions.
        aggs: Vec<Expr>,
    },
    /// A user function (in-process only).
    Udf(Udf),
}

type UdfFn = dyn Fn(PlFrame) -> PolarsResult<PlFrame> + Send + Sync;

/// A user function over a partition. A closure runs in this process only (encoding a graph
/// holding one is a clear error); a function registered with `#[brisk::func]` travels by its
/// name and runs on a cluster's workers.
#[derive(Clone)]
pub(crate) struct Udf {
    /// A label for messages.
    pub label: String,
    /// The function.
    pub f: Arc<UdfFn>,
    /// The registered function behind `f`, when there is one.
    pub func: Option<brisk_core::Func>,
    /// The schema every partition must have afterwards.
    pub schema: SchemaRef,
}

impl Udf {
    /// A registered function (`fn(DataFrame) -> PolarsResult<DataFrame>`) as a partition step.
    pub(crate) fn from_func(label: String, func: brisk_core::Func, schema: SchemaRef) -> Udf {
        let call = func.clone();
        let f = move |df: PlFrame| -> PolarsResult<PlFrame> {
            let out = call
                .call(&[brisk_core::Value::new(df)])
                .map_err(|e| polars::prelude::polars_err!(ComputeError: "{}", e))?;
            out.downcast_ref::<PlFrame>().cloned().map_err(
                |m| polars::prelude::polars_err!(ComputeError: "map_partitions({}): {}", call.label(), m),
            )
        };
        Udf {
            label,
            f: Arc::new(f),
            func: Some(func),
            schema,
        }
    }
}

/// What a registered user function's step sends: its name, label and declared schema.
#[derive(Serialize, Deserialize)]
struct WireUdf {
    label: String,
    name: String,
    schema: Schema,
}

impl Serialize for Udf {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let Some(name) = self.func.as_ref().and_then(|f| f.name()) else {
            return Err(serde::ser::Error::custom(format!(
                "map_partitions({}) holds a closure, which cannot cross a process boundary: \
                 make it a `fn(DataFrame) -> PolarsResult<DataFrame>` marked `#[brisk::func]`, \
                 use Polars expressions (select/with_columns), or the threaded scheduler",
                self.label
            )));
        };
        WireUdf {
            label: self.label.clone(),
            name: name.to_string(),
            schema: (*self.schema).clone(),
        }
        .serialize(ser)
    }
}

impl<'de> Deserialize<'de> for Udf {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let w = WireUdf::deserialize(de)?;
        let func = brisk_core::Func::by_name(&w.name).map_err(serde::de::Error::custom)?;
        Ok(Udf::from_func(w.label, func, Arc::new(w.schema)))
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Select(e) => write!(f, "select{e:?}"),
            Step::Filter(e) => write!(f, "filter({e:?})"),
            Step::WithColumns(e) => write!(f, "with_columns{e:?}"),
            Step::Drop(c) => write!(f, "drop{c:?}"),
            Step::Rename { existing, new } => write!(f, "rename({existing:?} -> {new:?})"),
            Step::Sort { by, descending, .. } => {
                write!(f, "sort({by:?}, descending={descending:?})")
            }
            Step::Unique { subset, keep } => write!(f, "unique({subset:?}, {keep:?})"),
            Step::DropNulls(s) => write!(f, "drop_nulls({s:?})"),
            Step::Head(n) => write!(f, "head({n})"),
            Step::Tail(n) => write!(f, "tail({n})"),
            Step::GroupBy { keys, aggs } => write!(f, "group_by({keys:?}).agg({aggs:?})"),
            Step::Udf(u) => write!(f, "map_partitions({})", u.label),
        }
    }
}

/// A list of steps, shared by every partition's task.
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct Steps(pub Vec<Step>);
brisk_core::register_serde_type!(Steps);

impl fmt::Debug for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl Step {
    /// A short name for task labels and layer names.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Select(_) => "select",
            Step::Filter(_) => "filter",
            Step::WithColumns(_) => "with-columns",
            Step::Drop(_) => "drop",
            Step::Rename { .. } => "rename",
            Step::Sort { .. } => "sort",
            Step::Unique { .. } => "unique",
            Step::DropNulls(_) => "drop-nulls",
            Step::Head(_) => "head",
            Step::Tail(_) => "tail",
            Step::GroupBy { .. } => "groupby-agg",
            Step::Udf(_) => "map-partitions",
        }
    }

    /// Whether the step only drops rows (so it commutes with reading: a predicate).
    pub fn is_filter(&self) -> bool {
        matches!(self, Step::Filter(_))
    }

    /// The columns this step needs from its input so that its output has `needed`.
    pub fn needs(&self, needed: &ColumnSet) -> ColumnSet {
        let mut n = needed.clone();
        match self {
            Step::Select(exprs) => return exprs_columns(exprs),
            Step::Filter(p) => n.union(&expr_columns(p)),
            Step::WithColumns(exprs) => {
                for e in exprs {
                    match output_name(e) {
                        Some(name) => n.remove(&name),
                        None => return ColumnSet::All,
                    }
                }
                n.union(&exprs_columns(exprs));
            }
            Step::Drop(cols) => {
                for c in cols {
                    n.remove(c);
                }
            }
            Step::Rename { existing, new } => {
                if let ColumnSet::Some(set) = needed {
                    let mut out = std::collections::BTreeSet::new();
                    for c in set {
                        match new.iter().position(|x| x == c) {
                            Some(i) => out.insert(existing[i].clone()),
                            None => out.insert(c.clone()),
                        };
                    }
                    n = ColumnSet::Some(out);
                }
            }
            Step::Sort { by, .. } => n.union(&ColumnSet::of(by)),
            Step::Unique {
                subset: Some(s), ..
            }
            | Step::DropNulls(Some(s)) => n.union(&ColumnSet::of(s)),
            Step::Unique { subset: None, .. } | Step::DropNulls(None) | Step::Udf(_) => {
                return ColumnSet::All;
            }
            Step::Head(_) | Step::Tail(_) => {}
            Step::GroupBy { keys, aggs } => {
                let mut s = exprs_columns(aggs);
                s.union(&ColumnSet::of(keys));
                return s;
            }
        }
        n
    }
}

/// The columns `steps` need from their input so that their output has `needed`.
pub(crate) fn steps_need(steps: &[Step], needed: &ColumnSet) -> ColumnSet {
    let mut n = needed.clone();
    for s in steps.iter().rev() {
        n = s.needs(&n);
    }
    n
}

fn lazy_step(lf: LazyFrame, step: &Step) -> LazyFrame {
    match step {
        Step::Select(e) => lf.select(e),
        Step::Filter(p) => lf.filter(p.clone()),
        Step::WithColumns(e) => lf.with_columns(e),
        Step::Drop(c) => lf.drop(polars::prelude::Selector::ByName {
            names: c.iter().map(|s| s.as_str().into()).collect(),
            strict: false,
        }),
        Step::Rename { existing, new } => lf.rename(existing, new, false),
        Step::Sort {
            by,
            descending,
            nulls_last,
        } => lf.sort(
            by.iter().map(String::as_str).collect::<Vec<_>>(),
            SortMultipleOptions::default()
                .with_order_descending_multi(descending.clone())
                .with_nulls_last(*nulls_last)
                .with_maintain_order(true),
        ),
        Step::Unique { subset, keep } => lf.unique_stable(
            subset.as_ref().map(|s| cols(s.iter().map(String::as_str))),
            *keep,
        ),
        Step::DropNulls(subset) => {
            lf.drop_nulls(subset.as_ref().map(|s| cols(s.iter().map(String::as_str))))
        }
        Step::Head(n) => lf.limit(*n as polars::prelude::IdxSize),
        Step::Tail(n) => lf.tail(*n as polars::prelude::IdxSize),
        Step::GroupBy { keys, aggs } => lf
            .group_by(
                keys.iter()
                    .map(|k| polars::prelude::col(k.as_str()))
                    .collect::<Vec<_>>(),
            )
            .agg(aggs),
        Step::Udf(_) => lf,
    }
}

/// Run `steps` on `df`: runs of expression steps as one lazy query each, user functions in
/// between.
pub(crate) fn apply(df: PlFrame, steps: &[Step]) -> PolarsResult<PlFrame> {
    let mut df = df;
    let mut i = 0;
    while i < steps.len() {
        if let Step::Udf(u) = &steps[i] {
            df = (u.f)(df)?;
            if df.schema().as_ref() != u.schema.as_ref() {
                polars::prelude::polars_bail!(SchemaMismatch:
                    "map_partitions({}) returned a partition with schema {}, but {} was declared; \
                     pass the right schema to map_partitions_with_schema",
                    u.label,
                    crate::partition::schema_text(df.schema()),
                    crate::partition::schema_text(&u.schema)
                );
            }
            i += 1;
            continue;
        }
        let mut lf = df.lazy();
        while i < steps.len() && !matches!(steps[i], Step::Udf(_)) {
            lf = lazy_step(lf, &steps[i]);
            i += 1;
        }
        df = lf.collect()?;
    }
    Ok(df)
}

/// The schema after `steps`, found by running them on an empty frame of `schema`.
pub(crate) fn schema_after(schema: &Schema, steps: &[Step]) -> PolarsResult<SchemaRef> {
    let mut lf = PlFrame::empty_with_schema(schema).lazy();
    let mut out = None;
    for s in steps {
        if let Step::Udf(u) = s {
            lf = PlFrame::empty_with_schema(&u.schema).lazy();
            out = Some(u.schema.clone());
            continue;
        }
        lf = lazy_step(lf, s);
        out = None;
    }
    match out {
        Some(s) => Ok(s),
        None => lf.collect_schema(),
    }
}

/// Kernel: run the steps on one partition.
pub(crate) fn map_partition(
    df: Arc<PlFrame>,
    steps: Arc<Steps>,
) -> Result<brisk_core::Value, crate::error::DataFrameError> {
    apply((*df).clone(), &steps.0)
        .map(crate::partition::value)
        .map_err(crate::error::DataFrameError::polars("partition-wise step"))
}

brisk_core::register!(map_partition as "brisk_dataframe.map_partition");
