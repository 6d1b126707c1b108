//! Bag stages that cross processes: named kernels for the stages a cluster's workers run.
//!
//! A bag stage is normally a closure wrapped around its input's stream (`stream.rs`), which
//! only the process that built it can run. For the bag to run on a cluster each of its tasks
//! must call a function the workers find by name, with its parameters as literal arguments
//! (see `docs/design/user-code.md`). This module holds those named kernels:
//!
//! - `brisk_bag::read_text`: the lines of one block (the block and the storage options as
//!   literals); every `read_text` bag uses it, locally too.
//! - `brisk_bag::filter<T>`: keep the records for which a *function value* is true. The
//!   predicate is a [`Func`] literal: a `#[brisk::func]` function passed to [`Bag::filter`]
//!   (found by its type), a bound one (`f.with(p)`) passed to [`Bag::filter_func`], or a
//!   built-in such as [`contains`]. It is called per record through `Func::call` (one `Value`
//!   per record: the price of not knowing the record type at the call site; typed companions
//!   registered by the attribute are the planned fast path).
//! - `brisk_bag::count<T>` and `brisk_bag::sum_u64`: `count()` as a tree of named tasks.
//! - `brisk_bag::map<T,U>`, `try_map<T,U>`, `flat_map<T,U>`, `map_partitions<T,U>`: a function
//!   value (a `#[brisk::func]` function, found by its type, or a bound one) per record or
//!   partition. `try_map`'s function returns a `Result`; its error is a record-level error
//!   naming `try_map`, the function and the record's file and line.
//! - `brisk_bag::random_sample<T>` (the probability and the partition's seed as literals: the
//!   same generator and draws as a local run) and `brisk_bag::take<T>` (the number of records
//!   still wanted as a literal).
//!
//! Other modules hold the other kernels: stored partitions, `frequencies` and `topk_by`
//! (`named_reduce.rs`), `sum`/`mean`/`min`/`max` (`named_agg.rs`), `distinct`, `fold`,
//! `reduction`, `foldby` and `join` (`named_fold.rs`), `groupby` (`shuffle.rs`), the string
//! stages (`strings.rs`), `pluck` (`json.rs`) and `to_textfiles` (`text.rs`).
//!
//! Kernels generic over the record type are registered for a fixed set of record types
//! ([`NAMED_RECORDS`]: `String`, `i64`, `u64`, `f64`, `serde_json::Value`); a stage on another
//! type keeps its closure and runs locally. [`stage_kernel`] finds a stage's kernel for a
//! record type at graph-building time.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use brisk_core::{Func, TaskFailure, TaskResult, Value};
use brisk_io::{Block, Storage};

use crate::bag::Record;
use crate::error::BagError;
use crate::stream::{Stream, arg_stream, current_origin, fail};

/// One stage kernel instantiated for one record type.
pub(crate) struct StageEntry {
    /// The stage (`"filter"`, `"count"`).
    pub stage: &'static str,
    /// The record type.
    pub record: fn() -> TypeId,
    /// The output record type (the record type for `filter` and `count`).
    pub output: fn() -> TypeId,
    /// The kernel's registered name.
    pub name: &'static str,
}

inventory::collect!(StageEntry);

/// The record types whose stages have named kernels.
pub const NAMED_RECORDS: &[&str] = &["String", "i64", "u64", "f64", "serde_json::Value"];

/// The named kernel of `stage` for records of type `record`, if there is one.
pub(crate) fn stage_kernel(stage: &str, record: TypeId) -> Option<Func> {
    stage_kernel_to(stage, record, record)
}

/// The named kernel of `stage` from records of type `record` to records of type `output`.
pub(crate) fn stage_kernel_to(stage: &str, record: TypeId, output: TypeId) -> Option<Func> {
    type Table = HashMap<(&'static str, TypeId, TypeId), &'static str>;
    static TABLE: OnceLock<Table> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        inventory::iter::<StageEntry>
            .into_iter()
            .map(|e| ((e.stage, (e.record)(), (e.output)()), e.name))
            .collect()
    });
    let name = table.get(&(stage, record, output))?;
    Func::by_name(name).ok()
}

/// `brisk_bag::map<T,U>`: the function value applied to every record.
fn map_kernel<T: Record, U: Record>(args: &[Value]) -> TaskResult {
    map_each::<T, U>("map", "map", args)
}

