//! Counting by key in parallel: `frequencies` through a small shuffle.
//!
//! Each input partition counts its records, then splits its counts into one bucket per output
//! partition by the hash of the key; output partition `j` merges bucket `j` of every input.
//! Unlike a tree of merges (dask's way), no single task merges all the counts: with many
//! distinct keys the merging runs on every core, and so does a `topk` that follows.

use std::hash::Hash;

use brisk_core::{Arg, Func, Key, Layer, Node, Task, Value, tokenize};

use crate::bag::{Bag, Record, stream_task};
use crate::named_reduce::{freq_merge_kernel, kernel_or};

/// How many partitions counts are merged into (at most).
const MAX_OUT: usize = 16;

impl<T: Record> Bag<T> {
    /// Count records per key with `split` on each partition, then merge the counts of each
    /// key across partitions, in parallel: a bag of `(key, count)`. `split` takes the
    /// partition's stream and the number of output partitions and returns the counts in that
    /// many buckets (`Vec<Vec<(K, u64)>>`); see `named_reduce.rs` for the kernels, which are
    /// named (so a cluster can run them) for the record types the workers know.
    pub(crate) fn count_shuffled<K>(&self, label: &'static str, split: Func) -> Bag<(K, u64)>
    where
        K: Record + Hash + Eq,
    {
        let n_out = self.npartitions().clamp(1, MAX_OUT);
        let split_name = tokenize(label);
        let mut nodes = Vec::new();
        let split_keys: Vec<Key> = (0..self.npartitions())
            .map(|i| {
                let k = Key::with_shared_name(&split_name, &[i as u32]);
                let mut task = stream_task(&split, self.part_task(i));
                task.args.push(Arg::Literal(Value::from(n_out as u64)));
                nodes.push((k.clone(), Node::Task(task)));
                k
            })
            .collect();
        let split_layer = Layer::from_nodes(split_name, nodes, self.deps());
        let merge = kernel_or::<K>("freq_merge", label, freq_merge_kernel::<K>);
        let merge_name = tokenize(label);
        let mut merge_nodes = Vec::with_capacity(n_out);
        let mut merge_keys = Vec::with_capacity(n_out);
        for j in 0..n_out {
            let key = Key::with_shared_name(&merge_name, &[j as u32]);
            merge_nodes.push((
                key.clone(),
                Node::Task(Task {
                    func: merge.clone(),
                    args: vec![
                        Arg::List(split_keys.iter().cloned().map(Arg::Key).collect()),
                        Arg::Literal(Value::from(j as u64)),
                    ],
                }),
            ));
            merge_keys.push(key);
        }
        let layer = Layer::from_nodes(merge_name, merge_nodes, vec![split_layer]);
        Bag::from_keys(label, merge_keys, vec![layer])
    }
}
