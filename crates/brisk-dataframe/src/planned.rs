//! `select`, `with_columns` and `filter` as plans that give the answer Polars gives on the
//! whole frame (see [`crate::exprplan`] for how expressions are classified): elementwise
//! steps stay partition-wise; global aggregates come from one tree reduction joined to every
//! partition; window aggregates from a group-by joined back on the keys; order-dependent
//! functions run with context rows and carries ([`crate::ordered`]).
//!
//! Group-bys over Polars aggregation expressions ([`DataFrame::group_exprs`]) live here too:
//! a tree reduction when every expression decomposes ([`crate::aggexpr`]), otherwise a hash
//! shuffle on the keys followed by Polars' own group-by in each partition.

use std::sync::Arc;

use polars::prelude::{Expr, col};

use crate::aggexpr::decompose;
use crate::error::{DataFrameError, Result};
use crate::exprplan::{self, Planned, show};
use crate::frame::DataFrame;
use crate::groupby::DEFAULT_SPLIT_EVERY;
use crate::join::{How, JoinOptions};
use crate::node::{Node, Op};
use crate::ordered::{CarrySpec, OrderedSpec};
use crate::reduce::{AggSpec, Reducer};
use crate::steps::{self, Step};

/// Which frame operation the expressions belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Select,
    WithColumns,
    Filter,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Select => "select",
            Kind::WithColumns => "with_columns",
            Kind::Filter => "filter",
        }
    }

    fn step(self, exprs: Vec<Expr>) -> Step {
        match self {
            Kind::Select => Step::Select(exprs),
            Kind::WithColumns => Step::WithColumns(exprs),
            Kind::Filter => Step::Filter(
                exprs
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| polars::prelude::lit(true)),
            ),
        }
    }
}

/// Whether `e` reads only the temporary columns `temps` (or no column at all).
fn reads_only(e: &Expr, temps: &[String]) -> bool {
    match crate::columns::expr_columns(e) {
        crate::columns::ColumnSet::Some(s) => s.iter().all(|c| temps.contains(c)),
        crate::columns::ColumnSet::All => false,
    }
}

impl DataFrame {
    /// Plan `exprs` for `kind` (see the module docs).
    pub(crate) fn planned(&self, kind: Kind, exprs: Vec<Expr>) -> Result<DataFrame> {
        let op = kind.name();
        let schema = self.node.schema.clone();
        let original = kind.step(exprs.clone());
        let expected = steps::schema_after(&schema, std::slice::from_ref(&original))
            .map_err(DataFrameError::polars(op))?;
        let expanded = exprplan::expand(op, &schema, &exprs)?;
        let plan = exprplan::plan(op, &schema, &expanded)?;
        if plan.is_elementwise() {
            return self.map_step(original, op);
        }
        let names = match kind {
            Kind::Filter => vec!["__brisk_pred".to_string()],
            _ => exprplan::output_names(op, &expanded)?,
        };
        let rewritten: Vec<Expr> = plan
            .exprs
            .iter()
            .zip(&names)
            .map(|(e, n)| e.clone().alias(n.as_str()))
            .collect();
        let temps = plan.temporaries();
        let out = if kind == Kind::Select
            && plan.windows.is_empty()
            && !plan.is_ordered()
            && rewritten.iter().all(|e| reads_only(e, &temps))
        {
            // Every expression is a scalar: one reduction, one row.
            self.scalars_frame(&plan.scalars, vec![Step::Select(rewritten)], &expanded)?
        } else {
            self.broadcast_plan(kind, &plan, rewritten, &names)?
        };
        if out.node.schema != expected {
            return Err(DataFrameError::invalid(
                op,
                format!(
                    "internal: the planned {op} has schema {}, but Polars gives {} (please \
                     report this)",
                    crate::partition::schema_text(&out.node.schema),
                    crate::partition::schema_text(&expected)
                ),
            ));
        }
        Ok(out)
    }

