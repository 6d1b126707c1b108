//! Sorting across partitions: boundaries come from approximate quantiles of the first sort
//! column (a tree reduction), rows move to the partition their value falls in (a range
//! shuffle), and each partition is then sorted on its own. `set_index` computes the
//! boundaries at once (as Dask does) so the result knows its divisions.

use std::sync::Arc;

use polars::prelude::{DataFrame as PlFrame, Series};

use crate::error::{DataFrameError, Result};
use crate::frame::DataFrame;
use crate::groupby::{DEFAULT_SPLIT_EVERY, IntoColumns};
use crate::node::{Divisions, Node, Op};
use crate::quantile::QuantileSpec;
use crate::reduce::{Reducer, check_columns};
use crate::shuffle::{Partitioner, ShuffleMethod};
use crate::steps::Step;

fn boundary_spec(column: &str, n: usize) -> QuantileSpec {
    QuantileSpec {
        column: column.to_string(),
        probs: (0..=n).map(|i| i as f64 / n as f64).collect(),
        size: 256.max(8 * n),
    }
}

impl DataFrame {
    /// Sort by `by` (all ascending or all descending), nulls last, across partitions.
    pub fn sort_values(&self, by: impl IntoColumns, descending: bool) -> Result<DataFrame> {
        let by = by.into_columns();
        let d = vec![descending; by.len()];
        self.sort_values_with(by, d, true, ShuffleMethod::from_env()?)
    }

    /// Sort with per-column directions, null placement and shuffle method.
    pub fn sort_values_with(
        &self,
        by: Vec<String>,
        descending: Vec<bool>,
        nulls_last: bool,
        method: ShuffleMethod,
    ) -> Result<DataFrame> {
        if by.is_empty() || by.len() != descending.len() {
            return Err(DataFrameError::invalid(
                "sort_values",
                "give one or more columns and one direction per column",
            ));
        }
        check_columns("sort_values", &self.node.schema, &by)?;
        let n = self.node.npartitions;
        let step = Step::Sort {
            by: by.clone(),
            descending: descending.clone(),
            nulls_last,
        };
        if n == 1 {
            return self.map_step(step, "sort_values");
        }
        // The boundaries come from a read of their own when the input is cheap to compute
        // again (see `Node::recomputable_copy`), as Dask reads twice: the shuffle's spills then
        // hold one partition each instead of all of them waiting for the boundaries.
        let sample = self
            .node
            .recomputable_copy("sort-boundaries")
            .map(DataFrame::from_node)
            .unwrap_or_else(|| self.clone());
        let bounds = sample.reduce(
            Reducer::Quantiles(boundary_spec(&by[0], n)),
            DEFAULT_SPLIT_EVERY,
            1,
        )?;
        let shuffled = self.shuffle_node(
            Partitioner::Range {
                column: by[0].clone(),
                descending: descending[0],
                nulls_last,
                npartitions: n,
            },
            Some(Arc::clone(&bounds.node)),
            method,
        );
        shuffled.map_step(step, "sort_values")
    }

    /// The first `k` rows in the order of `by` (per-column directions, nulls last or
    /// first), lazily and without a shuffle: each partition keeps its own first `k`, then one
    /// task sorts those and keeps `k` (a sort followed by `head(k)`, as Polars' `sort(..)
    /// .head(k)` and `top_k`). Ties keep the frame's row order.
    pub fn sort_head(
        &self,
        by: impl IntoColumns,
        descending: Vec<bool>,
        nulls_last: bool,
        k: usize,
    ) -> Result<DataFrame> {
        let by = by.into_columns();
        if by.is_empty() || by.len() != descending.len() {
            return Err(DataFrameError::invalid(
                "sort_head",
                "give one or more columns and one direction per column",
            ));
        }
        check_columns("sort_head", &self.node.schema, &by)?;
        let step = Step::Sort {
            by,
            descending,
            nulls_last,
        };
        let each = self
            .map_step(step.clone(), "sort_head")?
            .map_step(Step::Head(k), "sort_head")?;
        each.repartition(1)?
            .map_step(step, "sort_head")?
            .map_step(Step::Head(k), "sort_head")
    }

    /// Sort by `column` and record the partitions' boundaries along it (the divisions).
    /// Computes approximate quantiles of the column at once. Nulls go to the last partition.
    pub fn set_index(&self, column: &str) -> Result<DataFrame> {
        self.set_index_with(column, self.node.npartitions, ShuffleMethod::from_env()?)
    }

