//! Polars aggregation expressions (`col("v").mean()`, `(col("a") * col("b")).sum()`,
//! `col("v").filter(col("w").gt(0)).sum() / len()`, …) split into the chunk / combine /
//! finalize lists of a tree reduction.
//!
//! Every aggregation node of the expression (`sum`, `min`, `max`, `mean`, `count`, `len`,
//! `first`, `last`, `n_unique`, `std`, `var`) whose input has no aggregation of its own becomes
//! partial columns `{prefix}_{j}`: computed per partition (chunk), merged (combine), and turned
//! back into the aggregate (a *fragment*, cast to the type Polars gives the aggregate on the
//! input schema). The finalize expression is the original one with every aggregation replaced
//! by its fragment, so `col("a").sum() / col("b").sum()` finalizes as `p0 / p1`.
//!
//! What does not decompose (`median`, `quantile`, `implode`, functions that reduce such as
//! `product`, a column used outside any aggregation, an aggregation of an aggregation) gives
//! `None`: the caller then moves all rows of a group (or of the frame) into one partition
//! first, and runs the expression there as Polars would.

use std::sync::Arc;

use polars::prelude::{AggExpr, DataType, ExplodeOptions, Expr, NULL, Schema, col, len, lit, when};

use crate::columns::expr_columns;
use crate::error::{DataFrameError, Result};
use crate::steps::{Step, schema_after};

/// An aggregation expression as the three stages of a tree reduction.
#[derive(Debug, Clone)]
pub(crate) struct Decomposed {
    /// Per partition (by group when there are keys), each aliased to a partial column.
    pub chunk: Vec<Expr>,
    /// Over concatenated partial results, keeping the partial columns' names.
    pub combine: Vec<Expr>,
    /// The answer from the merged partial columns.
    pub finalize: Expr,
    /// Whether Polars' streaming engine may run chunk and combine (order-insensitive parts).
    pub streams: bool,
}

/// The type of `expr`'s result over frames of `schema` (as one aggregated value).
pub(crate) fn dtype_of(schema: &Schema, expr: &Expr, operation: &'static str) -> Result<DataType> {
    let s = schema_after(
        schema,
        &[Step::Select(vec![expr.clone().alias("__brisk_dtype")])],
    )
    .map_err(DataFrameError::polars(operation))?;
    Ok(s.get("__brisk_dtype").cloned().unwrap_or(DataType::Null))
}

/// Whether `e` is a function that reduces a column to one value (`quantile`, `null_count`,
/// `arg_min`, …), which plans as an aggregation that does not decompose.
pub(crate) fn is_scalar_function(e: &Expr) -> bool {
    use polars::prelude::FunctionExpr as F;
    matches!(
        e,
        Expr::Function {
            function: F::Quantile { .. }
                | F::NullCount
                | F::ArgMin
                | F::ArgMax
                | F::MinBy
                | F::MaxBy
                | F::Product,
            ..
        }
    )
}

/// Whether `expr` holds an aggregation (or `len()`) anywhere.
pub(crate) fn has_agg(expr: &Expr) -> bool {
    expr.into_iter()
        .any(|e| matches!(e, Expr::Agg(_) | Expr::Len) || is_scalar_function(e))
}

