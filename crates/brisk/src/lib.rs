//! # Brisk: parallel computing through task scheduling, native to Rust
//!
//! The system of the talk *Parallel computing with Dask*, built for Rust: a task graph is plain
//! data, schedulers run it on threads (the default, in-process, no configuration), on one
//! thread for debugging, or on a cluster; lazy collections build those graphs for you.
//!
//! ```
//! use brisk::{graph, delayed, Collection};
//!
//! fn inc(x: i64) -> i64 { x + 1 }
//! fn add(x: i64, y: i64) -> i64 { x + y }
//!
//! // 1. A graph is plain data, as in the talk's dict.
//! let dsk = graph! {
//!     "a" => 1,
//!     "x" => 10,
//!     "b" => (inc, "a"),
//!     "y" => (inc, "x"),
//!     "z" => (add, "b", "y"),
//! };
//! let z: i64 = brisk::threaded::get(&dsk, "z")?;
//! assert_eq!(z, 13);
//!
//! // 2. delayed: lazy calls that build the same graph for you.
//! let b = delayed(inc).call(1);
//! let y = delayed(inc).call(10);
//! let z = delayed(add).call(&b, &y);
//! assert_eq!(z.compute()?, 13);
//! # Ok::<(), brisk::Error>(())
//! ```
//!
//! What lives where: [`brisk_core`] (graphs, values, functions, optimizations, the scheduler
//! seam), [`brisk_local`] (the sync and threaded schedulers, callbacks, progress bars, the
//! profiler), [`brisk_delayed`] (lazy calls), [`dataframe`] (partitioned dataframes on Polars,
//! feature `dataframe`), [`bag`] (bags of records, feature `bag`) and
//! [`io`] (URLs, globs, compression, object stores, feature `io`). Configuration: [`config`].
//! With the default `distributed` feature: [`Client`] (a cluster, or a local one with
//! [`Client::local`]), [`processes`], [`worker::main_if_worker`], and the `brisk scheduler` /
//! `brisk worker` commands ([`distributed`] holds the runtime's crates).

#![cfg_attr(docsrs, feature(doc_cfg))]

pub use brisk_core::func::{Bind, With};
pub use brisk_core::{
    Arg, Collection, ComputeMany, ComputeOptions, Error, FailureKind, FromValue, Func, Graph,
    IntoArg, IntoFunc, IntoNode, IntoValue, Key, Layer, Lit, Node, Plan, PlanOptions, Scheduler,
    Task, TaskFailure, TypeMismatch, Value, compute, config, data, default_scheduler, graph, lit,
    register, set_default_scheduler, task, tokenize, with_scheduler,
};
/// `#[brisk::func]`: register a function so that it can run in another process (on a
/// cluster's workers), with parameters by reference allowed; see [`brisk_macros`].
///
/// ```
/// use brisk::{Bind, Collection, delayed};
///
/// #[brisk::func]
/// fn scale(factor: &i64, x: i64) -> i64 {
///     factor * x
/// }
///
/// // Registered: a worker of this program finds it by name, with its bound parameter.
/// let f = brisk::Func::new(scale.with(3i64));
/// assert!(f.name().unwrap().ends_with("::scale"));
/// let y = delayed(scale.with(3i64)).call(5);
/// assert_eq!(y.compute()?, 15);
/// # Ok::<(), brisk::Error>(())
/// ```
pub use brisk_macros::func;
// `delayed` is both the function and the `delayed!` macro.
/// Partitioned dataframes on Polars (`brisk::dataframe::read_csv`, …).
#[cfg(feature = "dataframe")]
#[cfg_attr(docsrs, doc(cfg(feature = "dataframe")))]
pub use brisk_dataframe as dataframe;
pub use brisk_delayed::{Delayed, DelayedFn, delayed};
pub use brisk_local::{LocalScheduler, sync, threaded};

