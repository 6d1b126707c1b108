//! Named kernels for `distinct` and for the reductions that take the user's functions —
//! `fold`, `reduction` and `foldby` — as trees of named tasks, so that a cluster's workers run
//! them (see `named_reduce.rs` for why bag tasks are named kernels and not closures).
//!
//! `distinct` needs no user code: `distinct_part<T>` keeps a partition's first appearances,
//! `distinct_merge<T>` (also the finish) merges partial results in partition order, for the
//! hashable record types the workers know (`String`, `i64`, `u64`, `serde_json::Value`; `f64`
//! is not `Hash + Eq` in Rust, so a bag of `f64` has no `distinct` at all). Other record types
//! run the same functions wrapped in closures.
//!
//! The others take the user's functions as *function values* (`#[brisk::func]` functions, or
//! bound ones), literal arguments of every task of the tree. Their accumulators stay [`Value`]s
//! between calls: the kernels never name the accumulator's type, so one kernel per record type
//! serves every accumulator type (which must have a value codec to cross processes, as any
//! literal). Each call goes through `Func::call`: one `Value` per record, as in `map`.
//!
//! - `fold_part<T>` folds a partition from the initial value with `binop`; `fold_merge` (also
//!   the finish) combines partial results in partition order with `combine`; no partial
//!   results (no partitions) give the initial value.
//! - `reduction_part<T>` calls `perpartition` on the whole partition (a `Vec<T>`);
//!   `reduction_finish` calls `aggregate` on the list of partial results (read as a `Vec<A>`).
//! - `foldby_part<T, K>` folds each key's records from the initial value with `binop` (the key
//!   function's result must be a `K`); `foldby_merge<K>` combines the partial results of each
//!   key with `combine`; `foldby_finish<K, A>` does the same and returns the `(K, A)` records.
//!   A partial result is a list `[keys: Vec<K>, accumulators: list]`, keys in order of first
//!   appearance, so the result's order is too.
//!
//! A function that fails, or returns something other than what the next call takes, is a
//! record-level [`BagError`] naming the operation and the function.

use std::hash::Hash;
use std::ops::ControlFlow;

use brisk_core::{Func, TaskFailure, TaskResult, Value};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::bag::Record;
use crate::error::BagError;
use crate::named::{stage_error, take};
use crate::named_reduce::{arg, arg_func, internal};
use crate::stream::{arg_stream, collect, fail};

/// The partial results a merge or finish task gets (its first argument).
fn partial_list(args: &[Value]) -> Result<&[Value], TaskFailure> {
    arg(args, 0, "partial results")?
        .as_list()
        .ok_or_else(|| internal("expected a list of partial results"))
}

/// `f` called on `args` in operation `op`; a failure is an error naming the function.
pub(crate) fn call(op: &'static str, f: &Func, args: &[Value]) -> Result<Value, BagError> {
    f.call(args)
        .map_err(|e| stage_error(op, format!("{}: {e}", f.label())))
}

/// The key the function value `key` gives record `r`, which must be a `K`.
pub(crate) fn key_of<K: Record>(op: &'static str, key: &Func, r: &Value) -> Result<K, BagError> {
    take::<K>(call(op, key, std::slice::from_ref(r))?).map_err(|m| {
        stage_error(
            op,
            format!(
                "the key function {} returned {}, but the keys are {}",
                key.label(),
                m.found,
                m.expected
            ),
        )
    })
}

/// `brisk_bag::distinct_part<T>`: the distinct records of one partition, in order of first
/// appearance. Arguments: the stream, the partition's index (unused).
pub(crate) fn distinct_part_kernel<T: Record + Hash + Eq>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let mut seen: FxHashSet<T> = FxHashSet::default();
    let mut order = Vec::new();
    s(&mut |x| {
        // Look at a record already seen without taking it from its slot.
        if let Some(r) = x.as_ref()
            && !seen.contains(r)
            && let Some(x) = x.take()
        {
            seen.insert(x.clone());
            order.push(x);
        }
        ControlFlow::Continue(())
    })
    .map_err(fail)?;
    Ok(Value::new(order))
}

/// `brisk_bag::distinct_merge<T>`: the distinct records of partial results (each a `Vec<T>`, in
/// partition order), in order of first appearance. Also the finish.
pub(crate) fn distinct_merge_kernel<T: Record + Hash + Eq>(args: &[Value]) -> TaskResult {
    let mut seen: FxHashSet<&T> = FxHashSet::default();
    let mut order = Vec::new();
    for v in partial_list(args)? {
        for r in v.downcast_ref::<Vec<T>>().map_err(internal)? {
            if seen.insert(r) {
                order.push(r.clone());
            }
        }
    }
    Ok(Value::new(order))
}