/// `brisk_bag::try_map<T,U>`: the function value (a fallible one: its error fails the call)
/// applied to every record; an error names `try_map`, the function and the record's origin.
pub(crate) fn try_map_kernel<T: Record, U: Record>(args: &[Value]) -> TaskResult {
    map_each::<T, U>("try_map", "try-map", args)
}

/// The body of `map` and `try_map`: `f` (argument 1) applied to every record of the stream
/// (argument 0), each result read as a `U`; a failure is a record-level error of `op`.
fn map_each<T: Record, U: Record>(
    op: &'static str,
    label: &'static str,
    args: &[Value],
) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let f = user_func(args)?;
    Ok(Value::new(Stream::new(label, move |sink| {
        let mut err = None;
        s(&mut |x| {
            let Some(r) = x.take() else {
                return ControlFlow::Continue(());
            };
            match f.call(&[Value::new(r)]).map(take::<U>) {
                Ok(Ok(y)) => crate::stream::push(sink, y),
                Ok(Err(m)) => {
                    err = Some(stage_error(
                        op,
                        format!(
                            "{} returned {}, but the records are {}",
                            f.label(),
                            m.found,
                            m.expected
                        ),
                    ));
                    ControlFlow::Break(())
                }
                Err(e) => {
                    err = Some(stage_error(op, format!("{}: {e}", f.label())));
                    ControlFlow::Break(())
                }
            }
        })?;
        err.map_or(Ok(()), Err)
    })))
}

/// `brisk_bag::random_sample<T>`: keep each record with probability `prob`, drawing from a
/// generator seeded with the partition's own seed. Arguments: the stream, `prob` (`f64`), the
/// partition's seed (`u64`).
pub(crate) fn random_sample_kernel<T: Record>(args: &[Value]) -> TaskResult {
    use rand::{Rng, SeedableRng};
    let s = arg_stream::<T>(args, 0)?;
    let prob = arg(args, 1, "probability")?
        .get::<f64>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
    let seed = arg(args, 2, "seed")?
        .get::<u64>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
    Ok(Value::new(Stream::new("random-sample", move |sink| {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        s(&mut |x| {
            if x.is_some() && rng.random::<f64>() < prob {
                sink(x)
            } else {
                ControlFlow::Continue(())
            }
        })
    })))
}

/// `brisk_bag::take<T>`: the first `want` records of a partition (a `Vec<T>`), reading no
/// further. Arguments: the stream, `want` (`u64`).
pub(crate) fn take_kernel<T: Record>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let want = arg(args, 1, "number of records")?
        .get::<u64>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
    let want = usize::try_from(want).unwrap_or(usize::MAX);
    let mut got = Vec::with_capacity(want.min(1 << 16));
    if want > 0 {
        s(&mut |x| {
            if let Some(x) = x.take() {
                got.push(x);
            }
            if got.len() >= want {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map_err(fail)?;
    }
    Ok(Value::new(got))
}

/// `brisk_bag::flat_map<T,U>`: the items of the `Vec<U>` the function value returns.
fn flat_map_kernel<T: Record, U: Record>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let f = user_func(args)?;
    Ok(Value::new(Stream::new("flat-map", move |sink| {
        let mut err = None;
        s(&mut |x| {
            let Some(r) = x.take() else {
                return ControlFlow::Continue(());
            };
            match f.call(&[Value::new(r)]).map(take::<Vec<U>>) {
                Ok(Ok(items)) => {
                    for y in items {
                        crate::stream::push(sink, y)?;
                    }
                    ControlFlow::Continue(())
                }
                Ok(Err(m)) => {
                    err = Some(stage_error(
                        "flat_map",
                        format!("{} returned {} (a Vec is expected)", f.label(), m.found),
                    ));
                    ControlFlow::Break(())
                }
                Err(e) => {
                    err = Some(stage_error("flat_map", e.to_string()));
                    ControlFlow::Break(())
                }
            }
        })?;
        err.map_or(Ok(()), Err)
    })))
}

/// `brisk_bag::map_partitions<T,U>`: the function value applied to each whole partition
/// (a `Vec<T>` in, a `Vec<U>` out).
fn map_partitions_kernel<T: Record, U: Record>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let f = user_func(args)?;
    Ok(Value::new(Stream::new("map-partitions", move |sink| {
        let part = crate::stream::collect(s)?;
        let out = f
            .call(&[Value::new(part)])
            .map_err(|e| stage_error("map_partitions", e.to_string()))?;
        let out = take::<Vec<U>>(out).map_err(|m| {
            stage_error(
                "map_partitions",
                format!("{} returned {} (a Vec is expected)", f.label(), m.found),
            )
        })?;
        for y in out {
            if crate::stream::push(sink, y).is_break() {
                break;
            }
        }
        Ok(())
    })))
}

