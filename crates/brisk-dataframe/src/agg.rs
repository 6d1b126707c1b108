//! Aggregations as chunk / combine / finalize expressions, so that each runs as a tree
//! reduction: `sum`, `mean`, `count`, `size`, `min`, `max`, `std`, `var`, `first`, `last`,
//! `nunique`, and [`CustomAgg`]s written by users.
//!
//! Partial results live in columns named `__brisk_{i}_{k}` (aggregation `i`, part `k`).
//! `std`/`var` merge counts, means and sums of squared deviations (Chan et al.), which stays
//! accurate where sums of squares would cancel.

use polars::prelude::{DataType, ExplodeOptions, Expr, NULL, Schema, col, len, lit, when};
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};
use crate::fastagg::{Fast, Kind};
use crate::reduce::{AggSpec, check_columns};

/// An aggregation function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AggFunc {
    /// Sum of the non-null values (0 for none).
    Sum,
    /// Mean of the non-null values (null for none).
    Mean,
    /// Number of non-null values.
    Count,
    /// Number of rows, nulls included.
    Size,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Standard deviation with `ddof` delta degrees of freedom (pandas' default is 1).
    Std(u8),
    /// Variance with `ddof` delta degrees of freedom.
    Var(u8),
    /// First non-null value (in partition order).
    First,
    /// Last non-null value.
    Last,
    /// Number of distinct non-null values.
    NUnique,
    /// A user-defined aggregation.
    Custom(Box<CustomAgg>),
    /// A Polars aggregation expression (`col("v").mean()`, `(col("a") * col("b")).sum()`,
    /// `col("v").filter(col("w").gt(lit(0))).sum()`, `col("v").median()`, …); see
    /// [`crate::GroupBy::agg`].
    Expr(Box<Expr>),
}

impl AggFunc {
    /// The function's name (`"mean"`, `"std"`, …).
    pub fn name(&self) -> &str {
        match self {
            AggFunc::Sum => "sum",
            AggFunc::Mean => "mean",
            AggFunc::Count => "count",
            AggFunc::Size => "size",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Std(_) => "std",
            AggFunc::Var(_) => "var",
            AggFunc::First => "first",
            AggFunc::Last => "last",
            AggFunc::NUnique => "nunique",
            AggFunc::Custom(c) => &c.name,
            AggFunc::Expr(_) => "expression",
        }
    }

    /// Whether Polars' streaming engine computes this function's partial results the same
    /// way as its in-memory engine (order-insensitive sums, counts and extremes; `first`,
    /// `last`, `nunique`, variances and custom expressions keep the in-memory engine).
    fn streams(&self) -> bool {
        matches!(
            self,
            AggFunc::Sum
                | AggFunc::Mean
                | AggFunc::Count
                | AggFunc::Size
                | AggFunc::Min
                | AggFunc::Max
        )
    }

    fn needs_numeric(&self) -> bool {
        matches!(
            self,
            AggFunc::Sum | AggFunc::Mean | AggFunc::Std(_) | AggFunc::Var(_)
        )
    }
}

/// A user-defined aggregation, as Dask's `Aggregation(name, chunk, agg, finalize)`: `chunk`
/// expressions run on each partition (per group), each aliased to a partial-result name;
/// `combine` expressions merge concatenated partial results (per group) and keep those names;
/// `finalize` computes the answer from the merged partial results.
///
/// ```
/// use brisk_dataframe::CustomAgg;
/// use polars::prelude::*;
/// // The sum of squares of `x`.
/// let sumsq = CustomAgg::new(
///     "sumsq",
///     [col("x").pow(2).sum().alias("ss")],
///     [col("ss").sum().alias("ss")],
///     col("ss"),
/// );
/// assert_eq!(sumsq.name, "sumsq");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomAgg {
    /// The name (the default output column name is the input column's).
    pub name: String,
    /// Per-partition partial results, each with an alias.
    pub chunk: Vec<Expr>,
    /// Merges of partial results, keeping their aliases.
    pub combine: Vec<Expr>,
    /// The answer from merged partial results.
    pub finalize: Expr,
}