    fn broadcast_plan(
        &self,
        kind: Kind,
        plan: &Planned,
        rewritten: Vec<Expr>,
        names: &[String],
    ) -> Result<DataFrame> {
        let op = kind.name();
        let mut cur = self.clone();
        let mut drop = plan.temporaries();
        if !plan.scalars.is_empty() {
            let s = self.scalars_frame(&plan.scalars, Vec::new(), &[])?;
            cur = cur.join_with(
                &s,
                JoinOptions::new(Vec::<String>::new(), Vec::<String>::new(), How::Cross),
            )?;
        }
        for (g, w) in plan.windows.iter().enumerate() {
            let mut keys = Vec::new();
            let mut computed = Vec::new();
            for (k, e) in w.keys.iter().enumerate() {
                match e {
                    Expr::Column(n) => keys.push(n.to_string()),
                    _ => {
                        let n = format!("__brisk_k{g}_{k}");
                        computed.push(e.clone().alias(n.as_str()));
                        keys.push(n.clone());
                        drop.push(n);
                    }
                }
            }
            if !computed.is_empty() {
                cur = cur.map_step(Step::WithColumns(computed), op)?;
            }
            let aggs: Vec<Expr> = w
                .aggs
                .iter()
                .map(|(n, e)| e.clone().alias(n.as_str()))
                .collect();
            let mut grouped = cur.group_exprs(&keys, aggs, false, false, DEFAULT_SPLIT_EVERY, 1)?;
            // Joined to every partition (a shuffled join would move the rows).
            if grouped.npartitions() > 1 {
                grouped = grouped.repartition(1)?;
            }
            cur = cur.join_with(
                &grouped,
                JoinOptions::new(keys.clone(), keys, How::Left)
                    .nulls_equal(true)
                    .keep_left_order(),
            )?;
        }
        let carries: Vec<CarrySpec> = plan
            .carries
            .iter()
            .map(|c| CarrySpec {
                name: c.name.clone(),
                kind: c.kind,
                input: c.input.clone(),
                reverse: c.reverse,
            })
            .collect();
        let two_stages = !carries.is_empty() && (plan.before > 0 || plan.after > 0);
        let out = if plan.is_ordered() && two_stages && kind != Kind::Filter {
            // Context rows would enter cumulative values: the expressions that need context
            // rows run first, the cumulative ones second, each into a temporary column.
            let tmp: Vec<String> = (0..names.len()).map(|j| format!("__brisk_o{j}")).collect();
            let stage = |context: bool| -> Vec<Expr> {
                plan.exprs
                    .iter()
                    .zip(&plan.needs_context)
                    .zip(&tmp)
                    .filter(|((_, c), _)| **c == context)
                    .map(|((e, _), t)| e.clone().alias(t.as_str()))
                    .collect()
            };
            let first = OrderedSpec {
                before: plan.before,
                after: plan.after,
                carries: Vec::new(),
                exprs: stage(true),
                post: Vec::new(),
            };
            let second = OrderedSpec {
                before: 0,
                after: 0,
                carries,
                exprs: stage(false),
                post: Vec::new(),
            };
            let mid = cur.ordered(first, op)?.ordered(second, op)?;
            let finals: Vec<Expr> = tmp
                .iter()
                .zip(names)
                .map(|(t, n)| col(t.as_str()).alias(n.as_str()))
                .collect();
            drop.extend(tmp);
            match kind {
                Kind::Select => mid.map_step(Step::Select(finals), op)?,
                _ => mid.map_step(Step::WithColumns(finals), op)?,
            }
        } else if plan.is_ordered() {
            let (exprs, post) = match kind {
                Kind::WithColumns => (rewritten, Vec::new()),
                Kind::Filter => (
                    rewritten,
                    vec![
                        Step::Filter(col("__brisk_pred")),
                        Step::Drop(vec!["__brisk_pred".into()]),
                    ],
                ),
                Kind::Select => {
                    let tmp: Vec<String> =
                        (0..names.len()).map(|j| format!("__brisk_o{j}")).collect();
                    let exprs = plan
                        .exprs
                        .iter()
                        .zip(&tmp)
                        .map(|(e, t)| e.clone().alias(t.as_str()))
                        .collect();
                    let select = tmp
                        .iter()
                        .zip(names)
                        .map(|(t, n)| col(t.as_str()).alias(n.as_str()))
                        .collect();
                    (exprs, vec![Step::Select(select)])
                }
            };
            cur.ordered(
                OrderedSpec {
                    before: plan.before,
                    after: plan.after,
                    carries,
                    exprs,
                    post,
                },
                op,
            )?
        } else {
            match kind {
                Kind::Filter => cur.map_step(
                    Step::Filter(
                        rewritten
                            .into_iter()
                            .next()
                            .unwrap_or_else(|| col("__brisk_pred")),
                    ),
                    op,
                )?,
                _ => cur.map_step(kind.step(rewritten), op)?,
            }
        };
        if kind == Kind::Select {
            return Ok(out);
        }
        let present: Vec<String> = drop
            .into_iter()
            .filter(|d| out.node.schema.get(d).is_some())
            .collect();
        if present.is_empty() {
            Ok(out)
        } else {
            out.map_step(Step::Drop(present), op)
        }
    }

    /// An `Ordered` node over this frame.
    fn ordered(&self, spec: OrderedSpec, op: &'static str) -> Result<DataFrame> {
        let schema = spec
            .output_schema(&self.node.schema)
            .map_err(DataFrameError::polars(op))?;
        Ok(DataFrame::from_node(Node::new(
            Op::Ordered {
                input: Arc::clone(&self.node),
                spec: Arc::new(spec),
            },
            schema,
            self.node.npartitions,
            None,
        )))
    }

