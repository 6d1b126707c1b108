//! Classifying the expressions given to `select`, `with_columns`, `filter` and group-by keys,
//! so that none silently runs partition by partition when its answer depends on other
//! partitions.
//!
//! Each expression is walked once. What it finds:
//! - **elementwise** parts (columns, literals, arithmetic, casts, `when`, string and temporal
//!   functions, … — what Polars itself flags row-separable) stay as they are and run per
//!   partition;
//! - a **global aggregate** (`col("x").mean()` inside `col("x") - col("x").mean()`) becomes a
//!   column `__brisk_s{k}` that a tree reduction computes once and a broadcast join adds to
//!   every partition;
//! - an aggregate inside **`.over(keys)`** becomes a column `__brisk_w{g}_{k}` computed by a
//!   group-by on the keys and joined back (left join, original order, null keys matching as
//!   they do in Polars' windows);
//! - **order-dependent** functions with a bounded reach (`shift`, `diff`, `rolling_*`) count the
//!   rows they need before and after each partition, and **cumulative** ones (`cum_sum`,
//!   `cum_count`, `cum_min`, `cum_max`, `cum_prod`) become the partition's own cumulative
//!   value combined with a carry `__brisk_c{k}` from the partitions before it (after it, when
//!   reversed);
//! - anything else (`rank`, `sort`, `head` or `slice` inside an expression, `.over()` of a
//!   non-aggregate, an aggregate of an order-dependent expression, …) is refused with
//!   [`DataFrameError::NotPartitionable`], which names the sub-expression and says what to do
//!   instead.

use polars::prelude::{Expr, FunctionExpr, NULL, Schema, col, lit, when};
use polars_plan::dsl::WindowMapping;
use polars_plan::plans::{AExpr, ExprToIRContext, to_expr_ir};
use polars_utils::arena::Arena;

use crate::aggexpr::dtype_of;
use crate::error::{DataFrameError, Result};

/// A cumulative function whose carry comes from other partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum CumKind {
    Sum,
    Count,
    Min,
    Max,
    Prod,
}

/// One carried cumulative function.
#[derive(Debug, Clone)]
pub(crate) struct Carry {
    /// The carry column (`__brisk_c{k}`).
    pub name: String,
    /// Which function.
    pub kind: CumKind,
    /// Its input expression (elementwise).
    pub input: Expr,
    /// Whether it accumulates from the end.
    pub reverse: bool,
}

/// Aggregates over windows with the same `partition_by`.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// The `partition_by` expressions.
    pub keys: Vec<Expr>,
    /// `(column, aggregate expression)`.
    pub aggs: Vec<(String, Expr)>,
}

/// The plan of a list of expressions.
#[derive(Debug, Default)]
pub(crate) struct Planned {
    /// Global aggregates, `(column, expression)`.
    pub scalars: Vec<(String, Expr)>,
    /// Window aggregates.
    pub windows: Vec<Window>,
    /// Rows needed before each partition.
    pub before: usize,
    /// Rows needed after each partition.
    pub after: usize,
    /// Cumulative functions with carries.
    pub carries: Vec<Carry>,
    /// The expressions, rewritten to read the columns above.
    pub exprs: Vec<Expr>,
    /// Per expression: whether it needs context rows (shift, diff, rolling).
    pub needs_context: Vec<bool>,
}

impl Planned {
    /// Whether every expression runs per partition as given.
    pub fn is_elementwise(&self) -> bool {
        self.scalars.is_empty()
            && self.windows.is_empty()
            && self.before == 0
            && self.after == 0
            && self.carries.is_empty()
    }

    /// Whether the expressions need context rows or carries from other partitions.
    pub fn is_ordered(&self) -> bool {
        self.before > 0 || self.after > 0 || !self.carries.is_empty()
    }

    /// Every temporary column the plan adds.
    pub fn temporaries(&self) -> Vec<String> {
        let mut v: Vec<String> = self.scalars.iter().map(|(n, _)| n.clone()).collect();
        for w in &self.windows {
            v.extend(w.aggs.iter().map(|(n, _)| n.clone()));
        }
        v
    }
}

