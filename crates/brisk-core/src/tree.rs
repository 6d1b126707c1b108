//! Tree reductions: the shape every collection uses to merge many partial results without one
//! task holding them all (Dask's `split_every`).
//!
//! Collections build the tasks themselves (their kernels, keys and arguments differ); this
//! module owns the one thing they share, the levels: groups of at most `split_every`
//! neighbours are merged, level after level, until at most `split_every` are left for the
//! final task.

/// Merge `level` in groups of at most `split_every` (at least 2) neighbours, level after level,
/// until at most `split_every` items are left, and return those for the final task.
///
/// `combine(depth, group, items)` makes one merged item from the items of group number `group`
/// at `depth` (0 for the first combine level). A group of one item is passed through when
/// `pass_singletons` is set, so no task merely copies a value.
///
/// ```
/// use brisk_core::tree::reduce_levels;
/// let mut made = Vec::new();
/// let top = reduce_levels((0..10).collect::<Vec<u32>>(), 3, false, |depth, g, items| {
///     made.push((depth, g, items.to_vec()));
///     items.iter().sum()
/// });
/// // 10 leaves -> 4 groups (0+1+2, 3+4+5, 6+7+8, 9) -> 2 groups -> final task gets 2 items.
/// assert_eq!(made.len(), 6);
/// assert_eq!(top.iter().sum::<u32>(), 45);
/// assert!(top.len() <= 3);
/// ```
pub fn reduce_levels<T>(
    mut level: Vec<T>,
    split_every: usize,
    pass_singletons: bool,
    mut combine: impl FnMut(u32, usize, &[T]) -> T,
) -> Vec<T>
where
    T: Clone,
{
    let split_every = split_every.max(2);
    let mut depth = 0u32;
    while level.len() > split_every {
        level = level
            .chunks(split_every)
            .enumerate()
            .map(|(g, group)| match group {
                [only] if pass_singletons => only.clone(),
                _ => combine(depth, g, group),
            })
            .collect();
        depth += 1;
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_shrink_until_the_final_group_fits() {
        for n in 0..200usize {
            for split in 2..6usize {
                let mut tasks = 0usize;
                let top = reduce_levels((0..n).collect(), split, false, |_, _, items| {
                    tasks += 1;
                    assert!(!items.is_empty() && items.len() <= split);
                    items.iter().sum()
                });
                assert!(top.len() <= split.max(n.min(split)), "n={n} split={split}");
                assert_eq!(top.iter().sum::<usize>(), (0..n).sum::<usize>());
                if n <= split {
                    assert_eq!(tasks, 0);
                }
            }
        }
    }

    #[test]
    fn singletons_pass_through_when_asked() {
        let mut tasks = 0;
        let top = reduce_levels(vec![1, 2, 3, 4, 5, 6, 7], 3, true, |_, _, items| {
            tasks += 1;
            assert!(items.len() > 1);
            items.iter().sum()
        });
        assert_eq!(tasks, 2); // [1,2,3] [4,5,6] merged, [7] passed through
        assert_eq!(top, vec![6, 15, 7]);
    }

    #[test]
    fn a_split_below_two_is_two() {
        let top = reduce_levels(vec![1u8; 9], 0, false, |_, _, items| items.iter().sum());
        assert!(top.len() <= 2);
        assert_eq!(top.iter().map(|&x| x as u32).sum::<u32>(), 9);
    }
}
