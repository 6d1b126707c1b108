//! Reductions: one result from all partitions, through a tree of combining tasks (at most
//! eight inputs per task, like dask's `split_every`), so that no task holds every partial.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::Hash;
use std::ops::{Add, ControlFlow};
use std::sync::Arc;

use brisk_core::{Arg, Func, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use rustc_hash::FxHashMap;

use crate::bag::{Bag, Record, stream_task};
use crate::error::BagError;
use crate::item::Item;
use crate::stream::{StreamFn, arg_stream, fail};

const SPLIT_EVERY: usize = 8;

/// Merges a group of partial results into one.
pub(crate) type Combine<A> = Arc<dyn Fn(Vec<Arc<A>>) -> Result<A, BagError> + Send + Sync>;

/// A heap entry of `topk`: the key, the record's position (earlier wins ties), the record.
type HeapEntry<K, T> = Reverse<(K, Reverse<(usize, u64)>, Slot<T>)>;

/// The hash map of per-record counting: foldhash is quick on short strings.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

fn partials<A: Send + Sync + 'static>(v: &Value) -> Result<Vec<Arc<A>>, TaskFailure> {
    let list = v
        .as_list()
        .ok_or_else(|| TaskFailure::msg("internal: expected a list of partial results"))?;
    list.iter()
        .map(|x| {
            x.downcast_arc::<A>()
                .map_err(|m| TaskFailure::msg(format!("internal: {m}")))
        })
        .collect()
}

impl<T: Record> Bag<T> {
    /// The general reduction: `per_part` on each partition's stream, `combine` on groups of
    /// partial results (tree-wise), and `finish` on the last group.
    pub(crate) fn tree_reduce<A, R>(
        &self,
        label: &'static str,
        per_part: impl Fn(usize, StreamFn<T>) -> Result<A, BagError> + Send + Sync + 'static,
        combine: Option<Combine<A>>,
        finish: impl Fn(Vec<Arc<A>>) -> Result<R, BagError> + Send + Sync + 'static,
    ) -> Item<R>
    where
        A: Send + Sync + 'static,
        R: Send + Sync + 'static,
    {
        let part_func = Func::raw(label, move |args: &[Value]| {
            let s = arg_stream::<T>(args, 0)?;
            let i = args
                .get(1)
                .and_then(|v| v.get::<u64>().ok())
                .ok_or_else(|| TaskFailure::msg("internal: missing partition index"))?;
            Ok(Value::new(per_part(i as usize, s).map_err(fail)?))
        });
        let combine_func = combine.map(|combine| {
            Func::raw("combine", move |args: &[Value]| {
                let parts =
                    partials::<A>(args.first().ok_or_else(|| TaskFailure::msg("internal"))?)?;
                Ok(Value::new(combine(parts).map_err(fail)?))
            })
        });
        let finish_func = Func::raw(label, move |args: &[Value]| {
            let parts = partials::<A>(args.first().ok_or_else(|| TaskFailure::msg("internal"))?)?;
            Ok(Value::new(finish(parts).map_err(fail)?))
        });
        self.tree_reduce_with(label, part_func, combine_func, finish_func)
    }

    /// The tree of a reduction from its three functions: `part` on each partition's stream
    /// (and the partition's index), `combine` on groups of at most [`SPLIT_EVERY`] partial
    /// results (none: `finish` takes them all), `finish` on the last group. Named kernels
    /// (`named_agg.rs`) or closures alike.
    pub(crate) fn tree_reduce_with<R>(
        &self,
        label: &'static str,
        part_func: Func,
        combine_func: Option<Func>,
        finish_func: Func,
    ) -> Item<R> {
        self.tree_reduce_params(label, part_func, combine_func, finish_func, &[])
    }

