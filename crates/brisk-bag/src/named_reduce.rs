//! Named kernels for the work between partitions: storing a partition (`collect`), streaming
//! a stored one again (`from_partition`), counting by key (`frequencies`: split and merge) and
//! the `k` best records by a function value (`topk_by` with a `#[brisk::func]` key).
//!
//! These tasks used to be closures built with the graph, which only the client's process can
//! run. None of them needs anything captured except small parameters (the number of output
//! partitions, a bucket index, `k`, the key function), so each is a plain generic function
//! that takes those parameters as literal arguments, registered by name for the record types
//! the workers know ([`crate::NAMED_RECORDS`] and the `(key, count)` pairs of `frequencies`
//! over `String`, `i64` and `u64`). With them, `read_text(..).split_whitespace()
//! .frequencies().most_common(10)` — the word count — runs on stock `brisk worker`s. For other
//! record types the graph builders wrap the same functions in closures (`Func::raw`), so the
//! code that runs is the same either way.
//!
//! `topk_by` with a function value cannot know the key's Rust type at the call site: the key
//! comes back as a [`Value`] and is ordered through [`OrdKey`] (integers, floats by
//! `total_cmp`, strings, bools); any other key type is an error naming the function and the
//! type. Ties keep the records' order in the bag, as the closure path does: each partition
//! keeps its best `k` best-first with earlier records first among equals, and a merge sorts the
//! concatenation of its inputs (in partition order) stably.

use std::any::TypeId;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::hash::Hash;
use std::ops::ControlFlow;

use brisk_core::{Func, TaskFailure, TaskResult, Value};

use crate::bag::Record;
use crate::error::BagError;
use crate::reduce::FastMap;
use crate::shuffle::bucket_of;
use crate::stream::{StreamFn, arg_stream, collect, fail, from_vec};

pub(crate) fn internal(m: impl std::fmt::Display) -> TaskFailure {
    TaskFailure::msg(format!("internal: {m}"))
}

pub(crate) fn arg<'a>(args: &'a [Value], i: usize, what: &str) -> Result<&'a Value, TaskFailure> {
    args.get(i)
        .ok_or_else(|| TaskFailure::msg(format!("internal: missing {what}")))
}

pub(crate) fn arg_u64(args: &[Value], i: usize, what: &str) -> Result<u64, TaskFailure> {
    arg(args, i, what)?.get::<u64>().map_err(internal)
}

pub(crate) fn arg_func(args: &[Value], i: usize, what: &str) -> Result<Func, TaskFailure> {
    Ok(arg(args, i, what)?
        .downcast_ref::<Func>()
        .map_err(internal)?
        .clone())
}

/// `brisk_bag::collect<T>`: a partition's stream stored as a `Vec<T>`.
pub(crate) fn collect_kernel<T: Record>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    Ok(Value::new(collect(s).map_err(fail)?))
}

/// `brisk_bag::from_partition<T>`: a stored partition (`Vec<T>`) streamed again.
pub(crate) fn from_partition_kernel<T: Record>(args: &[Value]) -> TaskResult {
    let part = arg(args, 0, "partition")?
        .downcast_arc::<Vec<T>>()
        .map_err(internal)?;
    Ok(Value::new(from_vec(part)))
}

/// The kernel `stage` registered for records of type `T`, else `fallback` as a closure.
pub(crate) fn kernel_or<T: 'static>(
    stage: &str,
    label: &'static str,
    fallback: fn(&[Value]) -> TaskResult,
) -> Func {
    kernel_or_to::<T, T>(stage, label, fallback)
}

/// The kernel `stage` registered for the pair of types `(T, U)` (records in and out, or the
/// two type parameters of a kernel such as `foldby_part<T, K>`), else `fallback` as a closure.
pub(crate) fn kernel_or_to<T: 'static, U: 'static>(
    stage: &str,
    label: &'static str,
    fallback: fn(&[Value]) -> TaskResult,
) -> Func {
    crate::named::stage_kernel_to(stage, TypeId::of::<T>(), TypeId::of::<U>())
        .unwrap_or_else(|| Func::raw(label, fallback))
}

