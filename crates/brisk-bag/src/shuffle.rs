//! `groupby` through a hash shuffle: every input partition splits its records into one bucket
//! per output partition by the hash of their key; output partition `j` gathers bucket `j` of
//! every input and groups it. Every group ends up whole in exactly one output partition.
//!
//! The hash is FxHash of the key, fixed across processes and runs, so the same key always
//! lands in the same output partition.

use std::hash::{Hash, Hasher};
use std::ops::ControlFlow;

use brisk_core::{Arg, Func, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use rustc_hash::{FxHashMap, FxHasher};

use crate::bag::{Bag, Record, stream_task};
use crate::stream::{arg_stream, fail};

/// Buckets of one input partition: `buckets[j]` goes to output partition `j`.
type Buckets<K, T> = Vec<Vec<(K, T)>>;

pub(crate) fn bucket_of<K: Hash>(k: &K, n: usize) -> usize {
    let mut h = FxHasher::default();
    k.hash(&mut h);
    // The high bits of FxHash are the well-mixed ones.
    ((h.finish() >> 32) as usize) % n
}

impl<T: Record> Bag<T> {
    /// Group the records by `key` into `(key, records)` pairs, through a shuffle into
    /// `npartitions` output partitions (`None`: as many as the input). Within a group, records
    /// keep their order in the bag; groups appear in order of their first record within each
    /// output partition.
    pub fn groupby<K>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
        npartitions: Option<usize>,
    ) -> Bag<(K, Vec<T>)>
    where
        K: Record + Hash + Eq,
    {
        let n_out = npartitions.unwrap_or(self.npartitions()).max(1);
        let split_name = tokenize("groupby-split");
        let split = Func::raw("groupby-split", move |args: &[Value]| {
            let s = arg_stream::<T>(args, 0)?;
            let mut buckets: Buckets<K, T> = (0..n_out).map(|_| Vec::new()).collect();
            s(&mut |x| {
                let Some(x) = x.take() else {
                    return ControlFlow::Continue(());
                };
                let k = key(&x);
                buckets[bucket_of(&k, n_out)].push((k, x));
                ControlFlow::Continue(())
            })
            .map_err(fail)?;
            Ok(Value::new(buckets))
        });
        let mut split_nodes = Vec::with_capacity(self.npartitions());
        let split_keys: Vec<Key> = (0..self.npartitions())
            .map(|i| {
                let k = Key::with_shared_name(&split_name, &[i as u32]);
                split_nodes.push((
                    k.clone(),
                    Node::Task(stream_task(&split, self.part_task(i))),
                ));
                k
            })
            .collect();
        let split_layer = Layer::from_nodes(split_name, split_nodes, self.deps());

        let group_name = tokenize("groupby");
        let mut group_nodes = Vec::with_capacity(n_out);
        let mut group_keys = Vec::with_capacity(n_out);
        for j in 0..n_out {
            let gather = Func::raw("groupby", move |args: &[Value]| {
                let list = args
                    .first()
                    .and_then(|v| v.as_list())
                    .ok_or_else(|| TaskFailure::msg("internal: expected split outputs"))?;
                let mut index: FxHashMap<K, usize> = FxHashMap::default();
                let mut groups: Vec<(K, Vec<T>)> = Vec::new();
                for v in list {
                    let buckets = v
                        .downcast_ref::<Buckets<K, T>>()
                        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
                    for (k, x) in buckets.get(j).into_iter().flatten() {
                        match index.get(k) {
                            Some(&g) => groups[g].1.push(x.clone()),
                            None => {
                                index.insert(k.clone(), groups.len());
                                groups.push((k.clone(), vec![x.clone()]));
                            }
                        }
                    }
                }
                Ok(Value::new(groups))
            });
            let key = Key::with_shared_name(&group_name, &[j as u32]);
            group_nodes.push((
                key.clone(),
                Node::Task(Task {
                    func: gather,
                    args: vec![Arg::List(
                        split_keys.iter().cloned().map(Arg::Key).collect(),
                    )],
                }),
            ));
            group_keys.push(key);
        }
        let group_layer = Layer::from_nodes(group_name, group_nodes, vec![split_layer]);
        Bag::from_keys("groupby", group_keys, vec![group_layer])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn buckets_are_stable_and_in_range() {
        for n in [1usize, 2, 7, 64] {
            for k in 0..1000u64 {
                let b = super::bucket_of(&k, n);
                assert!(b < n);
                assert_eq!(b, super::bucket_of(&k, n));
            }
        }
    }
}