/// How far an expression reaches into other partitions' rows.
#[derive(Debug, Clone, Copy, Default)]
struct Reach {
    before: usize,
    after: usize,
    cumulative: bool,
}

impl Reach {
    fn max(self, o: Reach) -> Reach {
        Reach {
            before: self.before.max(o.before),
            after: self.after.max(o.after),
            cumulative: self.cumulative || o.cumulative,
        }
    }
}

struct Planner<'a> {
    schema: &'a Schema,
    operation: &'static str,
    out: Planned,
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    /// Inside `.over(keys)`.
    window: Option<&'a [Expr]>,
}

/// Plan `exprs` (already expanded: no selectors) over frames of `schema`.
pub(crate) fn plan(operation: &'static str, schema: &Schema, exprs: &[Expr]) -> Result<Planned> {
    let mut p = Planner {
        schema,
        operation,
        out: Planned::default(),
    };
    let mut reach = Reach::default();
    for e in exprs {
        let (rewritten, r) = p.walk(e, Ctx { window: None })?;
        if r.cumulative && (r.before > 0 || r.after > 0) {
            // Context rows would enter the cumulative value. Separate expressions are fine
            // (they run in two stages), one expression mixing both is not.
            return Err(p.refuse(
                e,
                "mixes a cumulative function (cum_*) with shift/diff/rolling; compute the \
                 cumulative column in one with_columns call and use it in the next",
            ));
        }
        reach = reach.max(r);
        p.out.needs_context.push(r.before > 0 || r.after > 0);
        p.out.exprs.push(rewritten);
    }
    p.out.before = reach.before;
    p.out.after = reach.after;
    Ok(p.out)
}

/// A short text of an expression for messages.
pub(crate) fn show(e: &Expr) -> String {
    let mut t = format!("{e:?}");
    if t.len() > 120 {
        let cut = (0..=117)
            .rev()
            .find(|&i| t.is_char_boundary(i))
            .unwrap_or(0);
        t.truncate(cut);
        t.push('…');
    }
    t
}

/// A literal integer (`lit(2)`), for shift and diff amounts.
fn literal_int(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(l) => l.to_any_value().and_then(|v| v.extract::<i64>()),
        Expr::Cast { expr, .. } => literal_int(expr),
        _ => None,
    }
}