    /// A one-partition, one-row frame of the aggregates `scalars` (`(name, expression)`),
    /// then `post`: a tree reduction when each decomposes, otherwise Polars on all rows in one
    /// partition (`fallback` expressions are then selected directly when given).
    fn scalars_frame(
        &self,
        scalars: &[(String, Expr)],
        post: Vec<Step>,
        fallback: &[Expr],
    ) -> Result<DataFrame> {
        let schema = &self.node.schema;
        let mut spec = AggSpec {
            keys: Vec::new(),
            chunk: Vec::new(),
            combine: Vec::new(),
            finalize: Vec::new(),
            dropna: false,
            sort: false,
            post: post.clone(),
            label: "aggregate",
            streaming: true,
            fast: None,
        };
        let mut whole = false;
        for (k, (name, e)) in scalars.iter().enumerate() {
            match decompose(e, schema, &format!("__brisk_p{k}"), false)? {
                Some(d) => {
                    spec.chunk.extend(d.chunk);
                    spec.combine.extend(d.combine);
                    spec.finalize.push(d.finalize.alias(name.as_str()));
                    spec.streaming &= d.streams;
                }
                None => whole = true,
            }
        }
        if !whole {
            return self.reduce(Reducer::Agg(spec), DEFAULT_SPLIT_EVERY, 1);
        }
        // Not decomposable (median, quantile, …): every row in one partition.
        let one = self.repartition(1)?;
        if !fallback.is_empty() {
            return one.map_step(Step::Select(fallback.to_vec()), "aggregate");
        }
        let exprs: Vec<Expr> = scalars
            .iter()
            .map(|(n, e)| e.clone().alias(n.as_str()))
            .collect();
        let mut out = one.map_step(Step::Select(exprs), "aggregate")?;
        for p in post {
            out = out.map_step(p, "aggregate")?;
        }
        Ok(out)
    }

    /// Group by `keys` (columns) and aggregate with Polars expressions `aggs` (each with an
    /// output name): a tree reduction when every expression decomposes, otherwise a hash
    /// shuffle on the keys and Polars' group-by per partition.
    pub(crate) fn group_exprs(
        &self,
        keys: &[String],
        aggs: Vec<Expr>,
        dropna: bool,
        sort: bool,
        split_every: usize,
        split_out: usize,
    ) -> Result<DataFrame> {
        let op = "groupby-agg";
        crate::reduce::check_columns(op, &self.node.schema, keys)?;
        let names = exprplan::output_names(op, &aggs)?;
        for (e, n) in aggs.iter().zip(&names) {
            if keys.contains(n) {
                return Err(DataFrameError::DuplicateColumn {
                    operation: op,
                    column: n.clone(),
                });
            }
            if !crate::aggexpr::has_agg(e) {
                return Err(DataFrameError::NotPartitionable {
                    operation: op,
                    expression: show(e),
                    advice: "is not an aggregation (per group it would be a list of the \
                             group's values); aggregate it (sum, mean, first, …)"
                        .into(),
                });
            }
        }
        let mut spec = AggSpec {
            keys: keys.to_vec(),
            chunk: Vec::new(),
            combine: Vec::new(),
            finalize: Vec::new(),
            dropna,
            sort,
            post: Vec::new(),
            label: op,
            streaming: true,
            fast: None,
        };
        let mut whole = false;
        for (k, (e, n)) in aggs.iter().zip(&names).enumerate() {
            match decompose(e, &self.node.schema, &format!("__brisk_g{k}"), true)? {
                Some(d) => {
                    spec.chunk.extend(d.chunk);
                    spec.combine.extend(d.combine);
                    spec.finalize.push(d.finalize.alias(n.as_str()));
                    spec.streaming &= d.streams;
                }
                None => whole = true,
            }
        }
        if !whole {
            return self.reduce(Reducer::Agg(spec), split_every, split_out);
        }
        // Through a shuffle: every group's rows in one partition, then Polars' group-by.
        let mut input = self.clone();
        if dropna
            && let Some(p) = keys
                .iter()
                .map(|k| col(k.as_str()).is_not_null())
                .reduce(|a, b| a.and(b))
        {
            input = input.map_step(Step::Filter(p), op)?;
        }
        let n = if sort {
            self.node.npartitions
        } else {
            split_out.max(self.node.npartitions)
        };
        let shuffled = input.shuffle_node(
            crate::shuffle::Partitioner::Hash {
                columns: keys.to_vec(),
                cast: Vec::new(),
                npartitions: n.max(1),
            },
            None,
            crate::ShuffleMethod::from_env()?,
        );
        let grouped = shuffled.map_step(
            Step::GroupBy {
                keys: keys.to_vec(),
                aggs,
            },
            op,
        )?;
        if !sort {
            return Ok(grouped);
        }
        grouped.repartition(1)?.map_step(
            Step::Sort {
                by: keys.to_vec(),
                descending: vec![false; keys.len()],
                nulls_last: true,
            },
            op,
        )
    }
}