    /// [`Self::set_index`] into at most `npartitions` partitions with an explicit method.
    ///
    /// The boundaries are `npartitions + 1` approximate quantiles of `column` with duplicates
    /// removed, so a column with few distinct (or heavily repeated) values gives **fewer**
    /// partitions than asked, as in Dask: three distinct values give at most two partitions,
    /// one distinct value gives one. Whatever the count, `npartitions()` is what is computed
    /// and the divisions have `npartitions() + 1` bounds; partition `i` holds the values in
    /// `bounds[i]..bounds[i + 1]` (the last bound inclusive), and nulls go to the last one.
    pub fn set_index_with(
        &self,
        column: &str,
        npartitions: usize,
        method: ShuffleMethod,
    ) -> Result<DataFrame> {
        check_columns("set_index", &self.node.schema, &[column.to_string()])?;
        if npartitions == 0 {
            return Err(DataFrameError::invalid("npartitions", "must be at least 1"));
        }
        let q: PlFrame = {
            use brisk_core::Collection;
            self.reduce(
                Reducer::Quantiles(boundary_spec(column, npartitions)),
                DEFAULT_SPLIT_EVERY,
                1,
            )?
            .compute()?
        };
        let values = q
            .column("value")
            .map_err(DataFrameError::polars("set_index"))?
            .as_materialized_series()
            .clone();
        let values = values.drop_nulls();
        let step = Step::Sort {
            by: vec![column.to_string()],
            descending: vec![false],
            nulls_last: true,
        };
        if values.is_empty() {
            // Nothing but nulls: one sorted partition, no divisions.
            return self.repartition(1)?.map_step(step, "set_index");
        }
        let uniq = values
            .unique_stable()
            .map_err(DataFrameError::polars("set_index"))?;
        let n = (uniq.len() - 1).max(1);
        let bounds: Series = if uniq.len() == 1 {
            let mut b = uniq.clone();
            b.append(&uniq)
                .map_err(DataFrameError::polars("set_index"))?;
            b
        } else {
            uniq
        };
        let frame = polars::prelude::df!(
            "quantile" => (0..bounds.len()).map(|i| i as f64).collect::<Vec<_>>(),
            "value" => bounds.clone()
        )
        .map_err(DataFrameError::polars("set_index"))?;
        let lit = DataFrame::from_partitions(vec![frame])?;
        let shuffled = self.shuffle_node(
            Partitioner::Range {
                column: column.to_string(),
                descending: false,
                nulls_last: true,
                npartitions: n,
            },
            Some(Arc::clone(&lit.node)),
            method,
        );
        let sorted = shuffled.map_step(step, "set_index")?;
        let divisions = Arc::new(Divisions {
            column: column.to_string(),
            bounds: bounds.with_name(column.into()),
        });
        Ok(DataFrame::from_node(Node::new(
            match &sorted.node.op {
                Op::Map { input, steps } => Op::Map {
                    input: Arc::clone(input),
                    steps: Arc::clone(steps),
                },
                _ => return Ok(sorted),
            },
            sorted.node.schema.clone(),
            n,
            Some(divisions),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::topo;
    use brisk_core::Collection;
    use polars::prelude::{SortMultipleOptions, df};

    /// The shuffle below a sorted frame: its input and its boundaries' plan.
    fn shuffle_parts(sorted: &DataFrame) -> (crate::node::NodeRef, crate::node::NodeRef) {
        let Op::Map { input, .. } = &sorted.node.op else {
            panic!("a sort ends with a map")
        };
        let Op::Shuffle {
            input,
            boundaries: Some(b),
            ..
        } = &input.op
        else {
            panic!("a sort of several partitions shuffles")
        };
        (Arc::clone(input), Arc::clone(b))
    }

    #[test]
    fn boundaries_have_their_own_read_unless_the_input_is_costly() {
        let _ = brisk_local::LocalScheduler::threaded();
        let data = df!(
            "k" => (0..200i64).map(|i| (i * 7919) % 101).collect::<Vec<_>>(),
            "v" => (0..200).map(|i| i as f64 * 0.5).collect::<Vec<_>>()
        )
        .unwrap();
        let want = |d: &PlFrame, by: &str| {
            d.sort(
                [by],
                SortMultipleOptions::default()
                    .with_nulls_last(true)
                    .with_maintain_order(true),
            )
            .unwrap()
        };
        // Over a read (and partition-wise steps): no node of the boundaries' plan is one the
        // shuffle reads, so the shuffle's partitions are not held while the boundaries run.
        let df = DataFrame::from_polars(data.clone(), 5).unwrap();
        let mapped = df
            .with_columns([polars::prelude::col("v") * polars::prelude::lit(2.0)])
            .unwrap();
        for frame in [&df, &mapped] {
            let sorted = frame
                .sort_values_with(vec!["k".into()], vec![false], true, ShuffleMethod::Disk)
                .unwrap();
            let (input, b) = shuffle_parts(&sorted);
            let shared: Vec<_> = topo(&[b])
                .into_iter()
                .filter(|n| {
                    topo(std::slice::from_ref(&input))
                        .iter()
                        .any(|m| m.uid == n.uid)
                })
                .collect();
            assert!(shared.is_empty(), "shared {shared:?}");
            let got = sorted.compute().unwrap();
            let source = frame.compute().unwrap();
            assert_eq!(
                got.column("k").unwrap(),
                want(&source, "k").column("k").unwrap()
            );
            assert_eq!(got.height(), 200);
        }
        // Over a reduction (costly to compute again): the boundaries share its output.
        let sums = df.groupby("k").split_out(3).sum().unwrap();
        let sorted = sums
            .sort_values_with(vec!["v".into()], vec![true], true, ShuffleMethod::Disk)
            .unwrap();
        let (input, b) = shuffle_parts(&sorted);
        assert!(topo(&[b]).iter().any(|n| Arc::ptr_eq(n, &input)));
        let got = sorted.compute().unwrap();
        assert_eq!(got.height(), 101);
        let v = got.column("v").unwrap().f64().unwrap().to_vec();
        assert!(v.windows(2).all(|w| w[0] >= w[1]), "{v:?}");
    }

    #[test]
    fn a_recomputable_copy_has_new_identities() {
        let data = df!("k" => [3i64, 1, 2], "v" => [1.0, 2.0, 3.0]).unwrap();
        let df = DataFrame::from_polars(data, 2).unwrap();
        let copy = df.node.recomputable_copy("again").unwrap();
        assert_ne!(copy.uid, df.node.uid);
        assert_eq!(copy.npartitions, 2);
        // The same tag gives the same identity (equal rewrites share tasks).
        assert_eq!(df.node.recomputable_copy("again").unwrap().uid, copy.uid);
        let reduced = df.groupby("k").sum().unwrap();
        assert!(reduced.node.recomputable_copy("again").is_none());
    }
}
