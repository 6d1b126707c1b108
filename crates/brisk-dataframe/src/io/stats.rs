//! Skipping Parquet row groups by their statistics (predicate pushdown).
//!
//! A predicate such as `col("x").gt(lit(5)).and(col("s").eq(lit("a")))` is rewritten into a
//! "may match" expression over a small frame with one row per row group and the columns
//! `{c}__min`, `{c}__max`, `{c}__nc` (null count) and `__len`: here `x__max > 5 &
//! (s__min <= "a" & s__max >= "a")`. Polars evaluates it (so every type it can compare works);
//! a row group is read only where the result is true or unknown. Anything the rewrite does not
//! understand is `true`, so skipping is always safe; the predicate itself still filters the
//! rows that are read.

use polars::prelude::{
    ArrowSchema, DataFrame as PlFrame, DataType, Expr, IntoLazy, NamedFrom, Operator, PolarsResult,
    Series, col, lit,
};
use polars_parquet::read::FileMetadata;
use polars_plan::dsl::{BooleanFunction, FunctionExpr};

use crate::columns::expr_columns;

fn stat(c: &str, what: &str) -> Expr {
    col(format!("{c}__{what}").as_str())
}

fn flip(op: Operator) -> Option<Operator> {
    Some(match op {
        Operator::Eq => Operator::Eq,
        Operator::NotEq => Operator::NotEq,
        Operator::Lt => Operator::Gt,
        Operator::LtEq => Operator::GtEq,
        Operator::Gt => Operator::Lt,
        Operator::GtEq => Operator::LtEq,
        _ => return None,
    })
}

/// The "may match" rewrite of `pred`; `float` says which columns are floating point (where a
/// NaN, absent from statistics, compares greater than everything).
pub(crate) fn may_match_expr(pred: &Expr, float: &dyn Fn(&str) -> bool) -> Expr {
    // "true" for every row group (a literal would give one row, not one per row group).
    let always = || col("__len").is_not_null();
    match pred {
        Expr::BinaryExpr { left, op, right } => {
            match op {
                Operator::And | Operator::LogicalAnd => {
                    return may_match_expr(left, float).and(may_match_expr(right, float));
                }
                Operator::Or | Operator::LogicalOr => {
                    return may_match_expr(left, float).or(may_match_expr(right, float));
                }
                _ => {}
            }
            let (c, v, op, nan) = match (&**left, &**right) {
                (Expr::Column(c), Expr::Literal(l)) => (c, (**right).clone(), *op, l.is_nan()),
                (Expr::Literal(l), Expr::Column(c)) => match flip(*op) {
                    Some(f) => (c, (**left).clone(), f, l.is_nan()),
                    None => return always(),
                },
                _ => return always(),
            };
            let (min, max) = (stat(c, "min"), stat(c, "max"));
            // Statistics leave NaN out, and in Polars NaN is larger than every number and
            // equal to itself: `>`/`>=` on floats, and `== NaN`, cannot be decided (as in
            // Polars' own reader).
            match op {
                Operator::Eq if !nan => min.lt_eq(v.clone()).and(max.gt_eq(v)),
                Operator::NotEq => min.clone().neq(v.clone()).or(max.neq(v)),
                Operator::Lt => min.lt(v),
                Operator::LtEq => min.lt_eq(v),
                Operator::Gt if !float(c) => max.gt(v),
                Operator::GtEq if !float(c) => max.gt_eq(v),
                _ => always(),
            }
        }
        Expr::Function {
            input,
            function: FunctionExpr::Boolean(f),
        } => match (input.as_slice(), f) {
            ([Expr::Column(c)], BooleanFunction::IsNull) => stat(c, "nc").gt(lit(0)),
            ([Expr::Column(c)], BooleanFunction::IsNotNull) => stat(c, "nc").lt(col("__len")),
            _ => always(),
        },
        _ => always(),
    }
}

/// One row per row group of `meta`: min, max and null count of `columns`, and `__len`.
pub(crate) fn stats_frame(
    meta: &FileMetadata,
    arrow: &ArrowSchema,
    columns: &[String],
) -> PolarsResult<PlFrame> {
    use polars_parquet::arrow::read::statistics::deserialize_all;
    let rgs = &meta.row_groups;
    let mut cols: Vec<polars::prelude::Column> = vec![
        Series::new(
            "__len".into(),
            rgs.iter().map(|r| r.num_rows() as u64).collect::<Vec<_>>(),
        )
        .into(),
    ];
    if rgs.is_empty() {
        return PlFrame::new_infer_height(cols);
    }
    for c in columns {
        let Some(field) = arrow.get(c.as_str()) else {
            continue;
        };
        // The leaf column of this field (only flat columns have usable statistics).
        let idx = match rgs[0].columns_idxs_under_root_iter(c) {
            Some([i]) => *i,
            _ => continue,
        };
        let Ok(Some(s)) = deserialize_all(field, rgs, idx, &meta.footer_buf) else {
            continue;
        };
        let min = Series::from_arrow(format!("{c}__min").into(), s.min_value)?;
        let max = Series::from_arrow(format!("{c}__max").into(), s.max_value)?;
        let nc = Series::from_arrow(format!("{c}__nc").into(), Box::new(s.null_count))?;
        cols.push(min.into());
        cols.push(max.into());
        cols.push(nc.cast(&DataType::UInt64)?.into());
    }
    PlFrame::new_infer_height(cols)
}