    /// [`Bag::tree_reduce_with`] whose every task also takes `params` as trailing literal
    /// arguments (a key function, `k`, an initial value): `part(stream, index, params..)`,
    /// `combine(partials, params..)`, `finish(partials, params..)`.
    pub(crate) fn tree_reduce_params<R>(
        &self,
        label: &'static str,
        part_func: Func,
        combine_func: Option<Func>,
        finish_func: Func,
        params: &[Value],
    ) -> Item<R> {
        let literals = || params.iter().cloned().map(Arg::Literal);
        let name = tokenize(label);
        let mut nodes = Vec::new();
        let mut level: Vec<Key> = (0..self.npartitions())
            .map(|i| {
                let key = Key::with_shared_name(&name, &[0, i as u32]);
                let mut task = stream_task(&part_func, self.part_task(i));
                task.args.push(Arg::Literal(Value::from(i as u64)));
                task.args.extend(literals());
                nodes.push((key.clone(), Node::Task(task)));
                key
            })
            .collect();
        if let Some(combine_func) = combine_func {
            level =
                brisk_core::tree::reduce_levels(level, SPLIT_EVERY, false, |depth, j, group| {
                    let key = Key::with_shared_name(&name, &[depth + 1, j as u32]);
                    let mut args = vec![Arg::List(group.iter().cloned().map(Arg::Key).collect())];
                    args.extend(literals());
                    nodes.push((
                        key.clone(),
                        Node::Task(Task {
                            func: combine_func.clone(),
                            args,
                        }),
                    ));
                    key
                });
        }
        let key = Key::from(&*name);
        let mut args = vec![Arg::List(level.into_iter().map(Arg::Key).collect())];
        args.extend(literals());
        nodes.push((
            key.clone(),
            Node::Task(Task {
                func: finish_func,
                args,
            }),
        ));
        let layer = Layer::from_nodes(name, nodes, self.deps());
        Item::new(key, layer)
    }

