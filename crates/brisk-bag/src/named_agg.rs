//! Named kernels for the numeric reductions: `sum`, `mean`, `min` and `max` as trees of named
//! tasks, so that a cluster's workers run them (see `named_reduce.rs` for why bag tasks are
//! named kernels and not closures).
//!
//! Each reduction has three kernels per record type — `<op>_part` (a partition's stream, and
//! its index, which they ignore), `<op>_merge` (a group of partial results into one) and
//! `<op>_finish` (the last group into the answer) — registered as stages for the record types
//! the workers know: `sum` and `mean` for `i64`, `u64` and `f64`; `min` and `max` for those and
//! `String`. For other record types the same generic functions run wrapped in closures, so
//! every bag computes these reductions one way (the first of equal extremes wins; a NaN never
//! replaces a number already seen; an empty bag is an `Empty` error naming the operation).

use std::any::TypeId;
use std::ops::{Add, ControlFlow};

use brisk_core::{Func, TaskFailure, TaskResult, Value};

use crate::bag::{Bag, Record};
use crate::error::BagError;
use crate::item::Item;
use crate::stream::{arg_stream, fail};

fn internal(m: impl std::fmt::Display) -> TaskFailure {
    TaskFailure::msg(format!("internal: {m}"))
}

/// The partial results of a merge or finish task.
fn partials<A: Clone + Send + Sync + 'static>(args: &[Value]) -> Result<Vec<A>, TaskFailure> {
    let list = args
        .first()
        .and_then(Value::as_list)
        .ok_or_else(|| internal("expected a list of partial results"))?;
    list.iter()
        .map(|v| v.downcast_ref::<A>().cloned().map_err(internal))
        .collect()
}

/// `brisk_bag::sum_part<T>`: the sum of one partition.
pub(crate) fn sum_part<T: Record + num_traits::Zero + Add<Output = T>>(
    args: &[Value],
) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let mut acc = T::zero();
    s(&mut |x| {
        if let Some(x) = x.take() {
            acc = std::mem::replace(&mut acc, T::zero()) + x;
        }
        ControlFlow::Continue(())
    })
    .map_err(fail)?;
    Ok(Value::new(acc))
}

/// `brisk_bag::sum_merge<T>`: the sum of partial sums (also the finish).
pub(crate) fn sum_merge<T: Record + num_traits::Zero + Add<Output = T>>(
    args: &[Value],
) -> TaskResult {
    Ok(Value::new(
        partials::<T>(args)?
            .into_iter()
            .fold(T::zero(), |a, b| a + b),
    ))
}

/// `brisk_bag::mean_part<T>`: (total as `f64`, count) of one partition.
pub(crate) fn mean_part<T: Record + num_traits::ToPrimitive>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let (mut total, mut n) = (0.0f64, 0u64);
    s(&mut |x| {
        if let Some(x) = x {
            total += x.to_f64().unwrap_or(f64::NAN);
            n += 1;
        }
        ControlFlow::Continue(())
    })
    .map_err(fail)?;
    Ok(Value::new((total, n)))
}

fn mean_sum(args: &[Value]) -> Result<(f64, u64), TaskFailure> {
    Ok(partials::<(f64, u64)>(args)?
        .into_iter()
        .fold((0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1)))
}

/// `brisk_bag::mean_merge`: partial (total, count) pairs added up. (`T` only makes one
/// function item per record type: each registered name has its own.)
#[allow(clippy::extra_unused_type_parameters)]
pub(crate) fn mean_merge<T>(args: &[Value]) -> TaskResult {
    Ok(Value::new(mean_sum(args)?))
}

/// `brisk_bag::mean_finish`: the mean, or `Empty` for no records.
#[allow(clippy::extra_unused_type_parameters)]
pub(crate) fn mean_finish<T>(args: &[Value]) -> TaskResult {
    let (total, n) = mean_sum(args)?;
    if n == 0 {
        return Err(fail(BagError::Empty { op: "mean" }));
    }
    Ok(Value::from(total / n as f64))
}

/// Which extreme: `min` keeps a record smaller than the best so far, `max` a larger one.
pub(crate) trait Extreme {
    const OP: &'static str;
    fn better<T: PartialOrd>(x: &T, best: &T) -> bool;
}
pub(crate) struct Min;
pub(crate) struct Max;
impl Extreme for Min {
    const OP: &'static str = "min";
    fn better<T: PartialOrd>(x: &T, best: &T) -> bool {
        x < best
    }
}
impl Extreme for Max {
    const OP: &'static str = "max";
    fn better<T: PartialOrd>(x: &T, best: &T) -> bool {
        x > best
    }
}

