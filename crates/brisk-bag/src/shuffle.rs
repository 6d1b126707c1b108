//! `groupby` through a hash shuffle: every input partition splits its records into one bucket
//! per output partition by the hash of their key; output partition `j` gathers bucket `j` of
//! every input and groups it. Every group ends up whole in exactly one output partition.
//!
//! The hash is FxHash of the key, fixed across processes and runs, so the same key always
//! lands in the same output partition.
//!
//! Both steps are named kernels generic over the record type `T` and the key type `K`,
//! registered for `T` among [`crate::NAMED_RECORDS`] and `K` among `String`, `i64`, `u64`
//! (with codecs for the buckets and the `(K, Vec<T>)` groups): `groupby_split<T, K>` calls the
//! key function (a function value: `#[brisk::func]`, or bound) on each record, and
//! `groupby_gather<T, K>` groups bucket `j` of every split. For other types the same functions
//! run wrapped in closures. A key closure runs in a closure split of its own (in this process
//! only), whose buckets the same gather kernel groups.

use std::hash::{Hash, Hasher};
use std::ops::ControlFlow;

use brisk_core::{Arg, Func, Key, Layer, Node, Task, TaskResult, Value, tokenize};
use rustc_hash::{FxHashMap, FxHasher};

use crate::bag::{Bag, Record, stream_task};
use crate::named::take;
use crate::named_fold::key_of;
use crate::named_reduce::{arg, arg_func, arg_u64, internal, kernel_or_to};
use crate::stream::{StreamFn, arg_stream, fail};

/// Buckets of one input partition: `buckets[j]` goes to output partition `j`.
type Buckets<K, T> = Vec<Vec<(K, T)>>;

pub(crate) fn bucket_of<K: Hash>(k: &K, n: usize) -> usize {
    let mut h = FxHasher::default();
    k.hash(&mut h);
    // The high bits of FxHash are the well-mixed ones.
    ((h.finish() >> 32) as usize) % n
}

