//! The [`Bag`] type: partitions, sources, and the element-wise operations.

use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use brisk_core::{
    Arg, Collection, ComputeOptions, Error, Func, Key, Layer, Node, Task, Value, tokenize,
};

use crate::error::BagError;
use crate::stream::{Stream, StreamFn, arg_stream, collect, current_origin, push};

/// What a bag can hold: any thread-safe, clonable record (text lines as `String`, JSON values,
/// your own serde structs, tuples, numbers).
pub trait Record: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> Record for T {}

/// Builds partition `i`'s stream task.
type MakeTask = Arc<dyn Fn(usize) -> Task + Send + Sync>;

pub(crate) struct Inner {
    pub npartitions: usize,
    pub deps: Vec<Arc<Layer>>,
    pub make: MakeTask,
    pub label: &'static str,
    materialized: OnceLock<(Arc<str>, Arc<Layer>)>,
    /// For a bag made by `split_whitespace`: the bag of lines it splits (a `Bag<String>`), so
    /// that `frequencies` can count words straight from the lines.
    pub words_of: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

/// A lazy, partitioned collection of records: text lines, JSON documents, tuples, your own
/// structs. Operations build a task graph; nothing runs until [`Collection::compute`] (or a
/// reduction's `compute`, or [`Bag::take`]).
///
/// ```
/// use brisk_bag::Bag;
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let b = Bag::from_sequence((1..=10).collect::<Vec<i64>>(), 3);
/// let evens = b.filter(|x| x % 2 == 0).map(|x| x * 10);
/// assert_eq!(evens.compute()?, vec![20, 40, 60, 80, 100]);
/// assert_eq!(b.sum().compute()?, 55);
/// # Ok::<(), brisk_core::Error>(())
/// ```
pub struct Bag<T> {
    pub(crate) inner: Arc<Inner>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Bag<T> {
    fn clone(&self) -> Self {
        Bag {
            inner: Arc::clone(&self.inner),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Bag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bag<{}>({}, {} partitions)",
            std::any::type_name::<T>(),
            self.inner.label,
            self.inner.npartitions
        )
    }
}

/// A task that calls `func` on the stream of one input task.
pub(crate) fn stream_task(func: &Func, input: Task) -> Task {
    Task {
        func: func.clone(),
        args: vec![Arg::Task(Box::new(input))],
    }
}

impl<T: Record> Bag<T> {
    /// A bag from its parts: `make(i)` is a task whose value is partition `i`'s [`Stream`].
    pub(crate) fn from_parts(
        label: &'static str,
        npartitions: usize,
        deps: Vec<Arc<Layer>>,
        make: MakeTask,
    ) -> Bag<T> {
        Bag {
            inner: Arc::new(Inner {
                npartitions,
                deps,
                make,
                label,
                materialized: OnceLock::new(),
                words_of: None,
            }),
            _t: PhantomData,
        }
    }

    /// A bag over stored partitions: keys whose values are `Vec<T>`.
    pub(crate) fn from_keys(label: &'static str, keys: Vec<Key>, deps: Vec<Arc<Layer>>) -> Bag<T> {
        let func = crate::named_reduce::kernel_or::<T>(
            "from_partition",
            "from-partition",
            crate::named_reduce::from_partition_kernel::<T>,
        );
        let n = keys.len();
        let keys = Arc::new(keys);
        Bag::from_parts(
            label,
            n,
            deps,
            Arc::new(move |i| Task {
                func: func.clone(),
                args: vec![Arg::Key(keys[i].clone())],
            }),
        )
    }

    /// A one-partition bag whose partition is the value of `item` (a `Vec<T>`, such as the
    /// last task of a reduction tree).
    pub(crate) fn from_item(label: &'static str, item: crate::Item<Vec<T>>) -> Bag<T> {
        Bag::from_keys(label, vec![item.key], vec![item.layer])
    }

    /// A bag of `items` in `npartitions` partitions of (nearly) equal size, in order.
    pub fn from_sequence(items: Vec<T>, npartitions: usize) -> Bag<T> {
        let n = npartitions.max(1).min(items.len().max(1));
        let size = items.len().div_ceil(n).max(1);
        let name = tokenize("from-sequence");
        let mut nodes = Vec::with_capacity(n);
        let mut keys = Vec::with_capacity(n);
        let mut it = items.into_iter();
        for i in 0..n {
            let part: Vec<T> = it.by_ref().take(size).collect();
            let key = Key::with_shared_name(&name, &[i as u32]);
            nodes.push((key.clone(), Node::Literal(Value::new(part))));
            keys.push(key);
        }
        let layer = Layer::from_nodes(name, nodes, vec![]);
        Bag::from_keys("from-sequence", keys, vec![layer])
    }

