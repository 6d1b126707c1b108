//! `groupby(..).agg(..)` and whole-frame reductions (`sum`, `describe`, `nunique`,
//! `drop_duplicates`, …), all as tree reductions (see [`crate::reduce`]).

use std::sync::Arc;

use polars::prelude::{DataType, UniqueKeepStrategy};

use crate::agg::{Agg, AggFunc};
use crate::error::{DataFrameError, Result};
use crate::frame::DataFrame;
use crate::node::{Node, Op};
use crate::quantile::QuantileSpec;
use crate::reduce::{Reducer, check_columns};

/// Things that name one or more columns: `"a"`, `["a", "b"]`, `vec!["a".to_string()]`.
pub trait IntoColumns {
    /// The names.
    fn into_columns(self) -> Vec<String>;
}

impl IntoColumns for &str {
    fn into_columns(self) -> Vec<String> {
        vec![self.to_string()]
    }
}
impl IntoColumns for String {
    fn into_columns(self) -> Vec<String> {
        vec![self]
    }
}
impl IntoColumns for &[&str] {
    fn into_columns(self) -> Vec<String> {
        self.iter().map(|s| s.to_string()).collect()
    }
}
impl<const N: usize> IntoColumns for [&str; N] {
    fn into_columns(self) -> Vec<String> {
        self.iter().map(|s| s.to_string()).collect()
    }
}
impl IntoColumns for Vec<&str> {
    fn into_columns(self) -> Vec<String> {
        self.into_iter().map(str::to_string).collect()
    }
}
impl IntoColumns for Vec<String> {
    fn into_columns(self) -> Vec<String> {
        self
    }
}
impl IntoColumns for &[String] {
    fn into_columns(self) -> Vec<String> {
        self.to_vec()
    }
}

/// The default number of partial results one combine task merges (Dask's `split_every`).
pub const DEFAULT_SPLIT_EVERY: usize = 8;

impl DataFrame {
    pub(crate) fn reduce(
        &self,
        reducer: Reducer,
        split_every: usize,
        split_out: usize,
    ) -> Result<DataFrame> {
        if split_out == 0 {
            return Err(DataFrameError::invalid("split_out", "must be at least 1"));
        }
        if split_every < 2 {
            return Err(DataFrameError::invalid("split_every", "must be at least 2"));
        }
        let label = reducer.label();
        let schema = reducer
            .output_schema(&self.node.schema)
            .map_err(DataFrameError::polars(label))?;
        Ok(DataFrame::from_node(Node::new(
            Op::Reduce {
                input: Arc::clone(&self.node),
                reducer: Arc::new(reducer),
                split_every,
            },
            schema,
            split_out,
            None,
        )))
    }

    /// Group by Polars expressions: columns, or computed keys (`col("ts").dt().year()`,
    /// `col("k") % lit(10)`), which are added as columns first (planned as `with_columns`).
    pub fn groupby_exprs(
        &self,
        keys: impl IntoIterator<Item = polars::prelude::Expr>,
    ) -> Result<GroupBy> {
        let keys: Vec<polars::prelude::Expr> = keys.into_iter().collect();
        let names = crate::exprplan::output_names("groupby", &keys)?;
        let computed: Vec<polars::prelude::Expr> = keys
            .iter()
            .zip(&names)
            .filter(|(e, _)| !matches!(e, polars::prelude::Expr::Column(_)))
            .map(|(e, n)| e.clone().alias(n.as_str()))
            .collect();
        let frame = if computed.is_empty() {
            self.clone()
        } else {
            self.with_columns(computed)?
        };
        Ok(frame.groupby(names))
    }

    /// Group by one or more key columns: `df.groupby("user_id")`, `df.groupby(["a", "b"])`.
    pub fn groupby(&self, keys: impl IntoColumns) -> GroupBy {
        GroupBy {
            frame: self.clone(),
            keys: keys.into_columns(),
            split_out: 1,
            split_every: DEFAULT_SPLIT_EVERY,
            sort: None,
            dropna: true,
        }
    }