/// Tools for people: progress bars, the profiler, callbacks and pictures of graphs.
pub mod diagnostics {
    pub use brisk_core::dot::{to_dot, visualize};
    pub use brisk_local::callbacks::{
        Callback, CallbackGuard, RunInfo, TaskInfo, register, with_callbacks,
    };
    pub use brisk_local::{PrefixSummary, Profiler, TaskRecord};

    #[cfg(feature = "dashboard")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dashboard")))]
    pub use crate::report::performance_report;
}

#[cfg(feature = "dashboard")]
mod report;

/// Re-exports of the building crates, for advanced use.
pub mod crates {
    pub use brisk_core as core;
    pub use brisk_delayed as delayed;
    pub use brisk_local as local;
}

#[cfg(feature = "distributed")]
#[cfg_attr(docsrs, doc(cfg(feature = "distributed")))]
pub use brisk_client::{
    AsCompleted, Client, ClientOptions, ComputeFuture, Finished, Future, LocalOptions,
    SubmitOptions, as_completed, processes, progress, wait,
};

/// Starting clusters: [`deploy::LocalCluster`], [`deploy::SshCluster`], and the
/// [`deploy::Cluster`] trait every deployer shares (`scale`, `adapt`, `close`); connect with
/// `Client::new(&cluster)`. See the guide's deployment chapter.
#[cfg(feature = "distributed")]
#[cfg_attr(docsrs, doc(cfg(feature = "distributed")))]
pub mod deploy {
    pub use brisk_deploy::*;
}

/// Running a worker: `brisk::worker::main_if_worker()` as the first line of `main` lets a
/// program start local clusters of itself ([`Client::local`], [`processes`]).
#[cfg(feature = "distributed")]
#[cfg_attr(docsrs, doc(cfg(feature = "distributed")))]
pub mod worker {
    pub use brisk_worker::{WorkerOptions, main_if_worker, run};
}

/// The distributed runtime's crates: protocol, scheduler, worker, client.
#[cfg(feature = "distributed")]
#[cfg_attr(docsrs, doc(cfg(feature = "distributed")))]
pub mod distributed {
    pub use brisk_client as client;
    pub use brisk_deploy as deploy;
    pub use brisk_protocol as protocol;
    pub use brisk_scheduler as scheduler;
    pub use brisk_worker as worker;
}

/// Bags of records: text lines, JSON documents (dask.bag).
#[cfg(feature = "bag")]
#[cfg_attr(docsrs, doc(cfg(feature = "bag")))]
pub use brisk_bag as bag;
/// Storage: URLs, globs, byte ranges, compression, object stores.
#[cfg(feature = "io")]
#[cfg_attr(docsrs, doc(cfg(feature = "io")))]
pub use brisk_io as io;

/// `Bag::to_dataframe` (the glue between bags and dataframes).
#[cfg(all(feature = "bag", feature = "dataframe"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "bag", feature = "dataframe"))))]
pub mod bag_dataframe;
#[cfg(all(feature = "bag", feature = "dataframe"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "bag", feature = "dataframe"))))]
pub use bag_dataframe::{BagToDataFrame, ToDataFrameError};

/// Chunked n-dimensional arrays (`dask.array`): see [`brisk_array`].
#[cfg(feature = "array")]
#[cfg_attr(docsrs, doc(cfg(feature = "array")))]
pub use brisk_array as array;

/// What `#[brisk::func]` expands to names: not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use brisk_core::__private::inventory;
    pub use brisk_core::func::macro_support::{
        ReadExact, ReadFromValue, Slot, WriteAny, WriteOutput, WriteResult, read_rest,
    };
    pub use brisk_core::func::{FunctionEntry, arity_failure, func_arg, type_id_of_val};
    pub use brisk_core::{Func, IntoTaskOutput};
}

/// The typed companions `#[brisk::func]` registers for a function (bag stages monomorphized for
/// its types): expanded by the attribute, not part of the API.
#[doc(hidden)]
#[macro_export]
macro_rules! __func_hooks {
    ($f:ident, $name:expr, ($($arg:ty),*) -> $ret:ty) => {};
}

/// The README's Rust blocks, run as doctests so that they stay true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