    /// A bag of an iterator's items in `npartitions` partitions.
    #[allow(clippy::should_implement_trait)]
    pub fn from_iter(items: impl IntoIterator<Item = T>, npartitions: usize) -> Bag<T> {
        Bag::from_sequence(items.into_iter().collect(), npartitions)
    }

    /// This bag with another record type. Only for `U` equal to `T` (checked by the caller
    /// with `TypeId`): the bag's tasks do not change.
    pub(crate) fn same_type_as<U>(self) -> Bag<U> {
        Bag {
            inner: self.inner,
            _t: PhantomData,
        }
    }

    /// The number of partitions.
    pub fn npartitions(&self) -> usize {
        self.inner.npartitions
    }

    /// The task that streams partition `i`.
    pub(crate) fn part_task(&self, i: usize) -> Task {
        (self.inner.make)(i)
    }

    pub(crate) fn deps(&self) -> Vec<Arc<Layer>> {
        self.inner.deps.clone()
    }

    /// A new bag whose partitions are `op` applied to this bag's partition streams.
    pub(crate) fn stage<U: Record>(
        &self,
        label: &'static str,
        op: impl Fn(StreamFn<T>) -> StreamFn<U> + Send + Sync + 'static,
    ) -> Bag<U> {
        let func = Func::raw(label, move |args: &[Value]| {
            let s = arg_stream::<T>(args, 0)?;
            Ok(Value::new(Stream::new(label, op(s))))
        });
        let prev = Arc::clone(&self.inner.make);
        Bag::from_parts(
            label,
            self.inner.npartitions,
            self.inner.deps.clone(),
            Arc::new(move |i| stream_task(&func, prev(i))),
        )
    }

    /// Apply `f` to every record.
    ///
    /// A closure runs in this process; a `#[brisk::func]` function runs anywhere (a cluster's
    /// workers too) when both record types are among [`crate::NAMED_RECORDS`].
    pub fn map<U: Record, F>(&self, f: F) -> Bag<U>
    where
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        if let Some(named) = Func::registered::<F>()
            && let Some(b) = self.named_stage::<U>("map", named)
        {
            return b;
        }
        let f = Arc::new(f);
        self.stage("map", move |s| {
            let f = Arc::clone(&f);
            Box::new(move |sink| {
                s(&mut |x| match x.take() {
                    Some(x) => push(sink, f(x)),
                    None => ControlFlow::Continue(()),
                })
            })
        })
    }

    /// Apply a fallible `f` to every record; an error fails the computation, naming the file
    /// and line the record came from when the bag reads text.
    ///
    /// A closure runs in this process; a `#[brisk::func]` function (`fn parse(line: String)
    /// -> Result<i64, String>`) runs anywhere, a cluster's workers too, when both record types
    /// are among [`crate::NAMED_RECORDS`] (as [`Bag::try_map_func`] does).
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let b = brisk_bag::Bag::from_sequence(vec!["1".to_string(), "x".to_string()], 2);
    /// let e = b.try_map(|s| s.parse::<i64>()).compute().unwrap_err();
    /// assert!(e.to_string().contains("try_map"), "{e}");
    /// ```
    pub fn try_map<U: Record, E, F>(&self, f: F) -> Bag<U>
    where
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if let Some(named) = Func::registered::<F>()
            && let Some(b) = self.named_stage::<U>("try_map", named)
        {
            return b;
        }
        let f = Arc::new(f);
        self.stage("try-map", move |s| {
            let f = Arc::clone(&f);
            Box::new(move |sink| {
                let mut err = None;
                s(&mut |x| match x.take().map(|x| f(x)) {
                    None => ControlFlow::Continue(()),
                    Some(Ok(y)) => push(sink, y),
                    Some(Err(e)) => {
                        err = Some(BagError::Record {
                            op: "try_map",
                            origin: current_origin(),
                            source: Arc::from(e.into()),
                        });
                        ControlFlow::Break(())
                    }
                })?;
                err.map_or(Ok(()), Err)
            })
        })
    }