/// One partition's counts split into `n_out` buckets by the hash of the key.
fn buckets<K: Hash>(counts: FastMap<K, u64>, n_out: usize) -> Vec<Vec<(K, u64)>> {
    let n_out = n_out.max(1);
    let mut out: Vec<Vec<(K, u64)>> = (0..n_out).map(|_| Vec::new()).collect();
    for (k, c) in counts {
        out[bucket_of(&k, n_out)].push((k, c));
    }
    out
}

/// The counts of one partition's records.
fn count_records<T: Record + Hash + Eq>(s: StreamFn<T>) -> Result<FastMap<T, u64>, BagError> {
    if TypeId::of::<T>() == TypeId::of::<String>() {
        return crate::count_str::count_strings::<T>(s);
    }
    let mut counts: FastMap<T, u64> = FastMap::default();
    s(&mut |x| {
        // Count a record already seen without taking it from its slot.
        if let Some(r) = x.as_ref()
            && let Some(c) = counts.get_mut(r)
        {
            *c += 1;
        } else if let Some(x) = x.take() {
            counts.insert(x, 1);
        }
        ControlFlow::Continue(())
    })?;
    Ok(counts)
}

/// `brisk_bag::freq_split<T>`: count one partition's records, in `n_out` buckets.
/// Arguments: the partition's stream, `n_out`.
pub(crate) fn freq_split_kernel<T: Record + Hash + Eq>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let n_out = arg_u64(args, 1, "number of output partitions")? as usize;
    let counts = count_records(s).map_err(fail)?;
    Ok(Value::new(buckets(counts, n_out)))
}

/// `brisk_bag::word_freq_split`: count the whitespace-separated words of one partition of
/// lines, in `n_out` buckets (no string per word: see `count_str.rs`).
pub(crate) fn word_freq_split_kernel(args: &[Value]) -> TaskResult {
    let s = arg_stream::<String>(args, 0)?;
    let n_out = arg_u64(args, 1, "number of output partitions")? as usize;
    let counts = crate::count_str::count_words::<String>(s).map_err(fail)?;
    Ok(Value::new(buckets(counts, n_out)))
}

/// `brisk_bag::freq_merge<K>`: bucket `j` of every split, merged into `(key, count)` records.
/// Arguments: the list of splits, `j`.
pub(crate) fn freq_merge_kernel<K: Record + Hash + Eq>(args: &[Value]) -> TaskResult {
    let list = arg(args, 0, "counts")?
        .as_list()
        .ok_or_else(|| internal("expected a list of counts"))?;
    let j = arg_u64(args, 1, "bucket")? as usize;
    let mut total: FastMap<K, u64> = FastMap::default();
    for v in list {
        let buckets = v.downcast_ref::<Vec<Vec<(K, u64)>>>().map_err(internal)?;
        for (k, c) in buckets.get(j).into_iter().flatten() {
            if let Some(t) = total.get_mut(k) {
                *t += c;
            } else {
                total.insert(k.clone(), *c);
            }
        }
    }
    Ok(Value::new(total.into_iter().collect::<Vec<(K, u64)>>()))
}