/// `brisk_bag::fold_part<T>`: one partition folded from the initial value with `binop`.
/// Arguments: the stream, the partition's index (unused), the initial value, `binop`,
/// `combine` (unused).
pub(crate) fn fold_part_kernel<T: Record>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let mut acc = arg(args, 2, "initial value")?.clone();
    let binop = arg_func(args, 3, "binop")?;
    let mut err = None;
    s(&mut |x| {
        let Some(r) = x.take() else {
            return ControlFlow::Continue(());
        };
        let prev = std::mem::replace(&mut acc, Value::new(()));
        match call("fold", &binop, &[prev, Value::new(r)]) {
            Ok(next) => {
                acc = next;
                ControlFlow::Continue(())
            }
            Err(e) => {
                err = Some(e);
                ControlFlow::Break(())
            }
        }
    })
    .map_err(fail)?;
    match err {
        Some(e) => Err(fail(e)),
        None => Ok(acc),
    }
}

/// `brisk_bag::fold_merge`: partial results combined in order with `combine`, or the initial
/// value if there are none. Also the finish. Arguments: the partial results, the initial
/// value, `binop` (unused), `combine`.
fn fold_merge_kernel(args: &[Value]) -> TaskResult {
    let list = partial_list(args)?;
    let combine = arg_func(args, 3, "combine")?;
    let mut it = list.iter();
    let Some(first) = it.next() else {
        return Ok(arg(args, 1, "initial value")?.clone());
    };
    let mut acc = first.clone();
    for p in it {
        acc = call("fold", &combine, &[acc, p.clone()]).map_err(fail)?;
    }
    Ok(acc)
}

const FOLD_MERGE: &str = "brisk_bag::fold_merge";
register_kernel!(FOLD_MERGE, "fold", fold_merge_kernel);

/// The `fold_merge` kernel.
pub(crate) fn fold_merge_func() -> Func {
    crate::named::named_kernel(FOLD_MERGE, "fold", fold_merge_kernel)
}

/// `brisk_bag::reduction_part<T>`: `perpartition` called on one whole partition (a `Vec<T>`).
/// Arguments: the stream, the partition's index (unused), `perpartition`, `aggregate`
/// (unused).
pub(crate) fn reduction_part_kernel<T: Record>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let perpartition = arg_func(args, 2, "perpartition")?;
    let part = collect(s).map_err(fail)?;
    call("reduction", &perpartition, &[Value::new(part)]).map_err(fail)
}

/// `brisk_bag::reduction_finish`: `aggregate` called on the list of all partial results (which
/// it reads as a `Vec<A>`). Arguments: the partial results, `perpartition` (unused),
/// `aggregate`.
fn reduction_finish_kernel(args: &[Value]) -> TaskResult {
    let list = arg(args, 0, "partial results")?;
    if list.as_list().is_none() {
        return Err(internal("expected a list of partial results"));
    }
    let aggregate = arg_func(args, 2, "aggregate")?;
    call("reduction", &aggregate, std::slice::from_ref(list)).map_err(fail)
}

const REDUCTION_FINISH: &str = "brisk_bag::reduction_finish";
register_kernel!(REDUCTION_FINISH, "reduction", reduction_finish_kernel);

/// The `reduction_finish` kernel.
pub(crate) fn reduction_finish_func() -> Func {
    crate::named::named_kernel(REDUCTION_FINISH, "reduction", reduction_finish_kernel)
}

/// The groups of a `foldby` task: keys in order of first appearance, with their accumulators.
struct Groups<K> {
    index: FxHashMap<K, usize>,
    keys: Vec<K>,
    accs: Vec<Value>,
}

impl<K: Record + Hash + Eq> Groups<K> {
    fn new() -> Self {
        Groups {
            index: FxHashMap::default(),
            keys: Vec::new(),
            accs: Vec::new(),
        }
    }

    /// Fold `x` into the accumulator of `k` with `f(acc, x)`, or start it with `start(x)`.
    fn add(
        &mut self,
        k: K,
        x: Value,
        f: &Func,
        start: impl FnOnce(Value) -> Result<Value, BagError>,
    ) -> Result<(), BagError> {
        match self.index.get(&k) {
            Some(&i) => {
                let acc = &mut self.accs[i];
                let prev = std::mem::replace(acc, Value::new(()));
                *acc = call("foldby", f, &[prev, x])?;
            }
            None => {
                self.index.insert(k.clone(), self.keys.len());
                self.keys.push(k);
                self.accs.push(start(x)?);
            }
        }
        Ok(())
    }

    /// The partial result: `[keys, accumulators]`.
    fn into_value(self) -> Value {
        Value::list(vec![Value::new(self.keys), Value::list(self.accs)])
    }

