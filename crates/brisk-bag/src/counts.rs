//! Counting by key in parallel: `frequencies` through a small shuffle.
//!
//! Each input partition counts its records, then splits its counts into one bucket per output
//! partition by the hash of the key; output partition `j` merges bucket `j` of every input.
//! Unlike a tree of merges (dask's way), no single task merges all the counts: with many
//! distinct keys the merging runs on every core, and so does a `topk` that follows.

use std::hash::Hash;

use brisk_core::{Arg, Func, Key, Layer, Node, Task, TaskFailure, Value, tokenize};

use crate::bag::{Bag, Record, stream_task};
use crate::error::BagError;
use crate::reduce::FastMap;
use crate::shuffle::bucket_of;
use crate::stream::{StreamFn, arg_stream, fail};

/// How many partitions counts are merged into (at most).
const MAX_OUT: usize = 16;

impl<T: Record> Bag<T> {
    /// Count records per key with `per_part` on each partition, then merge the counts of each
    /// key across partitions, in parallel: a bag of `(key, count)`.
    pub(crate) fn count_shuffled<K>(
        &self,
        label: &'static str,
        per_part: impl Fn(StreamFn<T>) -> Result<FastMap<K, u64>, BagError> + Send + Sync + 'static,
    ) -> Bag<(K, u64)>
    where
        K: Record + Hash + Eq,
    {
        let n_out = self.npartitions().clamp(1, MAX_OUT);
        let split_name = tokenize(label);
        let split = Func::raw(label, move |args: &[Value]| {
            let s = arg_stream::<T>(args, 0)?;
            let counts = per_part(s).map_err(fail)?;
            let mut buckets: Vec<Vec<(K, u64)>> = (0..n_out).map(|_| Vec::new()).collect();
            for (k, c) in counts {
                buckets[bucket_of(&k, n_out)].push((k, c));
            }
            Ok(Value::new(buckets))
        });
        let mut nodes = Vec::new();
        let split_keys: Vec<Key> = (0..self.npartitions())
            .map(|i| {
                let k = Key::with_shared_name(&split_name, &[i as u32]);
                nodes.push((
                    k.clone(),
                    Node::Task(stream_task(&split, self.part_task(i))),
                ));
                k
            })
            .collect();
        let split_layer = Layer::from_nodes(split_name, nodes, self.deps());
        let merge_name = tokenize(label);
        let mut merge_nodes = Vec::with_capacity(n_out);
        let mut merge_keys = Vec::with_capacity(n_out);
        for j in 0..n_out {
            let merge = Func::raw(label, move |args: &[Value]| {
                let list = args
                    .first()
                    .and_then(|v| v.as_list())
                    .ok_or_else(|| TaskFailure::msg("internal: expected counts"))?;
                let mut total: FastMap<K, u64> = FastMap::default();
                for v in list {
                    let buckets = v
                        .downcast_ref::<Vec<Vec<(K, u64)>>>()
                        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
                    for (k, c) in buckets.get(j).into_iter().flatten() {
                        if let Some(t) = total.get_mut(k) {
                            *t += c;
                        } else {
                            total.insert(k.clone(), *c);
                        }
                    }
                }
                Ok(Value::new(total.into_iter().collect::<Vec<(K, u64)>>()))
            });
            let key = Key::with_shared_name(&merge_name, &[j as u32]);
            merge_nodes.push((
                key.clone(),
                Node::Task(Task {
                    func: merge,
                    args: vec![Arg::List(
                        split_keys.iter().cloned().map(Arg::Key).collect(),
                    )],
                }),
            ));
            merge_keys.push(key);
        }
        let layer = Layer::from_nodes(merge_name, merge_nodes, vec![split_layer]);
        Bag::from_keys(label, merge_keys, vec![layer])
    }
}
