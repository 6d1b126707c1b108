//! # brisk-local: run task graphs in this process
//!
//! Two schedulers share one engine ([`engine`](crate::LocalScheduler)): [`sync`] runs every
//! task on the calling thread in the static order (for debugging), and [`threaded`] — the
//! default — runs them on a pool sized to the cores, highest priority first, dropping each value
//! as soon as its last dependent has run.
//!
//! ```
//! use brisk_core::graph;
//! fn inc(x: i64) -> i64 { x + 1 }
//! fn add(x: i64, y: i64) -> i64 { x + y }
//!
//! let dsk = graph! {
//!     "a" => 1, "x" => 10,
//!     "b" => (inc, "a"), "y" => (inc, "x"),
//!     "z" => (add, "b", "y"),
//! };
//! let z: i64 = brisk_local::threaded::get(&dsk, "z").unwrap();
//! assert_eq!(z, 13);
//! let z: i64 = brisk_local::sync::get(&dsk, "z").unwrap();
//! assert_eq!(z, 13);
//! ```
//!
//! A task's error or panic comes back as [`brisk_core::Error::TaskFailed`] naming the key.
//! [`callbacks`] watch computations: [`Profiler`] records a trace, and progress bars appear on a
//! terminal for computations that take longer than a moment. Both schedulers register
//! themselves as `BRISK_SCHEDULER=threads|sync`.

pub mod callbacks;
mod engine;
mod executor;
mod pool;
mod profiler;
mod progress;

pub use callbacks::{Callback, CallbackGuard, RunInfo, TaskInfo, register, with_callbacks};
pub use engine::OnError;
pub use executor::LocalScheduler;
pub use profiler::{PrefixSummary, Profiler, TaskRecord};

macro_rules! scheduler_module {
    ($name:ident, $make:expr, $doc:literal) => {
        #[doc = $doc]
        pub mod $name {
            use brisk_core::{Error, FromValue, Graph, Key, Value};

            /// Compute one key and read it as `T`.
            pub fn get<T: FromValue>(graph: &Graph, key: impl Into<Key>) -> Result<T, Error> {
                $make.get(graph, key)
            }

            /// Compute several keys (sharing their common work); stops at the first failure.
            pub fn get_many(graph: &Graph, keys: &[Key]) -> Result<Vec<Value>, Error> {
                $make.get_many(graph, keys)
            }

            /// Compute several keys; each gets its value or the failure it depends on.
            pub fn get_each(
                graph: &Graph,
                keys: &[Key],
            ) -> Result<Vec<Result<Value, Error>>, Error> {
                $make.get_each(graph, keys)
            }
        }
    };
}

scheduler_module!(
    sync,
    crate::LocalScheduler::sync(),
    "The single-threaded scheduler: every task on the calling thread, in the static order."
);
scheduler_module!(
    threaded,
    crate::LocalScheduler::threaded(),
    "The threaded scheduler: a pool of `BRISK_NUM_THREADS` threads (default: the cores)."
);