/// The `T` a function returned (moved out when the value is not shared).
pub(crate) fn take<T: Any + Clone + Send + Sync>(v: Value) -> Result<T, brisk_core::TypeMismatch> {
    let a = v.downcast_arc::<T>();
    drop(v);
    a.map(Arc::unwrap_or_clone)
}

fn user_func(args: &[Value]) -> Result<Func, TaskFailure> {
    Ok(arg(args, 1, "function")?
        .downcast_ref::<Func>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?
        .clone())
}

/// A record-level error of stage `op` (the record's origin, when known, is added).
pub(crate) fn stage_error(op: &'static str, message: String) -> BagError {
    BagError::Record {
        op,
        origin: current_origin(),
        source: Arc::from(Box::<dyn std::error::Error + Send + Sync>::from(message)),
    }
}

fn arg<'a>(args: &'a [Value], i: usize, what: &str) -> Result<&'a Value, TaskFailure> {
    args.get(i)
        .ok_or_else(|| TaskFailure::msg(format!("internal: missing {what}")))
}

/// `brisk_bag::read_text`: the lines of one block.
fn read_text_kernel(args: &[Value]) -> TaskResult {
    let block = arg(args, 0, "block")?
        .downcast_arc::<Block>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
    let storage = arg(args, 1, "storage options")?
        .get::<Storage>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
    Ok(Value::new(Stream::new("read-text", move |sink| {
        crate::text::read_lines(&storage, &block, sink)
    })))
}

/// The `read_text` kernel.
pub(crate) fn read_text_func() -> Func {
    named_kernel(READ_TEXT, "read-text", read_text_kernel)
}

const READ_TEXT: &str = "brisk_bag::read_text";
register_kernel!(READ_TEXT, "read-text", read_text_kernel);

/// The kernel registered as `name` (`kernel` under that name), or `kernel` wrapped in a
/// closure if the registry misses it (which only a broken build can do): for the kernels that
/// are not generic over a record type.
pub(crate) fn named_kernel(
    name: &'static str,
    label: &'static str,
    kernel: fn(&[Value]) -> TaskResult,
) -> Func {
    Func::by_name(name).unwrap_or_else(|_| Func::raw(label, kernel))
}

/// `brisk_bag::filter<T>`: keep the records for which the predicate (a function value) is true.
fn filter_kernel<T: Record>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let pred = arg(args, 1, "predicate")?
        .downcast_ref::<Func>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?
        .clone();
    // The built-in `contains` on lines: a plain substring test, no value per record.
    if let Some(needle) = contains_needle(&pred)
        && TypeId::of::<T>() == TypeId::of::<String>()
    {
        let finder = memchr::memmem::Finder::new(needle.as_bytes()).into_owned();
        return Ok(Value::new(Stream::new("filter", move |sink| {
            s(&mut |x| match x {
                Some(r) if is_match(r, &finder) => sink(x),
                _ => ControlFlow::Continue(()),
            })
        })));
    }
    Ok(Value::new(Stream::new("filter", move |sink| {
        let mut err = None;
        s(&mut |x| {
            let Some(r) = x.as_ref() else {
                return ControlFlow::Continue(());
            };
            match pred.call(&[Value::new(r.clone())]).map(|v| v.get::<bool>()) {
                Ok(Ok(true)) => sink(x),
                Ok(Ok(false)) => ControlFlow::Continue(()),
                Ok(Err(m)) => {
                    err = Some(record_error(format!(
                        "the predicate {} returned {} instead of a bool",
                        pred.label(),
                        m.found
                    )));
                    ControlFlow::Break(())
                }
                Err(e) => {
                    err = Some(record_error(e.to_string()));
                    ControlFlow::Break(())
                }
            }
        })?;
        err.map_or(Ok(()), Err)
    })))
}

/// The needle of a `contains(needle)` predicate.
fn contains_needle(pred: &Func) -> Option<String> {
    if pred.name() != Some(CONTAINS) {
        return None;
    }
    pred.bound().first()?.downcast_ref::<String>().ok().cloned()
}

/// `record` (a `String`, checked by the caller) contains the needle.
fn is_match<T: 'static>(record: &T, finder: &memchr::memmem::Finder<'static>) -> bool {
    (record as &dyn std::any::Any)
        .downcast_ref::<String>()
        .is_some_and(|line| finder.find(line.as_bytes()).is_some())
}