/// One partition's records in `n_out` buckets by the hash of their key: `keyed` gives a record
/// back with its key, or fails.
fn split<T, K: Hash>(
    s: StreamFn<T>,
    n_out: usize,
    mut keyed: impl FnMut(T) -> Result<(K, T), crate::BagError>,
) -> Result<Buckets<K, T>, crate::BagError> {
    let n_out = n_out.max(1);
    let mut buckets: Buckets<K, T> = (0..n_out).map(|_| Vec::new()).collect();
    let mut err = None;
    s(&mut |x| {
        let Some(x) = x.take() else {
            return ControlFlow::Continue(());
        };
        match keyed(x) {
            Ok((k, x)) => {
                buckets[bucket_of(&k, n_out)].push((k, x));
                ControlFlow::Continue(())
            }
            Err(e) => {
                err = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    err.map_or(Ok(buckets), Err)
}

/// `brisk_bag::groupby_split<T, K>`: one partition's records in buckets by the hash of their
/// key. Arguments: the stream, the key function, the number of output partitions.
pub(crate) fn groupby_split_kernel<T: Record, K: Record + Hash>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let key = arg_func(args, 1, "key function")?;
    let n_out = arg_u64(args, 2, "number of output partitions")? as usize;
    let buckets = split(s, n_out, |r: T| {
        let r = Value::new(r);
        let k = key_of::<K>("groupby", &key, &r)?;
        // The key function has let go of the record: it is moved back out, not cloned.
        let r = take::<T>(r).map_err(|m| crate::named::stage_error("groupby", m.to_string()))?;
        Ok((k, r))
    })
    .map_err(fail)?;
    Ok(Value::new(buckets))
}

/// `brisk_bag::groupby_gather<T, K>`: bucket `j` of every split, grouped by key: groups in
/// order of their first record, records in their order in the bag. Arguments: the list of
/// splits, `j`.
pub(crate) fn groupby_gather_kernel<T: Record, K: Record + Hash + Eq>(
    args: &[Value],
) -> TaskResult {
    let list = arg(args, 0, "splits")?
        .as_list()
        .ok_or_else(|| internal("expected split outputs"))?;
    let j = arg_u64(args, 1, "bucket")? as usize;
    let mut index: FxHashMap<K, usize> = FxHashMap::default();
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    for v in list {
        let buckets = v.downcast_ref::<Buckets<K, T>>().map_err(internal)?;
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
}

impl<T: Record> Bag<T> {
    /// Group the records by `key` into `(key, records)` pairs, through a shuffle into
    /// `npartitions` output partitions (`None`: as many as the input). Within a group, records
    /// keep their order in the bag; groups appear in order of their first record within each
    /// output partition.
    ///
    /// A closure runs in this process; a `#[brisk::func]` key function runs anywhere (a
    /// cluster's workers too), as [`Bag::groupby_func`] does.
    pub fn groupby<K, F>(&self, key: F, npartitions: Option<usize>) -> Bag<(K, Vec<T>)>
    where
        K: Record + Hash + Eq,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        if let Some(named) = Func::registered::<F>() {
            return self.groupby_func(named, npartitions);
        }
        let n_out = self.groupby_npartitions(npartitions);
        let split_func = Func::raw("groupby-split", move |args: &[Value]| {
            let s = arg_stream::<T>(args, 0)?;
            let buckets = split(s, n_out, |x: T| Ok((key(&x), x))).map_err(fail)?;
            Ok(Value::new(buckets))
        });
        self.shuffle_groups::<K>(split_func, vec![], n_out)
    }

    /// [`Bag::groupby`] with a function value as the key (a `#[brisk::func]` function taking
    /// a `T` or `&T`, or a bound one): it travels by name, so both steps of the shuffle run on
    /// a cluster's workers when `T` is among [`crate::NAMED_RECORDS`] and `K` is `String`,
    /// `i64` or `u64`. A key function that returns another type than `K` is an error naming
    /// it.
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// fn last_digit(x: u64) -> u64 { x % 10 }
    /// brisk_core::register!(last_digit as "doc::last_digit");
    /// let b = brisk_bag::range(30, 4);
    /// let groups: Vec<(u64, Vec<u64>)> = b.groupby_func(last_digit, Some(1)).compute()?;
    /// assert_eq!(groups[0], (0, vec![0, 10, 20]));
    /// # Ok::<(), brisk_core::Error>(())
    /// ```
    pub fn groupby_func<K, M>(
        &self,
        key: impl brisk_core::IntoFunc<M>,
        npartitions: Option<usize>,
    ) -> Bag<(K, Vec<T>)>
    where
        K: Record + Hash + Eq,
    {
        let n_out = self.groupby_npartitions(npartitions);
        let split_func = kernel_or_to::<T, K>(
            "groupby_split",
            "groupby-split",
            groupby_split_kernel::<T, K>,
        );
        let params = vec![Value::new(key.into_func()), Value::from(n_out as u64)];
        self.shuffle_groups::<K>(split_func, params, n_out)
    }

    fn groupby_npartitions(&self, npartitions: Option<usize>) -> usize {
        npartitions.unwrap_or(self.npartitions()).max(1)
    }

    /// The shuffle of `groupby`: `split` (with `params` as literals after the stream) on each
    /// partition, then the gather kernel on bucket `j` of every split for `j < n_out`.
    fn shuffle_groups<K: Record + Hash + Eq>(
        &self,
        split: Func,
        params: Vec<Value>,
        n_out: usize,
    ) -> Bag<(K, Vec<T>)> {
        let split_name = tokenize("groupby-split");
        let mut split_nodes = Vec::with_capacity(self.npartitions());
        let split_keys: Vec<Key> = (0..self.npartitions())
            .map(|i| {
                let k = Key::with_shared_name(&split_name, &[i as u32]);
                let mut task = stream_task(&split, self.part_task(i));
                task.args.extend(params.iter().cloned().map(Arg::Literal));
                split_nodes.push((k.clone(), Node::Task(task)));
                k
            })
            .collect();
        let split_layer = Layer::from_nodes(split_name, split_nodes, self.deps());

        let gather =
            kernel_or_to::<T, K>("groupby_gather", "groupby", groupby_gather_kernel::<T, K>);
        let group_name = tokenize("groupby");
        let mut group_nodes = Vec::with_capacity(n_out);
        let mut group_keys = Vec::with_capacity(n_out);
        for j in 0..n_out {
            let key = Key::with_shared_name(&group_name, &[j as u32]);
            group_nodes.push((
                key.clone(),
                Node::Task(Task {
                    func: gather.clone(),
                    args: vec![
                        Arg::List(split_keys.iter().cloned().map(Arg::Key).collect()),
                        Arg::Literal(Value::from(j as u64)),
                    ],
                }),
            ));
            group_keys.push(key);
        }
        let group_layer = Layer::from_nodes(group_name, group_nodes, vec![split_layer]);
        Bag::from_keys("groupby", group_keys, vec![group_layer])
    }
}

/// `groupby`'s kernels for one record type, with every key type.
macro_rules! groupby_kernels {
    ($($t:ty => $tag:literal),+ $(,)?) => {$(
        groupby_kernels!(@pair $t => $tag, String => "String");
        groupby_kernels!(@pair $t => $tag, i64 => "i64");
        groupby_kernels!(@pair $t => $tag, u64 => "u64");
    )+};
    (@pair $t:ty => $tag:literal, $k:ty => $ktag:literal) => {
        register_stage!(concat!("brisk_bag::groupby_split<", $tag, ",", $ktag, ">"), "groupby-split", "groupby_split", groupby_split_kernel::<$t, $k>, $t => $k);
        register_stage!(concat!("brisk_bag::groupby_gather<", $tag, ",", $ktag, ">"), "groupby", "groupby_gather", groupby_gather_kernel::<$t, $k>, $t => $k);
    };
}

groupby_kernels!(
    String => "String",
    i64 => "i64",
    u64 => "u64",
    f64 => "f64",
    serde_json::Value => "serde_json::Value",
);

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
