//! How lazy frames print: their structure (columns and types), partitions, divisions and the
//! operations behind them, without computing anything.

use std::fmt;

use crate::frame::DataFrame;
use crate::optimize::topo;
use crate::partition;
use crate::series::Series;

fn structure(df: &DataFrame) -> String {
    let empty = partition::empty(&df.schema());
    let text = format!("{empty}");
    // Drop Polars' "shape: (0, n)" line: the row count is not known.
    text.lines()
        .filter(|l| !l.starts_with("shape:"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn operations(df: &DataFrame) -> String {
    let labels: Vec<&'static str> = topo(std::slice::from_ref(&df.node))
        .iter()
        .map(|n| n.op.label())
        .collect();
    labels.join(" → ")
}

impl fmt::Display for DataFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "brisk DataFrame: {} partitions, {} columns",
            self.npartitions(),
            self.schema().len()
        )?;
        writeln!(f, "{}", structure(self))?;
        match self.divisions() {
            Some(d) => writeln!(
                f,
                "index: {} with divisions {}",
                d.column,
                d.bounds.fmt_list()
            )?,
            None => writeln!(f, "divisions: unknown")?,
        }
        write!(f, "operations: {}", operations(self))
    }
}

impl fmt::Debug for DataFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DataFrame({} partitions, {})",
            self.npartitions(),
            partition::schema_text(&self.schema())
        )
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "brisk Series {:?}: {}, {} partitions\noperations: {}",
            self.name(),
            self.dtype(),
            self.npartitions(),
            operations(&self.to_frame())
        )
    }
}

impl fmt::Debug for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Series({:?}: {}, {} partitions)",
            self.name(),
            self.dtype(),
            self.npartitions()
        )
    }
}

fn describe_node(n: &crate::node::Node) -> String {
    use crate::node::Op;
    let mut s = format!("{} [{} partitions", n.op.label(), n.npartitions);
    match &n.op {
        Op::Scan {
            columns, predicate, ..
        } => {
            match columns {
                Some(c) => s.push_str(&format!(", columns {}", partition::names_text(c.iter()))),
                None => s.push_str(", all columns"),
            }
            if let Some(p) = predicate {
                s.push_str(&format!(", predicate {p:?}"));
            }
        }
        Op::Map { steps, .. } => {
            s.push_str(&format!(", steps {steps:?}"));
        }
        Op::Reduce { split_every, .. } => {
            s.push_str(&format!(", split_every {split_every}"));
        }
        Op::Shuffle { method, .. } => s.push_str(&format!(", {method:?}")),
        Op::Join { spec, .. } => s.push_str(&format!(", {:?} {:?}", spec.how, spec.strategy)),
        _ => {}
    }
    s.push(']');
    s
}

impl DataFrame {
    /// The optimized plan, one operation per line, inputs first: what will run, with the
    /// columns each reader reads and any predicate pushed into it.
    pub fn explain(&self) -> String {
        let plan = match crate::optimize::optimize(&self.node) {
            Ok(p) => p,
            Err(e) => return format!("cannot optimize: {e}"),
        };
        topo(std::slice::from_ref(&plan))
            .iter()
            .map(|n| describe_node(n))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