fn record_error(message: String) -> BagError {
    stage_error("filter", message)
}

/// `brisk_bag::count<T>`: the number of records of one partition (its index is ignored).
fn count_kernel<T: Record>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let mut n = 0u64;
    s(&mut |x| {
        n += u64::from(x.is_some());
        ControlFlow::Continue(())
    })
    .map_err(fail)?;
    Ok(Value::from(n))
}

/// `brisk_bag::sum_u64`: the sum of a list of partial counts.
fn sum_u64_kernel(args: &[Value]) -> TaskResult {
    let list = arg(args, 0, "partial counts")?
        .as_list()
        .ok_or_else(|| TaskFailure::msg("internal: expected a list of partial counts"))?;
    let mut total = 0u64;
    for v in list {
        total += v
            .get::<u64>()
            .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
    }
    Ok(Value::from(total))
}

const SUM_U64: &str = "brisk_bag::sum_u64";
register_kernel!(SUM_U64, "count", sum_u64_kernel);

/// The `sum_u64` kernel.
pub(crate) fn sum_u64_func() -> Func {
    named_kernel(SUM_U64, "count", sum_u64_kernel)
}

/// `contains(needle)`: a built-in predicate for bags of `String` — true for the lines that
/// contain `needle`. A function value, so it runs on any worker (the stock `brisk worker`
/// included): `read_text(..)?.filter_func(contains("python")).count()` is the talk's bag
/// example on a cluster.
pub fn contains(needle: &str) -> Func {
    let needle = Value::new(needle.to_string());
    Func::by_name(CONTAINS)
        .unwrap_or_else(|_| Func::new(contains_str))
        .bind(vec![needle])
}

fn contains_str(needle: String, line: String) -> bool {
    line.contains(needle.as_str())
}

const CONTAINS: &str = "brisk_bag::contains";
brisk_core::register!(contains_str as "brisk_bag::contains");

macro_rules! named_stages {
    ($($t:ty => $tag:literal),+ $(,)?) => {$(
        register_stage!(concat!("brisk_bag::filter<", $tag, ">"), "filter", "filter", filter_kernel::<$t>, $t => $t);
        register_stage!(concat!("brisk_bag::count<", $tag, ">"), "count", "count", count_kernel::<$t>, $t => $t);
        register_stage!(concat!("brisk_bag::random_sample<", $tag, ">"), "random-sample", "random_sample", random_sample_kernel::<$t>, $t => $t);
        register_stage!(concat!("brisk_bag::take<", $tag, ">"), "take", "take", take_kernel::<$t>, $t => $t);
    )+};
}

named_stages!(
    String => "String",
    i64 => "i64",
    u64 => "u64",
    f64 => "f64",
    serde_json::Value => "serde_json::Value",
);

/// `map`, `try_map`, `flat_map` and `map_partitions` kernels for one pair of record types.
macro_rules! named_pair_stages {
    ($(($t:ty, $u:ty) => $tn:literal, $un:literal),+ $(,)?) => {$(
        register_stage!(concat!("brisk_bag::map<", $tn, ",", $un, ">"), "map", "map", map_kernel::<$t, $u>, $t => $u);
        register_stage!(concat!("brisk_bag::flat_map<", $tn, ",", $un, ">"), "flat-map", "flat_map", flat_map_kernel::<$t, $u>, $t => $u);
        register_stage!(concat!("brisk_bag::map_partitions<", $tn, ",", $un, ">"), "map-partitions", "map_partitions", map_partitions_kernel::<$t, $u>, $t => $u);
        register_stage!(concat!("brisk_bag::try_map<", $tn, ",", $un, ">"), "try-map", "try_map", try_map_kernel::<$t, $u>, $t => $u);
    )+};
}

/// Every pair of named record types.
macro_rules! all_pairs {
    ($($t:ty => $tn:literal),+) => { all_pairs!(@outer [$($t => $tn),+] [$($t => $tn),+]); };
    (@outer [$($t:ty => $tn:literal),+] $us:tt) => { $(all_pairs!(@inner $t => $tn; $us);)+ };
    (@inner $t:ty => $tn:literal; [$($u:ty => $un:literal),+]) => {
        named_pair_stages!($(($t, $u) => $tn, $un),+);
    };
}

all_pairs!(
    String => "String",
    i64 => "i64",
    u64 => "u64",
    f64 => "f64",
    serde_json::Value => "serde_json::Value"
);