    /// The partial results of a merge task combined with `combine`.
    fn merged(list: &[Value], combine: &Func) -> Result<Self, TaskFailure> {
        let mut g = Groups::new();
        for p in list {
            let parts = p
                .as_list()
                .ok_or_else(|| internal("expected a foldby partial result"))?;
            let [keys, accs] = parts else {
                return Err(internal("expected a foldby partial result of two parts"));
            };
            let keys = keys.downcast_ref::<Vec<K>>().map_err(internal)?;
            let accs = accs
                .as_list()
                .ok_or_else(|| internal("expected a list of accumulators"))?;
            if keys.len() != accs.len() {
                return Err(internal("foldby keys and accumulators differ in number"));
            }
            for (k, a) in keys.iter().zip(accs) {
                g.add(k.clone(), a.clone(), combine, Ok).map_err(fail)?;
            }
        }
        Ok(g)
    }
}

/// `brisk_bag::foldby_part<T, K>`: one partition's records folded per key. Arguments: the
/// stream, the partition's index (unused), the key function, the initial value, `binop`,
/// `combine` (unused).
pub(crate) fn foldby_part_kernel<T: Record, K: Record + Hash + Eq>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let key = arg_func(args, 2, "key function")?;
    let initial = arg(args, 3, "initial value")?.clone();
    let binop = arg_func(args, 4, "binop")?;
    let mut groups = Groups::<K>::new();
    let mut err = None;
    s(&mut |x| {
        let Some(r) = x.take() else {
            return ControlFlow::Continue(());
        };
        let r = Value::new(r);
        let step = key_of::<K>("foldby", &key, &r).and_then(|k| {
            groups.add(k, r, &binop, |r| {
                call("foldby", &binop, &[initial.clone(), r])
            })
        });
        match step {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                err = Some(e);
                ControlFlow::Break(())
            }
        }
    })
    .map_err(fail)?;
    match err {
        Some(e) => Err(fail(e)),
        None => Ok(groups.into_value()),
    }
}

/// `brisk_bag::foldby_merge<K>`: partial results merged, each key's accumulators combined in
/// partition order with `combine`. Arguments: the partial results, the key function, the
/// initial value and `binop` (unused), `combine`.
pub(crate) fn foldby_merge_kernel<K: Record + Hash + Eq>(args: &[Value]) -> TaskResult {
    let combine = arg_func(args, 4, "combine")?;
    Ok(Groups::<K>::merged(partial_list(args)?, &combine)?.into_value())
}

/// `brisk_bag::foldby_finish<K, A>`: [`foldby_merge_kernel`]'s merge, as the `(K, A)` records
/// of the result. Same arguments.
pub(crate) fn foldby_finish_kernel<K: Record + Hash + Eq, A: Record>(args: &[Value]) -> TaskResult {
    let combine = arg_func(args, 4, "combine")?;
    let g = Groups::<K>::merged(partial_list(args)?, &combine)?;
    let mut out: Vec<(K, A)> = Vec::with_capacity(g.keys.len());
    for (k, a) in g.keys.into_iter().zip(g.accs) {
        let a = take::<A>(a).map_err(|m| {
            fail(stage_error(
                "foldby",
                format!(
                    "binop or combine returned {}, but the results are {}",
                    m.found, m.expected
                ),
            ))
        })?;
        out.push((k, a));
    }
    Ok(Value::new(out))
}

/// `brisk_bag::join<T, U, K>`: the pairs `(record, other)` for every `other` whose key
/// equals the record's key (an inner join with a small collection shipped to every task).
/// Arguments: the stream, the key function of the records (a function value returning a
/// `K`), the others' keys (`Vec<K>`, computed when the graph was built), the others
/// (`Vec<U>`, in the same order).
pub(crate) fn join_kernel<T: Record, U: Record, K: Record + Hash + Eq>(
    args: &[Value],
) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let on_self = arg_func(args, 1, "key function")?;
    let keys = arg(args, 2, "keys of the other records")?
        .downcast_arc::<Vec<K>>()
        .map_err(internal)?;
    let others = arg(args, 3, "other records")?
        .downcast_arc::<Vec<U>>()
        .map_err(internal)?;
    if keys.len() != others.len() {
        return Err(internal(
            "join: the other records and their keys differ in number",
        ));
    }
    let mut index: FxHashMap<K, Vec<usize>> = FxHashMap::default();
    for (i, k) in keys.iter().enumerate() {
        index.entry(k.clone()).or_default().push(i);
    }
    Ok(Value::new(crate::stream::Stream::new(
        "join",
        move |sink| {
            let mut err = None;
            s(&mut |x| {
                let Some(r) = x.as_ref() else {
                    return ControlFlow::Continue(());
                };
                match key_of::<K>("join", &on_self, &Value::new(r.clone())) {
                    Ok(k) => {
                        for &i in index.get(&k).map(Vec::as_slice).unwrap_or_default() {
                            crate::stream::push(sink, (r.clone(), others[i].clone()))?;
                        }
                        ControlFlow::Continue(())
                    }
                    Err(e) => {
                        err = Some(e);
                        ControlFlow::Break(())
                    }
                }
            })?;
            err.map_or(Ok(()), Err)
        },
    )))
}