    /// A reduction whose partial results and final result have one type and one associative
    /// `merge` (with `empty` for no partitions).
    fn monoid<A: Clone + Send + Sync + 'static>(
        &self,
        label: &'static str,
        per_part: impl Fn(StreamFn<T>) -> Result<A, BagError> + Send + Sync + 'static,
        empty: impl Fn() -> A + Send + Sync + 'static,
        merge: impl Fn(A, &A) -> A + Send + Sync + 'static,
    ) -> Item<A> {
        let merge = Arc::new(merge);
        let empty = Arc::new(empty);
        let all = {
            let merge = Arc::clone(&merge);
            Arc::new(move |parts: Vec<Arc<A>>| -> Result<A, BagError> {
                let mut it = parts.into_iter();
                let Some(first) = it.next() else {
                    return Ok(empty());
                };
                let mut acc = Arc::unwrap_or_clone(first);
                for p in it {
                    acc = merge(acc, &p);
                }
                Ok(acc)
            })
        };
        let all2 = Arc::clone(&all);
        self.tree_reduce(label, move |_, s| per_part(s), Some(all), move |p| all2(p))
    }

    /// The number of records. For the record types with named kernels
    /// ([`crate::NAMED_RECORDS`]) every task of the tree is named, so a cluster can run it.
    pub fn count(&self) -> Item<u64> {
        if let Some(kernel) = crate::named::stage_kernel("count", std::any::TypeId::of::<T>()) {
            return self.named_count(kernel);
        }
        self.monoid(
            "count",
            |s| {
                let mut n = 0u64;
                s(&mut |x| {
                    n += u64::from(x.is_some());
                    ControlFlow::Continue(())
                })?;
                Ok(n)
            },
            || 0,
            |a, b| a + b,
        )
    }

    /// `count` as a tree of named tasks: the stage kernel per partition, `sum_u64` above.
    fn named_count(&self, kernel: Func) -> Item<u64> {
        let sum = crate::named::sum_u64_func();
        self.tree_reduce_with("count", kernel, Some(sum.clone()), sum)
    }

    /// The sum of the records (zero for an empty bag).
    pub fn sum(&self) -> Item<T>
    where
        T: num_traits::Zero + Add<Output = T>,
    {
        use crate::named_agg::{sum_merge, sum_part};
        self.aggregate("sum", sum_part::<T>, sum_merge::<T>, sum_merge::<T>)
    }

    /// The mean of the records, as `f64`; an empty bag is an error.
    pub fn mean(&self) -> Item<f64>
    where
        T: num_traits::ToPrimitive,
    {
        use crate::named_agg::{mean_finish, mean_merge, mean_part};
        self.aggregate("mean", mean_part::<T>, mean_merge::<T>, mean_finish::<T>)
    }

    /// The smallest record; an empty bag is an error.
    pub fn min(&self) -> Item<T>
    where
        T: PartialOrd,
    {
        use crate::named_agg::{Min, extreme_finish, extreme_merge, extreme_part};
        self.aggregate(
            "min",
            extreme_part::<Min, T>,
            extreme_merge::<Min, T>,
            extreme_finish::<Min, T>,
        )
    }

    /// The largest record; an empty bag is an error.
    pub fn max(&self) -> Item<T>
    where
        T: PartialOrd,
    {
        use crate::named_agg::{Max, extreme_finish, extreme_merge, extreme_part};
        self.aggregate(
            "max",
            extreme_part::<Max, T>,
            extreme_merge::<Max, T>,
            extreme_finish::<Max, T>,
        )
    }

    /// Fold every partition from `initial` with `binop`, then merge the partial results with
    /// `combine` (which must be associative; `initial` is the result for an empty bag).
    ///
    /// Closures run in this process; when both `binop` and `combine` are `#[brisk::func]`
    /// functions the reduction runs anywhere (a cluster's workers too), as
    /// [`Bag::fold_func`] does.
    pub fn fold<A: Record, B, C>(&self, initial: A, binop: B, combine: C) -> Item<A>
    where
        B: Fn(A, T) -> A + Send + Sync + 'static,
        C: Fn(A, A) -> A + Send + Sync + 'static,
    {
        if let (Some(b), Some(c)) = (Func::registered::<B>(), Func::registered::<C>()) {
            return self.fold_func(initial, b, c);
        }
        let init = initial.clone();
        self.monoid(
            "fold",
            move |s| {
                let mut acc = Some(init.clone());
                s(&mut |x| {
                    let Some(x) = x.take() else {
                        return ControlFlow::Continue(());
                    };
                    if let Some(a) = acc.take() {
                        acc = Some(binop(a, x));
                    }
                    ControlFlow::Continue(())
                })?;
                Ok(acc.unwrap_or_else(|| init.clone()))
            },
            move || initial.clone(),
            move |a, b| combine(a, b.clone()),
        )
    }

    /// [`Bag::fold`] with function values (`#[brisk::func]` functions, bound ones): `binop`
    /// takes `(A, T)` and `combine` `(A, A)`, both returning an `A`. They travel by name, so
    /// every task of the tree runs on a cluster's workers when `T` is among
    /// [`crate::NAMED_RECORDS`] (`initial` travels as a literal: its type needs a value codec,
    /// which numbers and strings have).
    ///
    /// ```
    /// use brisk_core::{Collection, Func};
    /// # brisk_local::LocalScheduler::threaded();
    /// fn add(a: i64, x: i64) -> i64 { a + x }
    /// brisk_core::register!(add as "doc::add");
    /// let b = brisk_bag::Bag::from_sequence((1..=10i64).collect(), 3);
    /// assert_eq!(b.fold_func(0i64, add, add).compute()?, 55);
    /// # Ok::<(), brisk_core::Error>(())
    /// ```
    pub fn fold_func<A: Record, M1, M2>(
        &self,
        initial: A,
        binop: impl brisk_core::IntoFunc<M1>,
        combine: impl brisk_core::IntoFunc<M2>,
    ) -> Item<A> {
        use crate::named_fold::{fold_merge_func, fold_part_kernel};
        let part = crate::named_reduce::kernel_or::<T>("fold_part", "fold", fold_part_kernel::<T>);
        let merge = fold_merge_func();
        let params = [
            Value::new(initial),
            Value::new(binop.into_func()),
            Value::new(combine.into_func()),
        ];
        self.tree_reduce_params("fold", part, Some(merge.clone()), merge, &params)
    }

    /// Dask's `reduction`: `perpartition` on each whole partition, `aggregate` on all the
    /// partial results at once.
    ///
    /// Closures run in this process; when both are `#[brisk::func]` functions the reduction
    /// runs anywhere (a cluster's workers too), as [`Bag::reduction_func`] does.
    pub fn reduction<A: Record, R: Record, P, G>(&self, perpartition: P, aggregate: G) -> Item<R>
    where
        P: Fn(Vec<T>) -> A + Send + Sync + 'static,
        G: Fn(Vec<A>) -> R + Send + Sync + 'static,
    {
        if let (Some(p), Some(g)) = (Func::registered::<P>(), Func::registered::<G>()) {
            return self.reduction_func(p, g);
        }
        self.tree_reduce(
            "reduction",
            move |_, s| Ok(perpartition(crate::stream::collect(s)?)),
            None,
            move |p| Ok(aggregate(p.into_iter().map(Arc::unwrap_or_clone).collect())),
        )
    }

    /// [`Bag::reduction`] with function values: `perpartition` takes a `Vec<T>` and returns
    /// an `A`, `aggregate` takes the `Vec<A>` of all partial results and returns the `R`.
    /// They travel by name, so both steps run on a cluster's workers when `T` is among
    /// [`crate::NAMED_RECORDS`] (the `A`s cross processes: their type needs a value codec).
    pub fn reduction_func<R: Record, M1, M2>(
        &self,
        perpartition: impl brisk_core::IntoFunc<M1>,
        aggregate: impl brisk_core::IntoFunc<M2>,
    ) -> Item<R> {
        use crate::named_fold::{reduction_finish_func, reduction_part_kernel};
        let part = crate::named_reduce::kernel_or::<T>(
            "reduction_part",
            "reduction",
            reduction_part_kernel::<T>,
        );
        let params = [
            Value::new(perpartition.into_func()),
            Value::new(aggregate.into_func()),
        ];
        self.tree_reduce_params("reduction", part, None, reduction_finish_func(), &params)
    }

    /// How often each distinct record occurs: a bag of `(record, count)`, in no particular
    /// order, counted and merged in parallel (see `counts.rs`).
    pub fn frequencies(&self) -> Bag<(T, u64)>
    where
        T: Hash + Eq,
    {
        // Words of lines: count them straight from the lines, without a string per word.
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<String>()
            && let Some(lines) = self
                .inner
                .words_of
                .as_ref()
                .and_then(|b| b.downcast_ref::<Bag<String>>())
        {
            return lines.word_frequencies().same_type_as();
        }
        let split = crate::named_reduce::kernel_or::<T>(
            "freq_split",
            "frequencies",
            crate::named_reduce::freq_split_kernel::<T>,
        );
        self.count_shuffled("frequencies", split)
    }

    /// `frequencies` of the whitespace-separated words of lines (`T` is `String`).
    fn word_frequencies(&self) -> Bag<(String, u64)> {
        self.count_shuffled("frequencies", crate::named_reduce::word_freq_split_func())
    }

    /// A one-partition bag from an item holding `S`, turned into records by `to_vec`.
    pub(crate) fn single<S, U>(
        &self,
        label: &'static str,
        item: Item<S>,
        to_vec: impl Fn(S) -> Vec<U> + Send + Sync + 'static,
    ) -> Bag<U>
    where
        S: Clone + Send + Sync + 'static,
        U: Record,
    {
        let func = Func::raw(label, move |args: &[Value]| {
            let s = args
                .first()
                .ok_or_else(|| TaskFailure::msg("internal"))?
                .downcast_arc::<S>()
                .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
            Ok(Value::new(to_vec(Arc::unwrap_or_clone(s))))
        });
        let name = tokenize(label);
        let key = Key::with_shared_name(&name, &[0]);
        let layer = Layer::from_nodes(
            name,
            vec![(
                key.clone(),
                Node::Task(Task {
                    func,
                    args: vec![Arg::Key(item.key.clone())],
                }),
            )],
            vec![item.layer.clone()],
        );
        Bag::from_keys(label, vec![key], vec![layer])
    }

    /// The `k` largest records by `key`, largest first (ties keep their order in the bag): a
    /// one-partition bag.
    ///
    /// A closure runs in this process; a `#[brisk::func]` key function runs anywhere (a
    /// cluster's workers too), as [`Bag::topk_by_func`] does.
    pub fn topk_by<K, F>(&self, k: usize, key: F) -> Bag<T>
    where
        K: Ord + Clone + Send + Sync + 'static,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        if let Some(named) = Func::registered::<F>() {
            return self.topk_by_func(k, named);
        }
        let key = Arc::new(key);
        // Partials are the best `k` as (key, position, record), best first.
        type Top<K, T> = Vec<(K, Reverse<(usize, u64)>, T)>;
        fn keep<K: Ord + Clone, T: Clone>(k: usize, parts: &[Arc<Top<K, T>>]) -> Top<K, T> {
            let mut all: Top<K, T> = parts.iter().flat_map(|p| p.iter().cloned()).collect();
            all.sort_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));
            all.truncate(k);
            all
        }
        let item = self.tree_reduce(
            "topk",
            move |part, s| {
                let mut heap: BinaryHeap<HeapEntry<K, T>> = BinaryHeap::with_capacity(k + 1);
                let mut pos = 0u64;
                if k > 0 {
                    s(&mut |x| {
                        let Some(r) = x.as_ref() else {
                            return ControlFlow::Continue(());
                        };
                        let kx = key(r);
                        let at = Reverse((part, pos));
                        pos += 1;
                        // Take the record from its slot only when it enters the heap.
                        let enters = heap.len() < k
                            || heap
                                .peek()
                                .is_some_and(|min| (&kx, &at) > (&min.0.0, &min.0.1));
                        if enters && let Some(x) = x.take() {
                            if heap.len() >= k {
                                heap.pop();
                            }
                            heap.push(Reverse((kx, at, Slot(x))));
                        }
                        ControlFlow::Continue(())
                    })?;
                }
                let mut v: Top<K, T> = heap
                    .into_iter()
                    .map(|Reverse((a, b, c))| (a, b, c.0))
                    .collect();
                v.sort_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));
                Ok(v)
            },
            Some(Arc::new(move |p: Vec<Arc<Top<K, T>>>| Ok(keep(k, &p)))),
            move |p| Ok(keep(k, &p)),
        );
        self.single("topk", item, |v: Top<K, T>| {
            v.into_iter().map(|e| e.2).collect()
        })
    }

    /// The `k` largest records by the key a function value computes (a `#[brisk::func]`
    /// function, a bound one, or a built-in such as [`crate::by_count`]), largest first, ties
    /// in their order in the bag: a one-partition bag. The function travels by name, so on a
    /// cluster every task of the tree runs on the workers; its key must be an integer, a
    /// float, a `String` or a `bool` (anything else is an error naming the function).
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let words = brisk_bag::Bag::from_sequence(
    ///     ["a", "b", "a", "c", "a", "b"].map(String::from).to_vec(), 3);
    /// let top = words.frequencies().topk_by_func(2, brisk_bag::by_count()).compute()?;
    /// assert_eq!(top, [("a".to_string(), 3), ("b".to_string(), 2)]);
    /// # Ok::<(), brisk_core::Error>(())
    /// ```
    pub fn topk_by_func<M>(&self, k: usize, key: impl brisk_core::IntoFunc<M>) -> Bag<T> {
        use crate::named_reduce::{kernel_or, topk_merge_kernel, topk_part_kernel};
        let part = kernel_or::<T>("topk_part", "topk", topk_part_kernel::<T>);
        let merge = kernel_or::<T>("topk_merge", "topk", topk_merge_kernel::<T>);
        let params = [Value::new(key.into_func()), Value::from(k as u64)];
        let item = self.tree_reduce_params("topk", part, Some(merge.clone()), merge, &params);
        Bag::from_item("topk", item)
    }

    /// The `k` largest records, largest first: a one-partition bag.
    pub fn topk(&self, k: usize) -> Bag<T>
    where
        T: Ord,
    {
        self.topk_by(k, |x| x.clone())
    }

    /// The distinct records, in order of first appearance: a one-partition bag. Named
    /// kernels (a cluster can run them) for `String`, `i64`, `u64` and `serde_json::Value`
    /// records; the same functions wrapped in closures for other types.
    pub fn distinct(&self) -> Bag<T>
    where
        T: Hash + Eq,
    {
        use crate::named_fold::{distinct_merge_kernel, distinct_part_kernel};
        use crate::named_reduce::kernel_or;
        let part = kernel_or::<T>("distinct_part", "distinct", distinct_part_kernel::<T>);
        let merge = kernel_or::<T>("distinct_merge", "distinct", distinct_merge_kernel::<T>);
        let item = self.tree_reduce_with("distinct", part, Some(merge.clone()), merge);
        Bag::from_item("distinct", item)
    }

    /// Group by `key` and fold each group: per partition, `binop` folds each group's records
    /// from `initial`; then `combine` merges the partial results of each group across
    /// partitions. A one-partition bag of `(key, result)`, like dask's `foldby`.
    ///
    /// Closures run in this process; when `key`, `binop` and `combine` are all
    /// `#[brisk::func]` functions it runs anywhere (a cluster's workers too), as
    /// [`Bag::foldby_func`] does.
    pub fn foldby<K, A, F, B, C>(&self, key: F, initial: A, binop: B, combine: C) -> Bag<(K, A)>
    where
        K: Record + Hash + Eq,
        A: Record,
        F: Fn(&T) -> K + Send + Sync + 'static,
        B: Fn(A, T) -> A + Send + Sync + 'static,
        C: Fn(A, A) -> A + Send + Sync + 'static,
    {
        if let (Some(k), Some(b), Some(c)) = (
            Func::registered::<F>(),
            Func::registered::<B>(),
            Func::registered::<C>(),
        ) {
            return self.foldby_func(k, initial, b, c);
        }
        let item = self.monoid(
            "foldby",
            move |s| {
                let mut groups: FxHashMap<K, A> = FxHashMap::default();
                s(&mut |x| {
                    let Some(x) = x.take() else {
                        return ControlFlow::Continue(());
                    };
                    let k = key(&x);
                    let acc = groups.remove(&k).unwrap_or_else(|| initial.clone());
                    groups.insert(k, binop(acc, x));
                    ControlFlow::Continue(())
                })?;
                Ok(groups)
            },
            FxHashMap::default,
            move |mut a, b| {
                for (k, v) in b {
                    let merged = match a.remove(k) {
                        Some(x) => combine(x, v.clone()),
                        None => v.clone(),
                    };
                    a.insert(k.clone(), merged);
                }
                a
            },
        );
        self.single("foldby", item, |m: FxHashMap<K, A>| m.into_iter().collect())
    }

    /// [`Bag::foldby`] with function values: `key` takes a `T` (or `&T`) and returns the `K`,
    /// `binop` takes `(A, T)`, `combine` `(A, A)`. A one-partition bag of `(key, result)`,
    /// keys in order of first appearance. They travel by name: every task runs on a cluster's
    /// workers when `T` is among [`crate::NAMED_RECORDS`], `K` is `String`, `i64` or `u64`
    /// and `A` is `i64`, `u64` or `f64` (other types run the same kernels in closures). A key
    /// function that returns another type than `K` is an error naming it.
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// fn parity(x: i64) -> u64 { x.rem_euclid(2) as u64 }
    /// fn add(a: i64, x: i64) -> i64 { a + x }
    /// brisk_core::register!(parity as "doc::parity", add as "doc::add2");
    /// let b = brisk_bag::Bag::from_sequence((1..=10i64).collect(), 3);
    /// let sums: Vec<(u64, i64)> = b.foldby_func(parity, 0i64, add, add).compute()?;
    /// assert_eq!(sums, [(1, 25), (0, 30)]);
    /// # Ok::<(), brisk_core::Error>(())
    /// ```
    pub fn foldby_func<K, A, M1, M2, M3>(
        &self,
        key: impl brisk_core::IntoFunc<M1>,
        initial: A,
        binop: impl brisk_core::IntoFunc<M2>,
        combine: impl brisk_core::IntoFunc<M3>,
    ) -> Bag<(K, A)>
    where
        K: Record + Hash + Eq,
        A: Record,
    {
        use crate::named_fold::{foldby_finish_kernel, foldby_merge_kernel, foldby_part_kernel};
        use crate::named_reduce::kernel_or_to;
        let part = kernel_or_to::<T, K>("foldby_part", "foldby", foldby_part_kernel::<T, K>);
        let merge = kernel_or_to::<K, K>("foldby_merge", "foldby", foldby_merge_kernel::<K>);
        let finish = kernel_or_to::<K, A>("foldby_finish", "foldby", foldby_finish_kernel::<K, A>);
        let params = [
            Value::new(key.into_func()),
            Value::new(initial),
            Value::new(binop.into_func()),
            Value::new(combine.into_func()),
        ];
        let item = self.tree_reduce_params("foldby", part, Some(merge), finish, &params);
        Bag::from_item("foldby", item)
    }
}

/// A record in a heap, ordered by the other fields only.
struct Slot<T>(T);

impl<T> PartialEq for Slot<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<T> Eq for Slot<T> {}
impl<T> PartialOrd for Slot<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Slot<T> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<K: Record> Bag<(K, u64)> {
    /// The `k` most frequent keys of a [`Bag::frequencies`] result, most frequent first (ties
    /// in their order in the bag): `frequencies().most_common(10)` is the word count's last
    /// step (Python's `Counter.most_common`, dask's `topk(10, key=1)`). For `String`, `i64`
    /// and `u64` keys it runs on a cluster's workers (through [`crate::by_count`]).
    pub fn most_common(&self, k: usize) -> Bag<(K, u64)> {
        use std::any::TypeId;
        let t = TypeId::of::<K>();
        if [
            TypeId::of::<String>(),
            TypeId::of::<i64>(),
            TypeId::of::<u64>(),
        ]
        .contains(&t)
        {
            return self.topk_by_func(k, crate::named_reduce::by_count());
        }
        self.topk_by(k, |(_, n)| *n)
    }
}