/// A sort key computed by a function value: the types a worker can order without knowing the
/// key's Rust type. Integers compare as integers, floats by `total_cmp`, strings bytewise;
/// keys of different kinds (an integer against a string) order by kind.
#[derive(Clone, Debug)]
pub(crate) enum OrdKey {
    Int(i128),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl OrdKey {
    fn kind(&self) -> u8 {
        match self {
            OrdKey::Bool(_) => 0,
            OrdKey::Int(_) | OrdKey::Float(_) => 1,
            OrdKey::Str(_) => 2,
        }
    }

    /// The key a function value returned, or an error naming the function and the type.
    fn of(v: &Value, f: &Func) -> Result<OrdKey, BagError> {
        macro_rules! ints {
            ($($t:ty),+) => {$(
                if let Ok(x) = v.get::<$t>() {
                    return Ok(OrdKey::Int(x as i128));
                }
            )+};
        }
        ints!(i64, u64, i32, u32, usize, isize, i16, u16, i8, u8);
        if let Ok(x) = v.get::<f64>() {
            return Ok(OrdKey::Float(x));
        }
        if let Ok(x) = v.get::<f32>() {
            return Ok(OrdKey::Float(f64::from(x)));
        }
        if let Ok(x) = v.get::<bool>() {
            return Ok(OrdKey::Bool(x));
        }
        if let Ok(x) = v.downcast_ref::<String>() {
            return Ok(OrdKey::Str(x.clone()));
        }
        Err(topk_error(format!(
            "the key function {} returned {}, which a worker cannot order; return an integer, \
             a float, a String or a bool (or use topk_by with a closure, which runs locally)",
            f.label(),
            v.type_name()
        )))
    }
}

impl PartialEq for OrdKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for OrdKey {}
impl PartialOrd for OrdKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (OrdKey::Int(a), OrdKey::Int(b)) => a.cmp(b),
            (OrdKey::Float(a), OrdKey::Float(b)) => a.total_cmp(b),
            (OrdKey::Int(a), OrdKey::Float(b)) => (*a as f64).total_cmp(b),
            (OrdKey::Float(a), OrdKey::Int(b)) => a.total_cmp(&(*b as f64)),
            (OrdKey::Str(a), OrdKey::Str(b)) => a.cmp(b),
            (OrdKey::Bool(a), OrdKey::Bool(b)) => a.cmp(b),
            _ => self.kind().cmp(&other.kind()),
        }
    }
}

fn topk_error(message: String) -> BagError {
    crate::named::stage_error("topk_by", message)
}

fn key_of<T: Record>(f: &Func, r: &T) -> Result<OrdKey, BagError> {
    let v = f
        .call(&[Value::new(r.clone())])
        .map_err(|e| topk_error(e.to_string()))?;
    OrdKey::of(&v, f)
}

/// A heap entry: larger key first, then earlier position; the record rides along.
struct Entry<T>(OrdKey, Reverse<u64>, T);

impl<T> PartialEq for Entry<T> {
    fn eq(&self, o: &Self) -> bool {
        (&self.0, &self.1) == (&o.0, &o.1)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, o: &Self) -> Ordering {
        (&self.0, &self.1).cmp(&(&o.0, &o.1))
    }
}

/// `brisk_bag::topk_part<T>`: the best `k` records of one partition by the key function,
/// best first (earlier first among equals). Arguments: the stream, the partition's index
/// (unused), the key function, `k`.
pub(crate) fn topk_part_kernel<T: Record>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let f = arg_func(args, 2, "key function")?;
    let k = arg_u64(args, 3, "k")? as usize;
    let mut heap: BinaryHeap<Reverse<Entry<T>>> = BinaryHeap::with_capacity(k + 1);
    let mut pos = 0u64;
    let mut err = None;
    if k > 0 {
        s(&mut |x| {
            let Some(r) = x.as_ref() else {
                return ControlFlow::Continue(());
            };
            let key = match key_of(&f, r) {
                Ok(key) => key,
                Err(e) => {
                    err = Some(e);
                    return ControlFlow::Break(());
                }
            };
            let at = Reverse(pos);
            pos += 1;
            let enters = heap.len() < k
                || heap
                    .peek()
                    .is_some_and(|min| (&key, &at) > (&min.0.0, &min.0.1));
            if enters && let Some(x) = x.take() {
                if heap.len() >= k {
                    heap.pop();
                }
                heap.push(Reverse(Entry(key, at, x)));
            }
            ControlFlow::Continue(())
        })
        .map_err(fail)?;
    }
    if let Some(e) = err {
        return Err(fail(e));
    }
    let mut best: Vec<Entry<T>> = heap.into_iter().map(|Reverse(e)| e).collect();
    best.sort_by(|a, b| b.cmp(a));
    Ok(Value::new(
        best.into_iter().map(|e| e.2).collect::<Vec<T>>(),
    ))
}