impl CustomAgg {
    /// A custom aggregation.
    pub fn new(
        name: impl Into<String>,
        chunk: impl IntoIterator<Item = Expr>,
        combine: impl IntoIterator<Item = Expr>,
        finalize: Expr,
    ) -> Self {
        CustomAgg {
            name: name.into(),
            chunk: chunk.into_iter().collect(),
            combine: combine.into_iter().collect(),
            finalize,
        }
    }
}

/// One aggregation of one column, with an optional output name.
#[derive(Debug, Clone, PartialEq)]
pub struct Agg {
    /// The input column (ignored by `size` and custom aggregations).
    pub column: String,
    /// The function.
    pub func: AggFunc,
    /// The output column name (default: the input column's name, `"size"` for size).
    pub alias: Option<String>,
}

macro_rules! ctor {
    ($($(#[$m:meta])* $name:ident => $f:expr),+ $(,)?) => {$(
        $(#[$m])*
        pub fn $name(column: impl Into<String>) -> Agg {
            Agg { column: column.into(), func: $f, alias: None }
        }
    )+};
}

impl Agg {
    ctor! {
        /// Sum of `column`.
        sum => AggFunc::Sum,
        /// Mean of `column`.
        mean => AggFunc::Mean,
        /// Non-null count of `column`.
        count => AggFunc::Count,
        /// Minimum of `column`.
        min => AggFunc::Min,
        /// Maximum of `column`.
        max => AggFunc::Max,
        /// Sample standard deviation (ddof 1) of `column`.
        std => AggFunc::Std(1),
        /// Sample variance (ddof 1) of `column`.
        var => AggFunc::Var(1),
        /// First non-null value of `column`.
        first => AggFunc::First,
        /// Last non-null value of `column`.
        last => AggFunc::Last,
        /// Number of distinct non-null values of `column`.
        nunique => AggFunc::NUnique,
    }

    /// The number of rows per group (output column `"size"`).
    pub fn size() -> Agg {
        Agg {
            column: String::new(),
            func: AggFunc::Size,
            alias: None,
        }
    }

    /// Any function of `column`.
    pub fn new(column: impl Into<String>, func: AggFunc) -> Agg {
        Agg {
            column: column.into(),
            func,
            alias: None,
        }
    }

    /// A custom aggregation; its output column is named after `custom.name` unless aliased.
    pub fn custom(custom: CustomAgg) -> Agg {
        Agg {
            column: String::new(),
            func: AggFunc::Custom(Box::new(custom)),
            alias: None,
        }
    }

    /// Name the output column.
    pub fn alias(mut self, name: impl Into<String>) -> Agg {
        self.alias = Some(name.into());
        self
    }

    /// The output column's name.
    pub fn output_name(&self) -> String {
        if let Some(a) = &self.alias {
            return a.clone();
        }
        match &self.func {
            AggFunc::Size => "size".to_string(),
            AggFunc::Custom(c) if self.column.is_empty() => c.name.clone(),
            AggFunc::Expr(e) => crate::columns::output_name(e).unwrap_or_else(|| "expr".into()),
            _ => self.column.clone(),
        }
    }
}

impl From<Expr> for Agg {
    /// A Polars aggregation expression; its output name is the expression's.
    fn from(e: Expr) -> Agg {
        Agg {
            column: String::new(),
            func: AggFunc::Expr(Box::new(e)),
            alias: None,
        }
    }
}

impl Agg {
    /// This aggregation as a Polars expression named [`Agg::output_name`] (with Brisk's
    /// pandas-like meanings: `first`/`last` skip nulls, `nunique` does not count null, counts
    /// are Int64); `None` for custom aggregations.
    pub(crate) fn to_expr(&self) -> Option<Expr> {
        use polars::prelude::AggExpr;
        let c = || col(self.column.as_str());
        let e = match &self.func {
            AggFunc::Sum => c().sum(),
            AggFunc::Mean => c().mean(),
            AggFunc::Count => c().count().cast(DataType::Int64),
            AggFunc::Size => len().cast(DataType::Int64),
            AggFunc::Min => c().min(),
            AggFunc::Max => c().max(),
            AggFunc::Std(d) => c().std(*d),
            AggFunc::Var(d) => c().var(*d),
            AggFunc::First => Expr::Agg(AggExpr::FirstNonNull(std::sync::Arc::new(c()))),
            AggFunc::Last => Expr::Agg(AggExpr::LastNonNull(std::sync::Arc::new(c()))),
            AggFunc::NUnique => c().drop_nulls().n_unique().cast(DataType::Int64),
            AggFunc::Custom(_) => return None,
            AggFunc::Expr(e) => (**e).clone(),
        };
        Some(e.alias(self.output_name()))
    }
}

struct Parts {
    chunk: Vec<Expr>,
    combine: Vec<Expr>,
    finalize: Expr,
}

fn p(i: usize, k: usize) -> String {
    format!("__brisk_{i}_{k}")
}

fn parts(i: usize, agg: &Agg, grouped: bool) -> Parts {
    let c = || col(agg.column.as_str());
    let pc = |k: usize| col(p(i, k).as_str());
    let f64c = || c().cast(DataType::Float64);
    let simple = |chunk: Expr, combine: fn(Expr) -> Expr| Parts {
        chunk: vec![chunk.alias(p(i, 0))],
        combine: vec![combine(pc(0)).alias(p(i, 0))],
        finalize: pc(0),
    };
    match &agg.func {
        AggFunc::Sum => simple(c().sum(), Expr::sum),
        AggFunc::Min => simple(c().min(), Expr::min),
        AggFunc::Max => simple(c().max(), Expr::max),
        AggFunc::Count => simple(c().count().cast(DataType::Int64), Expr::sum),
        AggFunc::Size => simple(len().cast(DataType::Int64), Expr::sum),
        AggFunc::First => simple(c().drop_nulls().first(), |e| e.drop_nulls().first()),
        AggFunc::Last => simple(c().drop_nulls().last(), |e| e.drop_nulls().last()),
        AggFunc::Mean => Parts {
            chunk: vec![
                f64c().sum().alias(p(i, 0)),
                c().count().cast(DataType::Int64).alias(p(i, 1)),
            ],
            combine: vec![pc(0).sum().alias(p(i, 0)), pc(1).sum().alias(p(i, 1))],
            finalize: when(pc(1).gt(lit(0)))
                .then(pc(0) / pc(1).cast(DataType::Float64))
                .otherwise(lit(NULL).cast(DataType::Float64)),
        },
        AggFunc::Std(ddof) | AggFunc::Var(ddof) => {
            let n = || pc(0);
            let m = || pc(1);
            let m2 = || pc(2);
            let total = || n().sum();
            let mean = || {
                when(total().gt(lit(0.0)))
                    .then((n() * m()).sum() / total())
                    .otherwise(lit(0.0))
            };
            let var = when(n().gt(lit(f64::from(*ddof))))
                .then(m2() / (n() - lit(f64::from(*ddof))))
                .otherwise(lit(NULL).cast(DataType::Float64));
            Parts {
                chunk: vec![
                    c().count().cast(DataType::Float64).alias(p(i, 0)),
                    f64c().mean().fill_null(lit(0.0)).alias(p(i, 1)),
                    (f64c().var(0) * c().count().cast(DataType::Float64))
                        .fill_null(lit(0.0))
                        .alias(p(i, 2)),
                ],
                combine: vec![
                    total().alias(p(i, 0)),
                    mean().alias(p(i, 1)),
                    (m2() + n() * (m() - mean()).pow(2)).sum().alias(p(i, 2)),
                ],
                finalize: if matches!(agg.func, AggFunc::Std(_)) {
                    var.sqrt()
                } else {
                    var
                },
            }
        }
        AggFunc::NUnique => {
            let explode = ExplodeOptions {
                empty_as_null: true,
                keep_nulls: true,
            };
            let (chunk, combine) = if grouped {
                (
                    c().drop_nulls().unique(),
                    pc(0).explode(explode).drop_nulls().unique(),
                )
            } else {
                (
                    c().drop_nulls().unique().implode(false),
                    pc(0).explode(explode).drop_nulls().unique().implode(false),
                )
            };
            Parts {
                chunk: vec![chunk.alias(p(i, 0))],
                combine: vec![combine.alias(p(i, 0))],
                finalize: pc(0).list().len().cast(DataType::Int64),
            }
        }
        AggFunc::Expr(_) => Parts {
            // Planned by `DataFrame::group_exprs` instead (see `GroupBy::agg`).
            chunk: Vec::new(),
            combine: Vec::new(),
            finalize: lit(NULL),
        },
        AggFunc::Custom(cu) => Parts {
            chunk: cu.chunk.clone(),
            combine: cu.combine.clone(),
            finalize: cu.finalize.clone(),
        },
    }
}

/// The aggregation spec for `aggs` grouped by `keys` over frames of `schema`.
pub(crate) fn build(
    label: &'static str,
    schema: &Schema,
    keys: &[String],
    aggs: &[Agg],
    dropna: bool,
    sort: bool,
) -> Result<AggSpec> {
    check_columns(label, schema, keys)?;
    if aggs.is_empty() {
        return Err(DataFrameError::invalid(
            "aggregations",
            "give at least one aggregation",
        ));
    }
    let mut seen: Vec<String> = keys.to_vec();
    let mut spec = AggSpec {
        keys: keys.to_vec(),
        chunk: Vec::new(),
        combine: Vec::new(),
        finalize: Vec::new(),
        dropna,
        sort,
        post: Vec::new(),
        label,
        streaming: aggs.iter().all(|a| a.func.streams()),
        fast: None,
    };
    for (i, agg) in aggs.iter().enumerate() {
        let columnless = match agg.func {
            AggFunc::Size => true,
            AggFunc::Custom(_) => agg.column.is_empty(),
            _ => false,
        };
        let uses_column = !columnless;
        if uses_column {
            check_columns(label, schema, std::slice::from_ref(&agg.column))?;
            if agg.func.needs_numeric() {
                let dt = schema.get(&agg.column).cloned().unwrap_or(DataType::Null);
                if !(dt.is_primitive_numeric() || dt.is_bool() || dt.is_null()) {
                    return Err(DataFrameError::UnsupportedDtype {
                        operation: label,
                        column: agg.column.clone(),
                        dtype: dt.to_string(),
                        reason: match agg.func.name() {
                            "sum" => "cannot be summed (use a numeric column)",
                            "mean" => "has no mean (use a numeric column)",
                            _ => "has no variance (use a numeric column)",
                        },
                    });
                }
            }
        }
        let name = agg.output_name();
        if seen.contains(&name) {
            return Err(DataFrameError::DuplicateColumn {
                operation: label,
                column: name,
            });
        }
        seen.push(name.clone());
        let parts = parts(i, agg, !keys.is_empty());
        spec.chunk.extend(parts.chunk);
        spec.combine.extend(parts.combine);
        spec.finalize.push(parts.finalize.alias(name));
    }
    spec.fast = fast_plan(keys, aggs, dropna);
    Ok(spec)
}

/// The fast plans (see [`crate::fastagg`]) when there are keys and every function is a sum,
/// mean, count, size, minimum or maximum. Whether the column types fit (one integer key, or
/// integer, string, boolean and date keys as rows) is decided per partition.
fn fast_plan(keys: &[String], aggs: &[Agg], dropna: bool) -> Option<Fast> {
    if keys.is_empty() {
        return None;
    }
    let mut kinds = Vec::with_capacity(aggs.len());
    for a in aggs {
        let kind = match a.func {
            AggFunc::Sum => Kind::Sum,
            AggFunc::Mean => Kind::SumF64,
            AggFunc::Count => Kind::Count,
            AggFunc::Size => Kind::Size,
            AggFunc::Min => Kind::Min,
            AggFunc::Max => Kind::Max,
            _ => return None,
        };
        kinds.push((kind, a.column.as_str()));
    }
    Some(Fast::new(keys, dropna, &kinds, p))
}