/// `join` for records of type `$t` with others of every named record type, by keys of type
/// `$k` (found by stage, `$t` and the pair `(U, K)`).
macro_rules! join_kernels {
    ($t:ty => $tag:literal; $($k:ty => $ktag:literal),+) => {$(
        join_kernel!($t => $tag, String => "String", $k => $ktag);
        join_kernel!($t => $tag, i64 => "i64", $k => $ktag);
        join_kernel!($t => $tag, u64 => "u64", $k => $ktag);
        join_kernel!($t => $tag, f64 => "f64", $k => $ktag);
        join_kernel!($t => $tag, serde_json::Value => "serde_json::Value", $k => $ktag);
    )+};
}

macro_rules! join_kernel {
    ($t:ty => $tag:literal, $u:ty => $utag:literal, $k:ty => $ktag:literal) => {
        register_stage!(concat!("brisk_bag::join<", $tag, ",", $utag, ",", $ktag, ">"), "join", "join", join_kernel::<$t, $u, $k>, $t => ($u, $k));
    };
}

join_kernels!(String => "String"; String => "String", i64 => "i64", u64 => "u64");
join_kernels!(i64 => "i64"; String => "String", i64 => "i64", u64 => "u64");
join_kernels!(u64 => "u64"; String => "String", i64 => "i64", u64 => "u64");
join_kernels!(f64 => "f64"; String => "String", i64 => "i64", u64 => "u64");
join_kernels!(serde_json::Value => "serde_json::Value"; String => "String", i64 => "i64", u64 => "u64");

macro_rules! distinct_kernels {
    ($($t:ty => $tag:literal),+ $(,)?) => {$(
        register_stage!(concat!("brisk_bag::distinct_part<", $tag, ">"), "distinct", "distinct_part", distinct_part_kernel::<$t>, $t => $t);
        register_stage!(concat!("brisk_bag::distinct_merge<", $tag, ">"), "distinct", "distinct_merge", distinct_merge_kernel::<$t>, $t => $t);
    )+};
}

distinct_kernels!(
    String => "String",
    i64 => "i64",
    u64 => "u64",
    serde_json::Value => "serde_json::Value",
);

/// The kernels per record type, and `foldby_part` per record and key type.
macro_rules! fold_kernels {
    ($($t:ty => $tag:literal),+ $(,)?) => {$(
        register_stage!(concat!("brisk_bag::fold_part<", $tag, ">"), "fold", "fold_part", fold_part_kernel::<$t>, $t => $t);
        register_stage!(concat!("brisk_bag::reduction_part<", $tag, ">"), "reduction", "reduction_part", reduction_part_kernel::<$t>, $t => $t);
        foldby_part!($t => $tag, String => "String");
        foldby_part!($t => $tag, i64 => "i64");
        foldby_part!($t => $tag, u64 => "u64");
    )+};
}

macro_rules! foldby_part {
    ($t:ty => $tag:literal, $k:ty => $ktag:literal) => {
        register_stage!(concat!("brisk_bag::foldby_part<", $tag, ",", $ktag, ">"), "foldby", "foldby_part", foldby_part_kernel::<$t, $k>, $t => $k);
    };
}

/// The merge per key type, and the finish per key and accumulator type.
macro_rules! foldby_keys {
    ($($k:ty => $ktag:literal),+ $(,)?) => {$(
        register_stage!(concat!("brisk_bag::foldby_merge<", $ktag, ">"), "foldby", "foldby_merge", foldby_merge_kernel::<$k>, $k => $k);
        foldby_finish!($k => $ktag, i64 => "i64");
        foldby_finish!($k => $ktag, u64 => "u64");
        foldby_finish!($k => $ktag, f64 => "f64");
    )+};
}

macro_rules! foldby_finish {
    ($k:ty => $ktag:literal, $a:ty => $atag:literal) => {
        register_stage!(concat!("brisk_bag::foldby_finish<", $ktag, ",", $atag, ">"), "foldby", "foldby_finish", foldby_finish_kernel::<$k, $a>, $k => $a);
    };
}

fold_kernels!(
    String => "String",
    i64 => "i64",
    u64 => "u64",
    f64 => "f64",
    serde_json::Value => "serde_json::Value",
);
foldby_keys!(String => "String", i64 => "i64", u64 => "u64");