    /// Aggregate the whole frame into one row: `df.agg([Agg::sum("x"), Agg::max("y")])`, or
    /// with Polars expressions (`[col("x").sum().into(), col("y").median().into()]`: then the
    /// same as `select` of those expressions).
    pub fn agg<A: Into<Agg>>(&self, aggs: impl IntoIterator<Item = A>) -> Result<DataFrame> {
        let aggs: Vec<Agg> = aggs.into_iter().map(Into::into).collect();
        if aggs.iter().any(|a| matches!(a.func, AggFunc::Expr(_))) {
            let exprs = aggs
                .iter()
                .map(|a| {
                    a.to_expr().ok_or_else(|| {
                        DataFrameError::invalid(
                            "aggregations",
                            "custom aggregations cannot be mixed with expressions",
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            return self.select(exprs);
        }
        let spec = crate::agg::build("agg", &self.node.schema, &[], &aggs, false, false)?;
        self.reduce(Reducer::Agg(spec), DEFAULT_SPLIT_EVERY, 1)
    }

    fn agg_all(&self, func: AggFunc) -> Result<DataFrame> {
        let cols = eligible(&self.node.schema, &[], &func);
        if cols.is_empty() {
            return Err(DataFrameError::invalid(
                "aggregation",
                format!("the frame has no column that {} applies to", func.name()),
            ));
        }
        self.agg(cols.into_iter().map(|c| Agg::new(c, func.clone())))
    }

    /// The sum of every numeric column (one row).
    pub fn sum(&self) -> Result<DataFrame> {
        self.agg_all(AggFunc::Sum)
    }
    /// The mean of every numeric column (one row).
    pub fn mean(&self) -> Result<DataFrame> {
        self.agg_all(AggFunc::Mean)
    }
    /// The minimum of every column (one row).
    pub fn min(&self) -> Result<DataFrame> {
        self.agg_all(AggFunc::Min)
    }
    /// The maximum of every column (one row).
    pub fn max(&self) -> Result<DataFrame> {
        self.agg_all(AggFunc::Max)
    }
    /// The non-null count of every column (one row).
    pub fn count(&self) -> Result<DataFrame> {
        self.agg_all(AggFunc::Count)
    }
    /// The sample standard deviation of every numeric column (one row).
    pub fn std(&self) -> Result<DataFrame> {
        self.agg_all(AggFunc::Std(1))
    }
    /// The sample variance of every numeric column (one row).
    pub fn var(&self) -> Result<DataFrame> {
        self.agg_all(AggFunc::Var(1))
    }
    /// The number of distinct non-null values of every column (one row).
    pub fn nunique(&self) -> Result<DataFrame> {
        self.agg_all(AggFunc::NUnique)
    }

    /// Summary statistics of the numeric columns: count, null_count, mean, std, min, the
    /// 25/50/75% quantiles (approximate for large data) and max, one row per statistic.
    pub fn describe(&self) -> Result<DataFrame> {
        self.describe_with(&[0.25, 0.5, 0.75])
    }

    /// [`DataFrame::describe`] with other quantiles.
    pub fn describe_with(&self, percentiles: &[f64]) -> Result<DataFrame> {
        if let Some(p) = percentiles.iter().find(|p| !(0.0..=1.0).contains(*p)) {
            return Err(DataFrameError::invalid(
                "percentiles",
                format!("{p} is not in [0, 1]"),
            ));
        }
        let columns: Vec<String> = self
            .node
            .schema
            .iter()
            .filter(|(_, dt)| dt.is_primitive_numeric())
            .map(|(n, _)| n.to_string())
            .collect();
        if columns.is_empty() {
            return Err(DataFrameError::invalid(
                "describe",
                "the frame has no numeric column",
            ));
        }
        let stats = self.agg(crate::describe::describe_aggs(&columns))?;
        let mut inputs = vec![Arc::clone(&stats.node)];
        for c in &columns {
            let q = self.reduce(
                Reducer::Quantiles(QuantileSpec {
                    column: c.clone(),
                    probs: percentiles.to_vec(),
                    size: 1000,
                }),
                DEFAULT_SPLIT_EVERY,
                1,
            )?;
            inputs.push(Arc::clone(&q.node));
        }
        let how = crate::describe::Assemble::Describe {
            columns: columns.clone(),
            percentiles: percentiles.to_vec(),
        };
        let empties: Vec<Arc<polars::prelude::DataFrame>> = inputs
            .iter()
            .map(|n| Arc::new(crate::partition::empty(&n.schema)))
            .collect();
        let schema = how.run(&empties)?.schema().clone();
        Ok(DataFrame::from_node(Node::new(
            Op::Assemble {
                inputs,
                how: Arc::new(how),
            },
            schema,
            1,
            None,
        )))
    }

    /// Drop duplicate rows (judged on `subset`, or on all columns), keeping the first, last
    /// or any of each. `split_out` spreads the result over several partitions.
    pub fn drop_duplicates(
        &self,
        subset: Option<&[&str]>,
        keep: UniqueKeepStrategy,
        split_out: usize,
    ) -> Result<DataFrame> {
        if keep == UniqueKeepStrategy::None {
            return Err(DataFrameError::invalid(
                "keep",
                "UniqueKeepStrategy::None is not supported on partitioned frames; use First, Last or Any",
            ));
        }
        let subset: Option<Vec<String>> = subset.map(|s| s.iter().map(|c| c.to_string()).collect());
        if let Some(s) = &subset {
            check_columns("drop_duplicates", &self.node.schema, s)?;
        }
        self.reduce(
            Reducer::Unique { subset, keep },
            DEFAULT_SPLIT_EVERY,
            split_out,
        )
    }

    /// The distinct rows (any of each, one output partition).
    pub fn unique(&self) -> Result<DataFrame> {
        self.drop_duplicates(None, UniqueKeepStrategy::First, 1)
    }
}

/// The columns of `schema` (besides `keys`) that `func` applies to.
fn eligible(schema: &polars::prelude::Schema, keys: &[String], func: &AggFunc) -> Vec<String> {
    schema
        .iter()
        .filter(|(n, _)| !keys.iter().any(|k| k == n.as_str()))
        .filter(|(_, dt)| match func {
            AggFunc::Sum | AggFunc::Mean | AggFunc::Std(_) | AggFunc::Var(_) => {
                dt.is_primitive_numeric() || matches!(dt, DataType::Boolean)
            }
            _ => true,
        })
        .map(|(n, _)| n.to_string())
        .collect()
}

/// A grouping of a lazy frame by key columns, waiting for aggregations.
///
/// Results have the key columns first, then one column per aggregation, and are sorted by the
/// keys unless `split_out > 1` or `sort(false)`. Rows with a null key are dropped unless
/// `dropna(false)` (pandas' default).
#[derive(Clone)]
#[must_use]
pub struct GroupBy {
    frame: DataFrame,
    keys: Vec<String>,
    split_out: usize,
    split_every: usize,
    sort: Option<bool>,
    dropna: bool,
}

impl GroupBy {
    /// Spread the result over `n` partitions by a hash of the keys (for many groups).
    pub fn split_out(mut self, n: usize) -> Self {
        self.split_out = n;
        self
    }

    /// How many partial results one combine task merges (default 8).
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = n;
        self
    }

    /// Sort the result by the keys (default: when `split_out == 1`).
    pub fn sort(mut self, yes: bool) -> Self {
        self.sort = Some(yes);
        self
    }

    /// Drop groups whose key is null (default `true`, as pandas).
    pub fn dropna(mut self, yes: bool) -> Self {
        self.dropna = yes;
        self
    }

    /// The key columns.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Several aggregations at once: `.agg([Agg::mean("value"), Agg::size()])`, or Polars
    /// aggregation expressions: `.agg([col("v").mean(), (col("a") * col("b")).sum().alias("ab"),
    /// col("v").filter(col("w").gt(lit(0))).sum().alias("pos"), col("v").median(), len()])`.
    ///
    /// Expressions run as tree reductions when every aggregate in them splits into partial
    /// results (sums, counts, means, extremes, first/last, `n_unique`, variances, and any
    /// arithmetic over those); otherwise (a median, a quantile, …) the rows are shuffled by
    /// the keys first and each group is aggregated whole, by Polars. Both give Polars'
    /// answer. Mixing [`Agg`]s and expressions is fine (`Agg::sum("x").into()` …), except
    /// with custom aggregations.
    pub fn agg<A: Into<Agg>>(&self, aggs: impl IntoIterator<Item = A>) -> Result<DataFrame> {
        let aggs: Vec<Agg> = aggs.into_iter().map(Into::into).collect();
        if self.keys.is_empty() {
            return Err(DataFrameError::invalid(
                "groupby",
                "give at least one key column",
            ));
        }
        let sort = self.sort.unwrap_or(self.split_out == 1);
        if aggs.iter().any(|a| matches!(a.func, AggFunc::Expr(_))) {
            let exprs = aggs
                .iter()
                .map(|a| {
                    a.to_expr().ok_or_else(|| {
                        DataFrameError::invalid(
                            "aggregations",
                            format!(
                                "the custom aggregation {} cannot be mixed with expressions",
                                a.output_name()
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            return self.frame.group_exprs(
                &self.keys,
                exprs,
                self.dropna,
                sort,
                self.split_every,
                self.split_out,
            );
        }
        let spec = crate::agg::build(
            "groupby-agg",
            &self.frame.node.schema,
            &self.keys,
            &aggs,
            self.dropna,
            sort,
        )?;
        self.frame
            .reduce(Reducer::Agg(spec), self.split_every, self.split_out)
    }

    fn all(&self, func: AggFunc) -> Result<DataFrame> {
        let cols = eligible(&self.frame.node.schema, &self.keys, &func);
        if cols.is_empty() {
            return Err(DataFrameError::invalid(
                "aggregation",
                format!("no column besides the keys that {} applies to", func.name()),
            ));
        }
        self.agg(cols.into_iter().map(|c| Agg::new(c, func.clone())))
    }

    /// The sum of every numeric non-key column, per group.
    pub fn sum(&self) -> Result<DataFrame> {
        self.all(AggFunc::Sum)
    }
    /// The mean of every numeric non-key column, per group.
    pub fn mean(&self) -> Result<DataFrame> {
        self.all(AggFunc::Mean)
    }
    /// The minimum of every non-key column, per group.
    pub fn min(&self) -> Result<DataFrame> {
        self.all(AggFunc::Min)
    }
    /// The maximum of every non-key column, per group.
    pub fn max(&self) -> Result<DataFrame> {
        self.all(AggFunc::Max)
    }
    /// The non-null count of every non-key column, per group.
    pub fn count(&self) -> Result<DataFrame> {
        self.all(AggFunc::Count)
    }
    /// The sample standard deviation of every numeric non-key column, per group.
    pub fn std(&self) -> Result<DataFrame> {
        self.all(AggFunc::Std(1))
    }
    /// The sample variance of every numeric non-key column, per group.
    pub fn var(&self) -> Result<DataFrame> {
        self.all(AggFunc::Var(1))
    }
    /// The first non-null value of every non-key column, per group.
    pub fn first(&self) -> Result<DataFrame> {
        self.all(AggFunc::First)
    }
    /// The last non-null value of every non-key column, per group.
    pub fn last(&self) -> Result<DataFrame> {
        self.all(AggFunc::Last)
    }
    /// The number of distinct values of every non-key column, per group.
    pub fn nunique(&self) -> Result<DataFrame> {
        self.all(AggFunc::NUnique)
    }
    /// The number of rows per group (column `"size"`).
    pub fn size(&self) -> Result<DataFrame> {
        self.agg([Agg::size()])
    }

    /// One column of the groups: `df.groupby("user_id").col("value").mean()`.
    pub fn col(&self, column: &str) -> SeriesGroupBy {
        SeriesGroupBy {
            groupby: self.clone(),
            column: column.to_string(),
        }
    }
}

/// One column of a [`GroupBy`]. Each aggregation gives a frame with the keys and the column.
#[derive(Clone)]
#[must_use]
pub struct SeriesGroupBy {
    groupby: GroupBy,
    column: String,
}

macro_rules! series_aggs {
    ($($(#[$m:meta])* $name:ident => $f:expr),+ $(,)?) => {$(
        $(#[$m])*
        pub fn $name(&self) -> Result<DataFrame> {
            self.agg($f)
        }
    )+};
}

impl SeriesGroupBy {
    /// Any aggregation function of the column.
    pub fn agg(&self, func: AggFunc) -> Result<DataFrame> {
        self.groupby.agg([Agg::new(self.column.clone(), func)])
    }

    series_aggs! {
        /// Sum per group.
        sum => AggFunc::Sum,
        /// Mean per group.
        mean => AggFunc::Mean,
        /// Non-null count per group.
        count => AggFunc::Count,
        /// Minimum per group.
        min => AggFunc::Min,
        /// Maximum per group.
        max => AggFunc::Max,
        /// Sample standard deviation per group.
        std => AggFunc::Std(1),
        /// Sample variance per group.
        var => AggFunc::Var(1),
        /// First non-null value per group.
        first => AggFunc::First,
        /// Last non-null value per group.
        last => AggFunc::Last,
        /// Distinct non-null values per group.
        nunique => AggFunc::NUnique,
    }

    /// Rows per group (column `"size"`).
    pub fn size(&self) -> Result<DataFrame> {
        self.groupby.size()
    }
}