/// `brisk_bag::topk_merge<T>`: the best `k` of several partial results (each best first, in
/// partition order). Arguments: the list of partials, the key function, `k`.
pub(crate) fn topk_merge_kernel<T: Record>(args: &[Value]) -> TaskResult {
    let list = arg(args, 0, "partial results")?
        .as_list()
        .ok_or_else(|| internal("expected a list of partial results"))?;
    let f = arg_func(args, 1, "key function")?;
    let k = arg_u64(args, 2, "k")? as usize;
    let mut all: Vec<(OrdKey, T)> = Vec::new();
    for v in list {
        for r in v.downcast_ref::<Vec<T>>().map_err(internal)? {
            all.push((key_of(&f, r).map_err(fail)?, r.clone()));
        }
    }
    // Stable: among equal keys, earlier partitions (and earlier records) stay first.
    all.sort_by(|a, b| b.0.cmp(&a.0));
    all.truncate(k);
    Ok(Value::new(all.into_iter().map(|e| e.1).collect::<Vec<T>>()))
}

/// `brisk_bag::by_count`: the count of a `(key, count)` record of `frequencies`, as a key
/// function value (for [`crate::Bag::most_common`] and `topk_by_func`).
fn by_count_kernel(args: &[Value]) -> TaskResult {
    let v = arg(args, 0, "record")?;
    if let Ok(p) = v.downcast_ref::<(String, u64)>() {
        return Ok(Value::from(p.1));
    }
    if let Ok(p) = v.downcast_ref::<(i64, u64)>() {
        return Ok(Value::from(p.1));
    }
    if let Ok(p) = v.downcast_ref::<(u64, u64)>() {
        return Ok(Value::from(p.1));
    }
    Err(TaskFailure::msg(format!(
        "by_count: expected a (key, count) record of frequencies over String, i64 or u64, \
         got {}",
        v.type_name()
    )))
}

const BY_COUNT: &str = "brisk_bag::by_count";
register_kernel!(BY_COUNT, "by-count", by_count_kernel);

/// The key function value of `(key, count)` records: their count.
pub fn by_count() -> Func {
    crate::named::named_kernel(BY_COUNT, "by-count", by_count_kernel)
}

const WORD_FREQ_SPLIT: &str = "brisk_bag::word_freq_split";
register_kernel!(WORD_FREQ_SPLIT, "frequencies", word_freq_split_kernel);

/// The kernel counting the words of lines.
pub(crate) fn word_freq_split_func() -> Func {
    crate::named::named_kernel(WORD_FREQ_SPLIT, "frequencies", word_freq_split_kernel)
}

/// Register `kernel::<$t>` as `brisk_bag::<stage><<tag>>`, findable by stage and record type.
macro_rules! stage_kernel {
    ($stage:literal, $label:literal, $kernel:ident, $t:ty, $tag:expr) => {
        register_stage!(concat!("brisk_bag::", $stage, "<", $tag, ">"), $label, $stage, $kernel::<$t>, $t => $t);
    };
}

/// The kernels every named record type has.
macro_rules! record_kernels {
    ($($t:ty => $tag:expr),+ $(,)?) => {$(
        stage_kernel!("collect", "collect", collect_kernel, $t, $tag);
        stage_kernel!("from_partition", "from-partition", from_partition_kernel, $t, $tag);
        stage_kernel!("topk_part", "topk", topk_part_kernel, $t, $tag);
        stage_kernel!("topk_merge", "topk", topk_merge_kernel, $t, $tag);
    )+};
}

/// The counting kernels of hashable record types, their `(key, count)` records and codecs.
macro_rules! count_kernels {
    ($($t:ty => $tag:literal, $pair:literal);+ $(;)?) => {$(
        stage_kernel!("freq_split", "frequencies", freq_split_kernel, $t, $tag);
        stage_kernel!("freq_merge", "frequencies", freq_merge_kernel, $t, $tag);
        record_kernels!(($t, u64) => $pair);
        brisk_core::register_serde_type!(($t, u64), debug);
        brisk_core::register_serde_type!(Vec<($t, u64)>, debug);
        brisk_core::register_serde_type!(Vec<Vec<($t, u64)>>);
    )+};
}

record_kernels!(
    String => "String",
    i64 => "i64",
    u64 => "u64",
    f64 => "f64",
    serde_json::Value => "serde_json::Value",
);
count_kernels!(
    String => "String", "(String,u64)";
    i64 => "i64", "(i64,u64)";
    u64 => "u64", "(u64,u64)";
);
brisk_core::register_serde_type!(serde_json::Value, debug);
brisk_core::register_serde_type!(Vec<serde_json::Value>, debug);