impl Planner<'_> {
    fn refuse(&self, e: &Expr, advice: &str) -> DataFrameError {
        DataFrameError::NotPartitionable {
            operation: self.operation,
            expression: show(e),
            advice: advice.to_string(),
        }
    }

    /// Polars' flags for a function node (`None`: not a function after conversion).
    fn function_elementwise(&self, e: &Expr) -> Result<(bool, bool)> {
        let mut arena = Arena::new();
        let mut ctx = ExprToIRContext::new(&mut arena, self.schema);
        let ir = to_expr_ir(e.clone(), &mut ctx).map_err(DataFrameError::polars(self.operation))?;
        Ok(match arena.get(ir.node()) {
            AExpr::Function { options, .. } | AExpr::AnonymousFunction { options, .. } => (
                options.flags.is_elementwise(),
                options.flags.is_row_separable(),
            ),
            AExpr::Column(_)
            | AExpr::BinaryExpr { .. }
            | AExpr::Cast { .. }
            | AExpr::Ternary { .. } => (true, true),
            AExpr::Literal(l) => (l.is_scalar(), l.is_scalar()),
            _ => (false, false),
        })
    }

    /// A name for a new aggregate, reusing an equal one.
    fn scalar(&mut self, e: &Expr) -> String {
        if let Some((n, _)) = self.out.scalars.iter().find(|(_, x)| x == e) {
            return n.clone();
        }
        let n = format!("__brisk_s{}", self.out.scalars.len());
        self.out.scalars.push((n.clone(), e.clone()));
        n
    }

    fn window_agg(&mut self, keys: &[Expr], e: &Expr) -> String {
        let g = match self.out.windows.iter().position(|w| w.keys == keys) {
            Some(g) => g,
            None => {
                self.out.windows.push(Window {
                    keys: keys.to_vec(),
                    aggs: Vec::new(),
                });
                self.out.windows.len() - 1
            }
        };
        let w = &mut self.out.windows[g];
        if let Some((n, _)) = w.aggs.iter().find(|(_, x)| x == e) {
            return n.clone();
        }
        let n = format!("__brisk_w{g}_{}", w.aggs.len());
        w.aggs.push((n.clone(), e.clone()));
        n
    }

    /// Check that `e` is elementwise all the way down (row filters allowed), as the input of
    /// an aggregate or a cumulative function must be.
    fn pure(&self, e: &Expr, what: &str) -> Result<()> {
        for x in e {
            let ok = match x {
                Expr::Column(_)
                | Expr::Literal(_)
                | Expr::Alias(..)
                | Expr::BinaryExpr { .. }
                | Expr::Cast { .. }
                | Expr::Ternary { .. }
                | Expr::Filter { .. }
                | Expr::KeepName(_)
                | Expr::RenameAlias { .. }
                | Expr::Field(_)
                | Expr::Selector(_) => true,
                Expr::Function {
                    function: FunctionExpr::Boolean(polars_plan::dsl::BooleanFunction::IsIn { .. }),
                    input,
                } => input.get(1).is_some_and(|o| matches!(o, Expr::Literal(_))),
                Expr::Function { .. } | Expr::AnonymousFunction { .. } => {
                    self.function_elementwise(x)?.1
                }
                _ => false,
            };
            if !ok {
                return Err(self.refuse(
                    x,
                    &format!(
                        "is not elementwise, so {what} over it would need every row in one \
                         place; compute it in a with_columns step of its own first"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn walk(&mut self, e: &Expr, ctx: Ctx<'_>) -> Result<(Expr, Reach)> {
        let none = Reach::default();
        Ok(match e {
            Expr::Column(_) | Expr::Selector(_) | Expr::Field(_) | Expr::Element => {
                (e.clone(), none)
            }
            Expr::Literal(l) => {
                if !l.is_scalar() {
                    return Err(self.refuse(
                        e,
                        "is a literal series, whose rows cannot be matched with a \
                         partition's rows; join with a frame holding it instead",
                    ));
                }
                (e.clone(), none)
            }
            Expr::Alias(x, name) => {
                let (x, r) = self.walk(x, ctx)?;
                (x.alias(name.clone()), r)
            }
            Expr::KeepName(x) => {
                let (x, r) = self.walk(x, ctx)?;
                (Expr::KeepName(x.into()), r)
            }
            Expr::RenameAlias { function, expr } => {
                let (x, r) = self.walk(expr, ctx)?;
                (
                    Expr::RenameAlias {
                        function: function.clone(),
                        expr: x.into(),
                    },
                    r,
                )
            }
            Expr::BinaryExpr { left, op, right } => {
                let (l, a) = self.walk(left, ctx)?;
                let (r, b) = self.walk(right, ctx)?;
                (
                    Expr::BinaryExpr {
                        left: l.into(),
                        op: *op,
                        right: r.into(),
                    },
                    a.max(b),
                )
            }
            Expr::Cast {
                expr,
                dtype,
                options,
            } => {
                let (x, r) = self.walk(expr, ctx)?;
                (
                    Expr::Cast {
                        expr: x.into(),
                        dtype: dtype.clone(),
                        options: *options,
                    },
                    r,
                )
            }
            Expr::Ternary {
                predicate,
                truthy,
                falsy,
            } => {
                let (p, a) = self.walk(predicate, ctx)?;
                let (t, b) = self.walk(truthy, ctx)?;
                let (f, c) = self.walk(falsy, ctx)?;
                (
                    Expr::Ternary {
                        predicate: p.into(),
                        truthy: t.into(),
                        falsy: f.into(),
                    },
                    a.max(b).max(c),
                )
            }
            Expr::Agg(_) | Expr::Len => {
                if let Expr::Agg(_) = e {
                    for child in e.into_iter().skip(1) {
                        if matches!(child, Expr::Agg(_) | Expr::Len | Expr::Over { .. }) {
                            return Err(self.refuse(
                                e,
                                "aggregates an aggregate or a window; compute the inner one \
                                 in a with_columns step of its own first",
                            ));
                        }
                    }
                    if let Expr::Agg(a) = e {
                        self.pure(crate::aggexpr::agg_input(a), "an aggregate")?;
                    }
                }
                let name = match ctx.window {
                    Some(keys) => self.window_agg(keys, e),
                    None => self.scalar(e),
                };
                (col(name.as_str()), none)
            }
            Expr::Over {
                function,
                partition_by,
                order_by,
                mapping,
            } => {
                if ctx.window.is_some() {
                    return Err(self.refuse(e, "nests one window inside another"));
                }
                if order_by.is_some() {
                    return Err(self.refuse(
                        e,
                        "orders rows inside its windows (order_by), which Brisk does not \
                         support across partitions; sort_values by the key and the order \
                         column, then use a group-by",
                    ));
                }
                if !matches!(mapping, WindowMapping::GroupsToRows) {
                    return Err(self.refuse(
                        e,
                        "maps windows to lists or explodes them; use groupby(..).agg(..) \
                         instead",
                    ));
                }
                for k in partition_by {
                    self.pure(k, "a window")?;
                    if crate::aggexpr::has_agg(k) {
                        return Err(self.refuse(k, "is an aggregate used as a window key"));
                    }
                }
                if !crate::aggexpr::has_agg(function) {
                    return Err(self.refuse(
                        e,
                        "is a window over a non-aggregating expression (rank, cum_sum, shift, \
                         … per group), which needs each group's rows in order in one place; \
                         Brisk supports aggregates over windows (col(\"x\").mean().over(..))",
                    ));
                }
                let (f, r) = self.walk(
                    function,
                    Ctx {
                        window: Some(partition_by),
                    },
                )?;
                (f, r)
            }
            Expr::Function { input, .. } if crate::aggexpr::is_scalar_function(e) => {
                for x in input {
                    self.pure(x, "an aggregate")?;
                }
                let name = match ctx.window {
                    Some(keys) => self.window_agg(keys, e),
                    None => self.scalar(e),
                };
                (col(name.as_str()), none)
            }
            Expr::Function { input, function } => self.function(e, input, function, ctx)?,
            Expr::AnonymousFunction { input, .. } => {
                let (elementwise, _) = self.function_elementwise(e)?;
                if !elementwise {
                    return Err(self.refuse(
                        e,
                        "is a user function over whole columns, which would see one \
                         partition at a time; use map_partitions if that is what you mean",
                    ));
                }
                let mut reach = none;
                let mut new_input = Vec::with_capacity(input.len());
                for x in input {
                    let (x, r) = self.walk(x, ctx)?;
                    reach = reach.max(r);
                    new_input.push(x);
                }
                let mut out = e.clone();
                if let Expr::AnonymousFunction { input, .. } = &mut out {
                    *input = new_input;
                }
                (out, reach)
            }
            Expr::Filter { input, by } => {
                let (i, a) = self.walk(input, ctx)?;
                let (b, c) = self.walk(by, ctx)?;
                let r = a.max(c);
                if r.before > 0 || r.after > 0 || r.cumulative {
                    return Err(self.refuse(
                        e,
                        "filters inside an order-dependent expression; filter the frame \
                         first, then compute the column",
                    ));
                }
                (
                    Expr::Filter {
                        input: i.into(),
                        by: b.into(),
                    },
                    r,
                )
            }
            Expr::Explode { input, options } => {
                let (i, r) = self.walk(input, ctx)?;
                if r.before > 0 || r.after > 0 || r.cumulative {
                    return Err(self.refuse(e, "explodes an order-dependent expression"));
                }
                (
                    Expr::Explode {
                        input: i.into(),
                        options: *options,
                    },
                    r,
                )
            }
            Expr::Eval {
                expr,
                evaluation,
                variant,
            } if variant.is_elementwise() => {
                let (x, r) = self.walk(expr, ctx)?;
                (
                    Expr::Eval {
                        expr: x.into(),
                        evaluation: evaluation.clone(),
                        variant: *variant,
                    },
                    r,
                )
            }
            Expr::Sort { .. } | Expr::SortBy { .. } => {
                return Err(self.refuse(
                    e,
                    "sorts a column inside an expression, which is a global sort; use \
                     sort_values on the frame",
                ));
            }
            Expr::Slice { .. } => {
                return Err(self.refuse(
                    e,
                    "takes a slice (head, tail, slice) inside an expression, which would \
                     be per partition; use DataFrame::head/tail, or sort_values then head",
                ));
            }
            Expr::Gather { .. } => {
                return Err(self.refuse(
                    e,
                    "gathers rows by position inside an expression, which would be per \
                     partition; not supported on partitioned frames",
                ));
            }
            _ => {
                return Err(self.refuse(
                    e,
                    "is not supported across partitions; compute it with map_partitions on \
                     data you have arranged yourself, or on one partition (repartition(1))",
                ));
            }
        })
    }

    fn function(
        &mut self,
        e: &Expr,
        input: &[Expr],
        function: &FunctionExpr,
        ctx: Ctx<'_>,
    ) -> Result<(Expr, Reach)> {
        let rebuild = |input: Vec<Expr>| Expr::Function {
            input,
            function: function.clone(),
        };
        let ordered_in_window = |p: &Self| {
            p.refuse(
                e,
                "is order-dependent inside a window (.over), which needs each group's rows \
                 in order in one place; not supported on partitioned frames",
            )
        };
        match function {
            FunctionExpr::Shift | FunctionExpr::ShiftAndFill | FunctionExpr::Diff(_) => {
                if ctx.window.is_some() {
                    return Err(ordered_in_window(self));
                }
                let n = input.get(1).and_then(literal_int).ok_or_else(|| {
                    self.refuse(e, "shifts by an amount that is not a literal integer")
                })?;
                let (x, mut r) = self.walk(&input[0], ctx)?;
                if r.cumulative {
                    return Err(self.refuse(
                        e,
                        "shifts a cumulative function; compute the cumulative column in one \
                         with_columns call and shift it in the next",
                    ));
                }
                let k = n.unsigned_abs() as usize;
                if n >= 0 {
                    r.before += k;
                } else {
                    r.after += k;
                }
                let mut new = vec![x];
                new.extend(input[1..].iter().cloned());
                Ok((rebuild(new), r))
            }
            FunctionExpr::RollingExpr { options, .. } => {
                if ctx.window.is_some() {
                    return Err(ordered_in_window(self));
                }
                let (x, mut r) = self.walk(&input[0], ctx)?;
                if r.cumulative {
                    return Err(self.refuse(
                        e,
                        "rolls over a cumulative function; compute the cumulative column in \
                         one with_columns call and use it in the next",
                    ));
                }
                let w = options.window_size;
                r.before += w;
                if options.center {
                    r.after += w;
                }
                let mut new = vec![x];
                new.extend(input[1..].iter().cloned());
                Ok((rebuild(new), r))
            }
            FunctionExpr::CumSum { reverse }
            | FunctionExpr::CumCount { reverse }
            | FunctionExpr::CumMin { reverse }
            | FunctionExpr::CumMax { reverse }
            | FunctionExpr::CumProd { reverse } => {
                if ctx.window.is_some() {
                    return Err(ordered_in_window(self));
                }
                let x = &input[0];
                self.pure(x, "a cumulative function")?;
                if crate::aggexpr::has_agg(x) {
                    return Err(self.refuse(
                        e,
                        "accumulates an expression holding an aggregate; compute that column \
                         in a with_columns step of its own first",
                    ));
                }
                let kind = match function {
                    FunctionExpr::CumSum { .. } => CumKind::Sum,
                    FunctionExpr::CumCount { .. } => CumKind::Count,
                    FunctionExpr::CumMin { .. } => CumKind::Min,
                    FunctionExpr::CumMax { .. } => CumKind::Max,
                    _ => CumKind::Prod,
                };
                let name = format!("__brisk_c{}", self.out.carries.len());
                self.out.carries.push(Carry {
                    name: name.clone(),
                    kind,
                    input: x.clone(),
                    reverse: *reverse,
                });
                let dtype = dtype_of(self.schema, e, self.operation)?;
                let cum = e.clone();
                let c = col(name.as_str());
                let combined = match kind {
                    CumKind::Sum | CumKind::Count => cum + c.fill_null(lit(0)),
                    CumKind::Prod => cum * c.fill_null(lit(1)),
                    CumKind::Min => when(c.clone().is_null().or(cum.clone().lt_eq(c.clone())))
                        .then(cum.clone())
                        .otherwise(when(cum.clone().is_null()).then(lit(NULL)).otherwise(c)),
                    CumKind::Max => when(c.clone().is_null().or(cum.clone().gt_eq(c.clone())))
                        .then(cum.clone())
                        .otherwise(when(cum.clone().is_null()).then(lit(NULL)).otherwise(c)),
                };
                Ok((
                    combined.cast(dtype),
                    Reach {
                        cumulative: true,
                        ..Reach::default()
                    },
                ))
            }
            FunctionExpr::Boolean(polars_plan::dsl::BooleanFunction::IsIn { .. }) => {
                let (x, r) = self.walk(&input[0], ctx)?;
                match input.get(1) {
                    Some(Expr::Literal(_)) => {}
                    Some(other) if !crate::columns::expr_columns(other).is_empty_set() => {
                        return Err(self.refuse(
                            e,
                            "tests membership in another column, which spans every \
                             partition; use a semi join (How::Semi) instead",
                        ));
                    }
                    _ => {}
                }
                let mut new = vec![x];
                new.extend(input[1..].iter().cloned());
                Ok((rebuild(new), r))
            }
            _ => {
                let (elementwise, row_separable) = self.function_elementwise(e)?;
                if !elementwise && !row_separable {
                    let advice = match function {
                        FunctionExpr::Rank { .. } => {
                            "ranks rows, which needs every row; sort_values the frame instead, \
                             or rank within groups after a groupby"
                        }
                        _ => {
                            "is not elementwise, so per partition it would give a different \
                             answer than on the whole frame; Brisk supports aggregates \
                             (sum, mean, …), windows of aggregates (.over), shift/diff/rolling \
                             and cum_* here"
                        }
                    };
                    return Err(self.refuse(e, advice));
                }
                let mut reach = Reach::default();
                let mut new = Vec::with_capacity(input.len());
                for x in input {
                    let (x, r) = self.walk(x, ctx)?;
                    reach = reach.max(r);
                    new.push(x);
                }
                if !elementwise && (reach.before > 0 || reach.after > 0 || reach.cumulative) {
                    return Err(self.refuse(
                        e,
                        "changes the number of rows of an order-dependent expression; filter \
                         the frame first, then compute the column",
                    ));
                }
                Ok((rebuild(new), reach))
            }
        }
    }
}

impl crate::columns::ColumnSet {
    /// Whether the set names no column (and is not "all").
    pub(crate) fn is_empty_set(&self) -> bool {
        matches!(self, crate::columns::ColumnSet::Some(s) if s.is_empty())
    }
}

/// The output name of each expression.
pub(crate) fn output_names(operation: &'static str, exprs: &[Expr]) -> Result<Vec<String>> {
    exprs
        .iter()
        .map(|e| {
            crate::columns::output_name(e).ok_or_else(|| DataFrameError::NotPartitionable {
                operation,
                expression: show(e),
                advice: "has no output name Brisk can tell; add .alias(\"name\")".into(),
            })
        })
        .collect()
}

/// Expand selectors (`all()`, `cols([..])`, by dtype) into one expression per column.
pub(crate) fn expand(
    operation: &'static str,
    schema: &Schema,
    exprs: &[Expr],
) -> Result<Vec<Expr>> {
    let mut out = Vec::with_capacity(exprs.len());
    let mut flags = polars_plan::plans::OptFlags::default();
    let ignored = Default::default();
    for e in exprs {
        polars_plan::plans::expand_expression(e, &ignored, schema, &mut out, &mut flags)
            .map_err(DataFrameError::polars(operation))?;
    }
    Ok(out)
}
