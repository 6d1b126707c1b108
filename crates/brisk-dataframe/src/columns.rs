//! Sets of column names, and the columns a Polars expression reads: what projection pushdown
//! works with.

use std::collections::BTreeSet;

use polars::prelude::{Expr, Schema};
use polars_plan::dsl::Selector;

/// The columns some consumer needs: all of them, or a named set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnSet {
    /// Every column.
    All,
    /// Only these.
    Some(BTreeSet<String>),
}

impl ColumnSet {
    /// No columns.
    pub fn none() -> Self {
        ColumnSet::Some(BTreeSet::new())
    }

    /// A set of names.
    pub fn of<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        ColumnSet::Some(names.into_iter().map(|s| s.as_ref().to_string()).collect())
    }

    /// Add everything in `other`.
    pub fn union(&mut self, other: &ColumnSet) {
        match (&mut *self, other) {
            (ColumnSet::All, _) => {}
            (_, ColumnSet::All) => *self = ColumnSet::All,
            (ColumnSet::Some(a), ColumnSet::Some(b)) => a.extend(b.iter().cloned()),
        }
    }

    /// Add one name.
    pub fn insert(&mut self, name: &str) {
        if let ColumnSet::Some(s) = self {
            s.insert(name.to_string());
        }
    }

    /// Remove one name.
    pub fn remove(&mut self, name: &str) {
        if let ColumnSet::Some(s) = self {
            s.remove(name);
        }
    }

    /// Whether `name` is in the set.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            ColumnSet::All => true,
            ColumnSet::Some(s) => s.contains(name),
        }
    }

    /// The columns of `schema` in the set, in schema order. Never empty when the schema is not:
    /// a consumer that needs no column still needs the row count, so the first column is kept.
    pub fn project(&self, schema: &Schema) -> Vec<String> {
        let mut out: Vec<String> = schema
            .iter_names()
            .filter(|n| self.contains(n))
            .map(|n| n.to_string())
            .collect();
        if out.is_empty()
            && let Some(first) = schema.iter_names().next()
        {
            out.push(first.to_string());
        }
        out
    }

    /// Whether projecting `schema` to this set would drop a column.
    pub fn drops_any(&self, schema: &Schema) -> bool {
        self.project(schema).len() < schema.len()
    }
}

/// The columns `expr` reads, or [`ColumnSet::All`] when it selects by pattern or type.
pub(crate) fn expr_columns(expr: &Expr) -> ColumnSet {
    let mut set = ColumnSet::none();
    for e in expr {
        match e {
            Expr::Column(name) => set.insert(name),
            Expr::Selector(Selector::ByName { names, .. }) => {
                for n in names.iter() {
                    set.insert(n);
                }
            }
            Expr::Selector(_) => return ColumnSet::All,
            Expr::AnonymousFunction { .. } => return ColumnSet::All,
            _ => {}
        }
    }
    set
}

/// The columns a list of expressions reads.
pub(crate) fn exprs_columns(exprs: &[Expr]) -> ColumnSet {
    let mut set = ColumnSet::none();
    for e in exprs {
        set.union(&expr_columns(e));
    }
    set
}

/// The name of the column `expr` produces, if it can be told without a schema.
pub(crate) fn output_name(expr: &Expr) -> Option<String> {
    polars_plan::utils::expr_output_name(expr)
        .ok()
        .map(|s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn finds_the_columns_an_expression_reads() {
        let e = (col("a") + col("b")).alias("c");
        assert_eq!(expr_columns(&e), ColumnSet::of(["a", "b"]));
        assert_eq!(output_name(&e).as_deref(), Some("c"));
        assert_eq!(expr_columns(&all().as_expr()), ColumnSet::All);
        assert_eq!(expr_columns(&lit(1)), ColumnSet::none());
        let s = Schema::from_iter([
            Field::new("a".into(), DataType::Int64),
            Field::new("b".into(), DataType::Int64),
        ]);
        assert_eq!(ColumnSet::none().project(&s), vec!["a".to_string()]);
        assert_eq!(ColumnSet::of(["b"]).project(&s), vec!["b".to_string()]);
        assert!(ColumnSet::of(["b"]).drops_any(&s));
    }
}