    /// [`Bag::try_map`] with a function value (a registered function returning a `Result`, or
    /// a bound one: `parse.with(base)`): it travels by name, so the stage runs on a cluster's
    /// workers when `T` and `U` are among [`crate::NAMED_RECORDS`] (for other types the same
    /// kernel runs here, in a closure). The function's error, or a result that is not a `U`,
    /// fails the computation with an error naming `try_map`, the function and the record's
    /// file and line.
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// fn parse(s: String) -> Result<i64, std::num::ParseIntError> { s.trim().parse() }
    /// brisk_core::register!(parse as "doc::parse");
    /// let b = brisk_bag::Bag::from_sequence(vec![" 1".to_string(), "2 ".to_string()], 2);
    /// assert_eq!(b.try_map_func::<i64, _>(parse).compute()?, [1, 2]);
    /// let bad = brisk_bag::Bag::from_sequence(vec!["x".to_string()], 1);
    /// let e = bad.try_map_func::<i64, _>(parse).compute().unwrap_err().to_string();
    /// assert!(e.contains("try_map") && e.contains("parse"), "{e}");
    /// # Ok::<(), brisk_core::Error>(())
    /// ```
    pub fn try_map_func<U: Record, M>(&self, f: impl brisk_core::IntoFunc<M>) -> Bag<U> {
        let kernel = crate::named_reduce::kernel_or_to::<T, U>(
            "try_map",
            "try-map",
            crate::named::try_map_kernel::<T, U>,
        );
        self.kernel_stage("try-map", kernel, vec![Value::new(f.into_func())])
    }