/// For each row group of `meta`: whether some row may satisfy `pred`.
pub(crate) fn row_groups_may_match(
    meta: &FileMetadata,
    arrow: &ArrowSchema,
    pred: &Expr,
) -> Vec<bool> {
    let n = meta.row_groups.len();
    let cols: Vec<String> = match expr_columns(pred) {
        crate::columns::ColumnSet::Some(s) => s.into_iter().collect(),
        crate::columns::ColumnSet::All => return vec![true; n],
    };
    let Ok(stats) = stats_frame(meta, arrow, &cols) else {
        return vec![true; n];
    };
    let present = |c: &str| stats.schema().get(&format!("{c}__min")).is_some();
    if cols.iter().any(|c| !present(c)) {
        // A column without statistics: its comparisons are unknown.
        tracing::debug!(
            "parquet statistics missing for a predicate column; reading every row group"
        );
    }
    let float = |c: &str| {
        stats
            .schema()
            .get(&format!("{c}__min"))
            .is_some_and(|d| d.is_float())
    };
    let may = may_match_expr(pred, &float);
    // Columns without statistics are made all-null, so their comparisons come out unknown.
    let mut lf = stats.clone().lazy();
    for c in &cols {
        if !present(c) {
            lf = lf.with_columns([
                lit(polars::prelude::NULL).alias(format!("{c}__min")),
                lit(polars::prelude::NULL).alias(format!("{c}__max")),
                lit(polars::prelude::NULL)
                    .cast(DataType::UInt64)
                    .alias(format!("{c}__nc")),
            ]);
        }
    }
    match lf
        .with_columns([may.fill_null(lit(true)).alias("keep")])
        .select([col("keep")])
        .collect()
    {
        Ok(df) => match df.column("keep").and_then(|c| c.bool().cloned()) {
            Ok(b) if b.len() == n => b.iter().map(|x| x.unwrap_or(true)).collect(),
            _ => vec![true; n],
        },
        Err(e) => {
            tracing::debug!(error = %e, "cannot evaluate parquet statistics; reading every row group");
            vec![true; n]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::df;

    #[test]
    fn rewrites_comparisons_into_min_max_checks() {
        let stats = df!(
            "x__min" => [0i64, 10, 20],
            "x__max" => [9i64, 19, 29],
            "x__nc" => [0u64, 3, 0],
            "__len" => [10u64, 10, 10]
        )
        .unwrap();
        let eval = |p: Expr| -> Vec<bool> {
            let e = may_match_expr(&p, &|_| false);
            let out = stats
                .clone()
                .lazy()
                .select([e.fill_null(lit(true))])
                .collect()
                .unwrap();
            out.columns()[0]
                .bool()
                .unwrap()
                .iter()
                .map(|x| x.unwrap())
                .collect()
        };
        assert_eq!(eval(col("x").gt(lit(15))), [false, true, true]);
        assert_eq!(eval(lit(15).lt(col("x"))), [false, true, true]);
        assert_eq!(eval(col("x").eq(lit(5))), [true, false, false]);
        assert_eq!(
            eval(col("x").lt(lit(10)).or(col("x").gt_eq(lit(29)))),
            [true, false, true]
        );
        assert_eq!(eval(col("x").is_null()), [false, true, false]);
        assert_eq!(
            eval(col("x").gt(lit(5)).and(col("x").lt(lit(12)))),
            [true, true, false]
        );
        // Floats: `>` cannot rule out hidden NaNs, `<` and `==` can.
        let e = may_match_expr(&col("x").gt(lit(100.0)), &|_| true);
        let out = stats
            .clone()
            .lazy()
            .with_columns([e.alias("keep")])
            .select([col("keep")])
            .collect()
            .unwrap();
        assert!(
            out.columns()[0]
                .bool()
                .unwrap()
                .iter()
                .all(|b| b == Some(true))
        );
        // What the rewrite does not understand keeps everything.
        assert_eq!(eval((col("x") * lit(2)).gt(lit(100))), [true, true, true]);
    }
}
