//! Changing the number of partitions without looking at the data: neighbouring partitions are
//! concatenated, or each partition is cut into equal row slices.

use std::sync::Arc;

use brisk_core::{Arg, Key, Node as GNode, Task, Value};
use polars::prelude::DataFrame as PlFrame;

use crate::error::Result;
use crate::partition;

/// Kernel: rows `[piece * h / of, (piece + 1) * h / of)` of a partition of height `h`.
pub(crate) fn slice_piece(df: Arc<PlFrame>, piece: u64, of: u64) -> Result<Value> {
    let h = df.height() as u64;
    let start = piece * h / of.max(1);
    let end = (piece + 1) * h / of.max(1);
    Ok(partition::value(
        df.slice(start as i64, (end - start) as usize),
    ))
}

brisk_core::register!(slice_piece as "brisk_dataframe.slice_piece");

/// Which input partitions make output partition `j` when merging `n_in` into `n_out`
/// (`n_out <= n_in`): a balanced run of neighbours.
pub(crate) fn merge_groups(n_in: usize, n_out: usize) -> Vec<std::ops::Range<usize>> {
    (0..n_out)
        .map(|j| (j * n_in / n_out)..((j + 1) * n_in / n_out))
        .collect()
}

/// How many pieces input `i` is cut into when splitting `n_in` into `n_out` (`n_out > n_in`).
pub(crate) fn split_counts(n_in: usize, n_out: usize) -> Vec<usize> {
    (0..n_in)
        .map(|i| n_out / n_in + usize::from(i < n_out % n_in))
        .collect()
}

/// The tasks repartitioning layer `input` (`n_in` partitions) into `n_out` outputs.
pub(crate) fn lower(
    out: &Arc<str>,
    input: &Arc<str>,
    n_in: usize,
    n_out: usize,
) -> Vec<(Key, GNode)> {
    let key = |i: usize| Arg::Key(Key::with_shared_name(input, &[i as u32]));
    let mut nodes = Vec::with_capacity(n_out);
    if n_out <= n_in {
        for (j, g) in merge_groups(n_in, n_out).into_iter().enumerate() {
            let node = if g.len() == 1 {
                GNode::Alias(Key::with_shared_name(input, &[g.start as u32]))
            } else {
                GNode::Task(Task::new(
                    crate::join::concat_all,
                    vec![Arg::List(g.map(key).collect())],
                ))
            };
            nodes.push((Key::with_shared_name(out, &[j as u32]), node));
        }
    } else {
        let mut j = 0u32;
        for (i, k) in split_counts(n_in, n_out).into_iter().enumerate() {
            for piece in 0..k {
                nodes.push((
                    Key::with_shared_name(out, &[j]),
                    GNode::Task(Task::new(
                        slice_piece,
                        vec![
                            key(i),
                            Arg::Literal(Value::from(piece as u64)),
                            Arg::Literal(Value::from(k as u64)),
                        ],
                    )),
                ));
                j += 1;
            }
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_counts_cover_everything() {
        for n_in in 1..12 {
            for n_out in 1..=n_in {
                let g = merge_groups(n_in, n_out);
                assert_eq!(g.len(), n_out);
                assert_eq!(g.iter().map(|r| r.len()).sum::<usize>(), n_in);
                assert!(g.iter().all(|r| !r.is_empty()));
            }
            for n_out in n_in + 1..30 {
                let c = split_counts(n_in, n_out);
                assert_eq!(c.iter().sum::<usize>(), n_out);
                assert!(c.iter().all(|&k| k >= 1));
            }
        }
    }
}