// The records of other results, with their codecs: `foldby`'s `(key, result)` pairs with
// `i64` and `f64` results (those with `u64` results are the counts' above; core registers the
// codecs of `(String, i64)`, `Vec<(String, i64)>` and `(i64, i64)`), and `groupby`'s
// `(key, records)` groups with their split buckets.
record_kernels!(
    (String, i64) => "(String,i64)",
    (i64, i64) => "(i64,i64)",
    (u64, i64) => "(u64,i64)",
    (String, f64) => "(String,f64)",
    (i64, f64) => "(i64,f64)",
    (u64, f64) => "(u64,f64)",
);
brisk_core::register_serde_type!(Vec<(i64, i64)>, debug);
brisk_core::register_serde_type!((u64, i64), debug);
brisk_core::register_serde_type!(Vec<(u64, i64)>, debug);
brisk_core::register_serde_type!((String, f64), debug);
brisk_core::register_serde_type!(Vec<(String, f64)>, debug);
brisk_core::register_serde_type!((i64, f64), debug);
brisk_core::register_serde_type!(Vec<(i64, f64)>, debug);
brisk_core::register_serde_type!((u64, f64), debug);
brisk_core::register_serde_type!(Vec<(u64, f64)>, debug);

/// `groupby`'s groups of records of type `$t` by keys of type `$k`: their kernels and codecs
/// (and those of the split buckets, unless `frequencies` registers them: `(key, u64)` pairs).
macro_rules! group_records {
    ($($k:ty => $ktag:literal),+; $t:ty => $tag:literal) => {$(
        group_records!($k => $ktag; $t => $tag; no_buckets);
        brisk_core::register_serde_type!(Vec<Vec<($k, $t)>>);
    )+};
    ($k:ty => $ktag:literal; $t:ty => $tag:literal; no_buckets) => {
        record_kernels!(($k, Vec<$t>) => concat!("(", $ktag, ",Vec<", $tag, ">)"));
        brisk_core::register_serde_type!(($k, Vec<$t>), debug);
        brisk_core::register_serde_type!(Vec<($k, Vec<$t>)>, debug);
    };
}

group_records!(String => "String", i64 => "i64", u64 => "u64"; String => "String");
group_records!(String => "String", i64 => "i64", u64 => "u64"; i64 => "i64");
group_records!(String => "String"; u64 => "u64"; no_buckets);
group_records!(i64 => "i64"; u64 => "u64"; no_buckets);
group_records!(u64 => "u64"; u64 => "u64"; no_buckets);
group_records!(String => "String", i64 => "i64", u64 => "u64"; f64 => "f64");
group_records!(String => "String", i64 => "i64", u64 => "u64"; serde_json::Value => "serde_json::Value");

// `join`'s `(record, other)` pairs over the named record types: their kernels and codecs
// (the pairs above have them already).
macro_rules! join_pairs {
    ($($t:ty, $u:ty => $tag:literal),+ $(,)?) => {$(
        record_kernels!(($t, $u) => $tag);
        brisk_core::register_serde_type!(($t, $u), debug);
        brisk_core::register_serde_type!(Vec<($t, $u)>, debug);
    )+};
}

join_pairs!(
    String, String => "(String,String)",
    i64, String => "(i64,String)",
    u64, String => "(u64,String)",
    f64, String => "(f64,String)",
    serde_json::Value, String => "(serde_json::Value,String)",
    f64, i64 => "(f64,i64)",
    serde_json::Value, i64 => "(serde_json::Value,i64)",
    f64, u64 => "(f64,u64)",
    serde_json::Value, u64 => "(serde_json::Value,u64)",
    f64, f64 => "(f64,f64)",
    serde_json::Value, f64 => "(serde_json::Value,f64)",
    String, serde_json::Value => "(String,serde_json::Value)",
    i64, serde_json::Value => "(i64,serde_json::Value)",
    u64, serde_json::Value => "(u64,serde_json::Value)",
    f64, serde_json::Value => "(f64,serde_json::Value)",
    serde_json::Value, serde_json::Value => "(serde_json::Value,serde_json::Value)",
);