/// Decompose `expr` (see the module docs); `grouped` when it runs per group.
pub(crate) fn decompose(
    expr: &Expr,
    schema: &Schema,
    prefix: &str,
    grouped: bool,
) -> Result<Option<Decomposed>> {
    // An aggregation of an aggregation, or a window, does not split into partial results.
    let nested = expr.into_iter().any(|e| match e {
        Expr::Agg(a) => has_agg(agg_input(a)),
        Expr::Over { .. } => true,
        e if is_scalar_function(e) => true,
        _ => false,
    });
    if nested {
        return Ok(None);
    }
    let mut out = Decomposed {
        chunk: Vec::new(),
        combine: Vec::new(),
        finalize: lit(NULL),
        streams: true,
    };
    let mut partials: Vec<String> = Vec::new();
    let mut failed = false;
    let mut error: Option<DataFrameError> = None;
    let mut j = 0usize;
    let finalize = expr.clone().map_expr(|e| {
        if failed || error.is_some() {
            return e;
        }
        if !matches!(e, Expr::Agg(_) | Expr::Len) {
            return e;
        }
        let dtype = match dtype_of(schema, &e, "aggregation") {
            Ok(d) => d,
            Err(x) => {
                error = Some(x);
                return e;
            }
        };
        let input_dtype = match &e {
            Expr::Agg(a) => match dtype_of(schema, agg_input(a), "aggregation") {
                Ok(d) => d,
                Err(x) => {
                    error = Some(x);
                    return e;
                }
            },
            _ => DataType::Null,
        };
        let names: Vec<String> = (0..3).map(|k| format!("{prefix}_{}", j + k)).collect();
        match parts(&e, &names, grouped, &input_dtype) {
            Some(p) => {
                j += p.chunk.len();
                partials.extend(names.into_iter().take(p.chunk.len()));
                out.chunk.extend(p.chunk);
                out.combine.extend(p.combine);
                out.streams &= p.streams;
                if dtype == DataType::Null {
                    p.finalize
                } else {
                    p.finalize.cast(dtype)
                }
            }
            None => {
                failed = true;
                e
            }
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    if failed || out.chunk.is_empty() {
        return Ok(None);
    }
    // Every column the finalize expression reads must be a partial one: a column outside any
    // aggregation means Polars' list semantics, which only a whole group can give.
    match expr_columns(&finalize) {
        crate::columns::ColumnSet::Some(cols) if cols.iter().all(|c| partials.contains(c)) => {}
        _ => return Ok(None),
    }
    out.finalize = finalize;
    Ok(Some(out))
}

pub(crate) fn agg_input(a: &AggExpr) -> &Expr {
    match a {
        AggExpr::Min { input, .. }
        | AggExpr::Max { input, .. }
        | AggExpr::Item { input, .. }
        | AggExpr::Implode { input, .. }
        | AggExpr::Count { input, .. } => input,
        AggExpr::Median(e)
        | AggExpr::NUnique(e)
        | AggExpr::First(e)
        | AggExpr::FirstNonNull(e)
        | AggExpr::Last(e)
        | AggExpr::LastNonNull(e)
        | AggExpr::Mean(e)
        | AggExpr::Sum(e)
        | AggExpr::AggGroups(e)
        | AggExpr::Std(e, _)
        | AggExpr::Var(e, _) => e,
    }
}

struct Parts {
    chunk: Vec<Expr>,
    combine: Vec<Expr>,
    finalize: Expr,
    streams: bool,
}

fn agg(a: AggExpr) -> Expr {
    Expr::Agg(a)
}

/// The parts of one aggregation node, its partial columns named `names`.
fn parts(e: &Expr, names: &[String], grouped: bool, input_dtype: &DataType) -> Option<Parts> {
    let pc = |k: usize| col(names[k].as_str());
    let simple = |chunk: Expr, combine: Expr, streams: bool| Parts {
        chunk: vec![chunk.alias(names[0].as_str())],
        combine: vec![combine.alias(names[0].as_str())],
        finalize: pc(0),
        streams,
    };
    let a = match e {
        Expr::Len => return Some(simple(len(), pc(0).sum(), true)),
        Expr::Agg(a) => a,
        _ => return None,
    };
    Some(match a {
        AggExpr::Sum(x) => simple((**x).clone().sum(), pc(0).sum(), true),
        AggExpr::Min {
            input: _,
            propagate_nans,
        } => simple(
            e.clone(),
            agg(AggExpr::Min {
                input: Arc::new(pc(0)),
                propagate_nans: *propagate_nans,
            }),
            !*propagate_nans,
        ),
        AggExpr::Max {
            input: _,
            propagate_nans,
        } => simple(
            e.clone(),
            agg(AggExpr::Max {
                input: Arc::new(pc(0)),
                propagate_nans: *propagate_nans,
            }),
            !*propagate_nans,
        ),
        AggExpr::Count { .. } => simple(e.clone(), pc(0).sum(), true),
        AggExpr::Mean(x) => {
            if !(input_dtype.is_primitive_numeric()
                || input_dtype.is_bool()
                || input_dtype.is_decimal()
                || input_dtype.is_null())
            {
                return None;
            }
            let x = (**x).clone();
            let sum = if input_dtype.is_decimal() {
                x.clone().sum()
            } else {
                x.clone().cast(DataType::Float64).sum()
            };
            Parts {
                chunk: vec![
                    sum.alias(names[0].as_str()),
                    x.count().cast(DataType::Int64).alias(names[1].as_str()),
                ],
                combine: vec![
                    pc(0).sum().alias(names[0].as_str()),
                    pc(1).sum().alias(names[1].as_str()),
                ],
                finalize: when(pc(1).gt(lit(0)))
                    .then(pc(0).cast(DataType::Float64) / pc(1).cast(DataType::Float64))
                    .otherwise(lit(NULL).cast(DataType::Float64)),
                streams: true,
            }
        }
        AggExpr::First(x) | AggExpr::Last(x) => {
            let first = matches!(a, AggExpr::First(_));
            let x = (**x).clone();
            let pick = |v: Expr| if first { v.first() } else { v.last() };
            Parts {
                chunk: vec![
                    pick(x).alias(names[0].as_str()),
                    len().alias(names[1].as_str()),
                ],
                combine: vec![
                    pick(pc(0).filter(pc(1).gt(lit(0)))).alias(names[0].as_str()),
                    pc(1).sum().alias(names[1].as_str()),
                ],
                finalize: pc(0),
                streams: false,
            }
        }
        AggExpr::FirstNonNull(_) => simple(
            e.clone(),
            agg(AggExpr::FirstNonNull(Arc::new(pc(0)))),
            false,
        ),
        AggExpr::LastNonNull(_) => {
            simple(e.clone(), agg(AggExpr::LastNonNull(Arc::new(pc(0)))), false)
        }
        AggExpr::NUnique(x) => {
            let explode = ExplodeOptions {
                empty_as_null: false,
                keep_nulls: true,
            };
            let x = (**x).clone();
            let (chunk, combine) = if grouped {
                (x.unique(), pc(0).explode(explode).unique())
            } else {
                (
                    x.unique().implode(false),
                    pc(0).explode(explode).unique().implode(false),
                )
            };
            Parts {
                chunk: vec![chunk.alias(names[0].as_str())],
                combine: vec![combine.alias(names[0].as_str())],
                finalize: pc(0).list().len(),
                streams: false,
            }
        }
        AggExpr::Std(x, ddof) | AggExpr::Var(x, ddof) => {
            if !(input_dtype.is_primitive_numeric() || input_dtype.is_bool()) {
                return None;
            }
            let f = || (**x).clone().cast(DataType::Float64);
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
                    f().count().cast(DataType::Float64).alias(names[0].as_str()),
                    f().mean().fill_null(lit(0.0)).alias(names[1].as_str()),
                    (f().var(0) * f().count().cast(DataType::Float64))
                        .fill_null(lit(0.0))
                        .alias(names[2].as_str()),
                ],
                combine: vec![
                    total().alias(names[0].as_str()),
                    mean().alias(names[1].as_str()),
                    (m2() + n() * (m() - mean()).pow(2))
                        .sum()
                        .alias(names[2].as_str()),
                ],
                finalize: if matches!(a, AggExpr::Std(..)) {
                    var.sqrt()
                } else {
                    var
                },
                streams: false,
            }
        }
        AggExpr::Median(_)
        | AggExpr::Item { .. }
        | AggExpr::Implode { .. }
        | AggExpr::AggGroups(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn schema() -> Schema {
        Schema::from_iter([
            Field::new("a".into(), DataType::Int64),
            Field::new("b".into(), DataType::Float64),
        ])
    }

    #[test]
    fn ratios_of_sums_decompose_and_medians_do_not() {
        let d = decompose(
            &(col("a").sum().cast(DataType::Float64) / col("b").sum()),
            &schema(),
            "__p",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.chunk.len(), 2);
        assert!(d.streams);
        assert!(
            decompose(&col("a").median(), &schema(), "__p", false)
                .unwrap()
                .is_none()
        );
        // A column outside an aggregation is not a scalar.
        assert!(
            decompose(&(col("a") - col("a").mean()), &schema(), "__p", false)
                .unwrap()
                .is_none()
        );
        assert!(decompose(&col("zz").sum(), &schema(), "__p", false).is_err());
    }
}