fn pick<E: Extreme, T: PartialOrd>(acc: Option<T>, x: T) -> Option<T> {
    match acc {
        Some(a) if !E::better(&x, &a) => Some(a),
        _ => Some(x),
    }
}

/// `brisk_bag::<min|max>_part<T>`: the extreme of one partition (`None` if it is empty).
pub(crate) fn extreme_part<E: Extreme, T: Record + PartialOrd>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let mut acc: Option<T> = None;
    s(&mut |x| {
        if let Some(x) = x.take() {
            acc = pick::<E, T>(acc.take(), x);
        }
        ControlFlow::Continue(())
    })
    .map_err(fail)?;
    Ok(Value::new(acc))
}

fn extreme_of<E: Extreme, T: Record + PartialOrd>(
    args: &[Value],
) -> Result<Option<T>, TaskFailure> {
    Ok(partials::<Option<T>>(args)?
        .into_iter()
        .flatten()
        .fold(None, pick::<E, T>))
}

/// `brisk_bag::<min|max>_merge<T>`: the extreme of partial extremes.
pub(crate) fn extreme_merge<E: Extreme, T: Record + PartialOrd>(args: &[Value]) -> TaskResult {
    Ok(Value::new(extreme_of::<E, T>(args)?))
}

/// `brisk_bag::<min|max>_finish<T>`: the extreme, or `Empty` for no records.
pub(crate) fn extreme_finish<E: Extreme, T: Record + PartialOrd>(args: &[Value]) -> TaskResult {
    extreme_of::<E, T>(args)?
        .map(Value::new)
        .ok_or_else(|| fail(BagError::Empty { op: E::OP }))
}

/// A kernel function.
type Kernel = fn(&[Value]) -> TaskResult;

impl<T: Record> Bag<T> {
    /// Reduction `op` (`sum`, `mean`, `min`, `max`) as a tree of its three kernels: the ones
    /// registered for this record type by name (a cluster can run them), else the same
    /// functions wrapped in closures.
    pub(crate) fn aggregate<R>(
        &self,
        op: &'static str,
        part: Kernel,
        merge: Kernel,
        finish: Kernel,
    ) -> Item<R> {
        let kernel = |stage: &str, f: Kernel| {
            crate::named::stage_kernel(&format!("{op}_{stage}"), TypeId::of::<T>())
                .unwrap_or_else(|| Func::raw(op, f))
        };
        // `sum` finishes with its merge (registered once).
        let finish_stage = if op == "sum" { "merge" } else { "finish" };
        self.tree_reduce_with(
            op,
            kernel("part", part),
            Some(kernel("merge", merge)),
            kernel(finish_stage, finish),
        )
    }
}

/// Register `$kernel` for record type `$t` as stage `$stage`, named `brisk_bag::$stage<$tag>`.
macro_rules! agg_kernel {
    ($stage:literal, $kernel:expr, $t:ty, $tag:literal) => {
        register_stage!(concat!("brisk_bag::", $stage, "<", $tag, ">"), $stage, $stage, $kernel, $t => $t);
    };
}

macro_rules! numeric_aggs {
    ($($t:ty => $tag:literal),+ $(,)?) => {$(
        agg_kernel!("sum_part", sum_part::<$t>, $t, $tag);
        agg_kernel!("sum_merge", sum_merge::<$t>, $t, $tag);
        agg_kernel!("mean_part", mean_part::<$t>, $t, $tag);
        agg_kernel!("mean_merge", mean_merge::<$t>, $t, $tag);
        agg_kernel!("mean_finish", mean_finish::<$t>, $t, $tag);
    )+};
}

macro_rules! extreme_aggs {
    ($($t:ty => $tag:literal),+ $(,)?) => {$(
        agg_kernel!("min_part", extreme_part::<Min, $t>, $t, $tag);
        agg_kernel!("min_merge", extreme_merge::<Min, $t>, $t, $tag);
        agg_kernel!("min_finish", extreme_finish::<Min, $t>, $t, $tag);
        agg_kernel!("max_part", extreme_part::<Max, $t>, $t, $tag);
        agg_kernel!("max_merge", extreme_merge::<Max, $t>, $t, $tag);
        agg_kernel!("max_finish", extreme_finish::<Max, $t>, $t, $tag);
    )+};
}

numeric_aggs!(i64 => "i64", u64 => "u64", f64 => "f64");
extreme_aggs!(i64 => "i64", u64 => "u64", f64 => "f64", String => "String");
brisk_core::register_serde_type!((f64, u64), debug);