    /// Keep the records for which `pred` is true.
    ///
    /// A closure runs in this process (the local schedulers). A function registered with
    /// `#[brisk::func]` (`fn mentions_python(line: &String) -> bool`) runs anywhere, a
    /// cluster's workers included, for records of the types in
    /// [`crate::named::NAMED_RECORDS`]; see also [`Bag::filter_func`].
    pub fn filter<F>(&self, pred: F) -> Bag<T>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        if let Some(named) = Func::registered::<F>()
            && let Some(b) = self.named_filter(named)
        {
            return b;
        }
        let pred = Arc::new(pred);
        self.stage("filter", move |s| {
            let pred = Arc::clone(&pred);
            Box::new(move |sink| {
                s(&mut |x| match x {
                    Some(r) if pred(r) => sink(x),
                    _ => ControlFlow::Continue(()),
                })
            })
        })
    }

    /// Keep the records for which the function value `pred` is true: a registered function,
    /// a bound one (`f.with(p)`), or a built-in such as [`crate::contains`]. It travels by
    /// name with its bound parameters, so the stage runs on a cluster's workers.
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let b = brisk_bag::Bag::from_sequence(
    ///     vec!["python is fun".to_string(), "rust is fast".to_string()], 2);
    /// assert_eq!(b.filter_func(brisk_bag::contains("python")).count().compute()?, 1);
    /// # Ok::<(), brisk_core::Error>(())
    /// ```
    pub fn filter_func<M>(&self, pred: impl brisk_core::IntoFunc<M>) -> Bag<T> {
        let pred = pred.into_func();
        if let Some(b) = self.named_filter(pred.clone()) {
            return b;
        }
        self.filter(move |x| {
            pred.call(&[Value::new(x.clone())])
                .ok()
                .and_then(|v| v.get::<bool>().ok())
                .unwrap_or(false)
        })
    }

    /// `filter` through the named kernel for this record type, when there is one.
    fn named_filter(&self, pred: Func) -> Option<Bag<T>> {
        self.named_stage::<T>("filter", pred)
    }

    /// A stage through its named kernel from `T` to `U` records (the function a literal).
    fn named_stage<U: Record>(&self, stage: &'static str, f: Func) -> Option<Bag<U>> {
        use std::any::TypeId;
        let kernel = crate::named::stage_kernel_to(stage, TypeId::of::<T>(), TypeId::of::<U>())?;
        Some(self.kernel_stage(stage, kernel, vec![Value::new(f)]))
    }

    /// A stage whose task calls `kernel` with the input's stream and `params` as literals.
    pub(crate) fn kernel_stage<U: Record>(
        &self,
        label: &'static str,
        kernel: Func,
        params: Vec<Value>,
    ) -> Bag<U> {
        let prev = Arc::clone(&self.inner.make);
        Bag::from_parts(
            label,
            self.inner.npartitions,
            self.inner.deps.clone(),
            Arc::new(move |i| {
                let mut args = vec![Arg::Task(Box::new(prev(i)))];
                args.extend(params.iter().cloned().map(Arg::Literal));
                Task {
                    func: kernel.clone(),
                    args,
                }
            }),
        )
    }

    /// Replace every record by the items `f` returns for it.
    ///
    /// A `#[brisk::func]` function returning a `Vec` runs anywhere (a cluster's workers too)
    /// when both record types are among [`crate::NAMED_RECORDS`]; a closure runs here.
    pub fn flat_map<I, F>(&self, f: F) -> Bag<I::Item>
    where
        F: Fn(T) -> I + Send + Sync + 'static,
        I: IntoIterator,
        I::Item: Record,
    {
        if let Some(named) = Func::registered::<F>()
            && let Some(b) = self.named_stage::<I::Item>("flat_map", named)
        {
            return b;
        }
        let f = Arc::new(f);
        self.stage("flat-map", move |s| {
            let f = Arc::clone(&f);
            Box::new(move |sink| {
                s(&mut |x| {
                    if let Some(x) = x.take() {
                        for y in f(x) {
                            push(sink, y)?;
                        }
                    }
                    ControlFlow::Continue(())
                })
            })
        })
    }

    /// Concatenate the records' items: a bag of `Vec<U>` becomes a bag of `U`.
    pub fn flatten<U: Record>(&self) -> Bag<U>
    where
        T: IntoIterator<Item = U>,
    {
        self.flat_map(|x| x)
    }

    /// Apply `f` to each whole partition.
    ///
    /// A closure runs in this process; a `#[brisk::func]` function (`fn f(part: Vec<String>)
    /// -> Vec<u64>`) runs anywhere, a cluster's workers too, when both record types are among
    /// [`crate::NAMED_RECORDS`].
    pub fn map_partitions<U: Record, F>(&self, f: F) -> Bag<U>
    where
        F: Fn(Vec<T>) -> Vec<U> + Send + Sync + 'static,
    {
        if let Some(named) = Func::registered::<F>()
            && let Some(b) = self.named_stage::<U>("map_partitions", named)
        {
            return b;
        }
        let f = Arc::new(f);
        self.stage("map-partitions", move |s| {
            let f = Arc::clone(&f);
            Box::new(move |sink| {
                for y in f(collect(s)?) {
                    if push(sink, y).is_break() {
                        break;
                    }
                }
                Ok(())
            })
        })
    }

    /// Keep each record with probability `prob` (reproducible for a given `seed`).
    ///
    /// Each partition draws from its own generator, seeded from `seed` and the partition's
    /// index; the seed and the probability are literals of the tasks, so for the record types
    /// in [`crate::NAMED_RECORDS`] the stage is a named kernel and runs on a cluster's workers
    /// too, keeping the same records as a local run.
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let b = brisk_bag::range(1000, 4);
    /// let s = b.random_sample(0.1, Some(7))?.compute()?;
    /// assert_eq!(s, b.random_sample(0.1, Some(7))?.compute()?);
    /// assert!(s.len() > 50 && s.len() < 150, "{}", s.len());
    /// assert!(b.random_sample(1.5, None).is_err());
    /// # Ok::<(), brisk_bag::BagError>(())
    /// ```
    pub fn random_sample(&self, prob: f64, seed: Option<u64>) -> Result<Bag<T>, BagError> {
        if !(0.0..=1.0).contains(&prob) {
            return Err(BagError::InvalidArgument {
                name: "prob",
                value: prob.to_string(),
                reason: "a probability between 0 and 1",
            });
        }
        let seed = seed.unwrap_or_else(|| {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        });
        let kernel = crate::named_reduce::kernel_or::<T>(
            "random_sample",
            "random-sample",
            crate::named::random_sample_kernel::<T>,
        );
        let prob = Value::new(prob);
        // Each partition gets its own generator, derived from the seed and its index.
        let prev = Arc::clone(&self.inner.make);
        let make: MakeTask = Arc::new(move |i| {
            let part_seed = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let mut t = stream_task(&kernel, prev(i));
            t.args.push(Arg::Literal(prob.clone()));
            t.args.push(Arg::Literal(Value::new(part_seed)));
            t
        });
        Ok(Bag::from_parts(
            "random-sample",
            self.inner.npartitions,
            self.inner.deps.clone(),
            make,
        ))
    }

    /// Join with a small in-memory collection: pairs `(record, other)` for every `other` whose
    /// key `on_other` equals the record's key `on_self` (an inner join; records without a
    /// match are dropped). `other` is shipped to every partition.
    ///
    /// `on_other` runs here, when the graph is built. A closure `on_self` runs in this
    /// process; a `#[brisk::func]` one runs anywhere, a cluster's workers too, when `T` and `U`
    /// are among [`crate::NAMED_RECORDS`] and `K` is `String`, `i64` or `u64` (as
    /// [`Bag::join_func`] does).
    pub fn join<U: Record, K, S>(
        &self,
        other: Vec<U>,
        on_self: S,
        on_other: impl Fn(&U) -> K,
    ) -> Bag<(T, U)>
    where
        S: Fn(&T) -> K + Send + Sync + 'static,
        K: Record + std::hash::Hash + Eq,
    {
        if let Some(f) = Func::registered::<S>()
            && let Some(kernel) = crate::named::stage_kernel_to(
                "join",
                std::any::TypeId::of::<T>(),
                std::any::TypeId::of::<(U, K)>(),
            )
        {
            return self.join_with_kernel(kernel, other, f, on_other);
        }
        let mut index: rustc_hash::FxHashMap<K, Vec<U>> = Default::default();
        for u in other {
            index.entry(on_other(&u)).or_default().push(u);
        }
        let index = Arc::new(index);
        let on_self = Arc::new(on_self);
        self.stage("join", move |s| {
            let index = Arc::clone(&index);
            let on_self = Arc::clone(&on_self);
            Box::new(move |sink| {
                s(&mut |x| {
                    if let Some(x) = x.as_ref()
                        && let Some(matches) = index.get(&on_self(x))
                    {
                        for u in matches {
                            push(sink, (x.clone(), u.clone()))?;
                        }
                    }
                    ControlFlow::Continue(())
                })
            })
        })
    }

    /// [`Bag::join`] with a function value as the records' key (a registered function, or a
    /// bound one): it travels by name with `other` and the others' keys as literals, so the
    /// join runs on a cluster's workers when `T` and `U` are among [`crate::NAMED_RECORDS`]
    /// and `K` is `String`, `i64` or `u64` (other types run the same kernel here, in a
    /// closure). Pairs come in the order of the records, then of `other`. A key function that
    /// returns another type than `K` is an error naming it.
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// fn parity(x: i64) -> u64 { x.rem_euclid(2) as u64 }
    /// brisk_core::register!(parity as "doc::join_parity");
    /// let b = brisk_bag::Bag::from_sequence(vec![1i64, 2, 3], 2);
    /// let names = vec!["even".to_string(), "odd".to_string()];
    /// let pairs = b.join_func(names, parity, |n: &String| u64::from(n == "odd")).compute()?;
    /// assert_eq!(pairs, [(1, "odd".to_string()), (2, "even".to_string()), (3, "odd".to_string())]);
    /// # Ok::<(), brisk_core::Error>(())
    /// ```
    pub fn join_func<U: Record, K, M>(
        &self,
        other: Vec<U>,
        on_self: impl brisk_core::IntoFunc<M>,
        on_other: impl Fn(&U) -> K,
    ) -> Bag<(T, U)>
    where
        K: Record + std::hash::Hash + Eq,
    {
        let kernel = crate::named_reduce::kernel_or_to::<T, (U, K)>(
            "join",
            "join",
            crate::named_fold::join_kernel::<T, U, K>,
        );
        self.join_with_kernel(kernel, other, on_self.into_func(), on_other)
    }

    /// The join stage through `kernel` (the named one, or the same function in a closure).
    fn join_with_kernel<U: Record, K: Record>(
        &self,
        kernel: Func,
        other: Vec<U>,
        on_self: Func,
        on_other: impl Fn(&U) -> K,
    ) -> Bag<(T, U)> {
        let keys: Vec<K> = other.iter().map(on_other).collect();
        self.kernel_stage(
            "join",
            kernel,
            vec![Value::new(on_self), Value::new(keys), Value::new(other)],
        )
    }

    /// The first `n` records, computing partitions one at a time and only as far as needed:
    /// reading stops as soon as `n` records are found. Each partition's task is a named kernel
    /// for the record types in [`crate::NAMED_RECORDS`], so `take` runs on a cluster's workers
    /// too.
    ///
    /// ```
    /// # brisk_local::LocalScheduler::threaded();
    /// let b = brisk_bag::range(100, 4);
    /// assert_eq!(b.take(3)?, [0, 1, 2]);
    /// assert_eq!(b.take(1000)?.len(), 100);
    /// # Ok::<(), brisk_bag::BagError>(())
    /// ```
    pub fn take(&self, n: usize) -> Result<Vec<T>, BagError> {
        let mut out: Vec<T> = Vec::with_capacity(n.min(1 << 16));
        let sched = brisk_core::default_scheduler()?;
        let kernel =
            crate::named_reduce::kernel_or::<T>("take", "take", crate::named::take_kernel::<T>);
        for i in 0..self.inner.npartitions {
            if out.len() >= n {
                break;
            }
            let want = (n - out.len()) as u64;
            let mut task = stream_task(&kernel, self.part_task(i));
            task.args.push(Arg::Literal(Value::new(want)));
            let name = tokenize("take");
            let key = Key::from(&*name);
            let layer = Layer::from_nodes(name, vec![(key.clone(), Node::Task(task))], self.deps());
            let graph = brisk_core::layer::materialize(&[&layer]);
            let v = sched
                .get(
                    &graph,
                    std::slice::from_ref(&key),
                    &ComputeOptions::optimized(),
                )?
                .pop()
                .ok_or(Error::Cancelled)?;
            let part = v
                .downcast_arc::<Vec<T>>()
                .map_err(|mismatch| Error::WrongType { key, mismatch })?;
            out.extend(Arc::unwrap_or_clone(part));
        }
        Ok(out)
    }

    /// The stored partitions: one `Vec<T>` per partition, built on first use.
    pub(crate) fn materialized(&self) -> (Arc<str>, Arc<Layer>) {
        self.inner
            .materialized
            .get_or_init(|| {
                let func = crate::named_reduce::kernel_or::<T>(
                    "collect",
                    "collect",
                    crate::named_reduce::collect_kernel::<T>,
                );
                let name = tokenize(self.inner.label);
                let nodes = (0..self.inner.npartitions)
                    .map(|i| {
                        (
                            Key::with_shared_name(&name, &[i as u32]),
                            Node::Task(stream_task(&func, self.part_task(i))),
                        )
                    })
                    .collect();
                let layer = Layer::from_nodes(Arc::clone(&name), nodes, self.deps());
                (name, layer)
            })
            .clone()
    }

    fn partition_keys(&self) -> Vec<Key> {
        let (name, _) = self.materialized();
        (0..self.inner.npartitions)
            .map(|i| Key::with_shared_name(&name, &[i as u32]))
            .collect()
    }

    /// Compute the partitions and keep them in memory: the returned bag starts from the
    /// stored records.
    pub fn persist(&self) -> Result<Bag<T>, BagError> {
        let keys = self.partition_keys();
        let values = brisk_core::default_scheduler()?.persist(
            &self.graph(),
            &keys,
            &ComputeOptions::optimized(),
        )?;
        let name = tokenize("persisted");
        let nodes: Vec<(Key, Node)> = keys
            .iter()
            .zip(values)
            .map(|(k, v)| (k.clone(), Node::Literal(v)))
            .collect();
        let layer = Layer::from_nodes(name, nodes, vec![]);
        Ok(Bag::from_keys("persisted", keys, vec![layer]))
    }
}

impl<T: Record> Collection for Bag<T> {
    type Output = Vec<T>;

    fn layers(&self) -> Vec<Arc<Layer>> {
        vec![self.materialized().1]
    }

    fn output_keys(&self) -> Vec<Key> {
        self.partition_keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<Vec<T>, Error> {
        let keys = self.partition_keys();
        let mut out = Vec::new();
        for (v, key) in values.into_iter().zip(keys) {
            let part = v
                .downcast_arc::<Vec<T>>()
                .map_err(|mismatch| Error::WrongType { key, mismatch })?;
            if out.is_empty() {
                out = Arc::unwrap_or_clone(part);
            } else {
                out.extend(Arc::unwrap_or_clone(part));
            }
        }
        Ok(out)
    }
}
