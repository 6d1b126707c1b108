//! # brisk-core: task graphs as plain data
//!
//! The bottom layer of Brisk. A [`Graph`] maps [`Key`]s to nodes: literal [`Value`]s,
//! [`Task`]s (a [`Func`] plus arguments) or aliases, exactly like the dict in Dask's talk:
//!
//! ```
//! use brisk_core::graph;
//! fn inc(x: i64) -> i64 { x + 1 }
//! fn add(x: i64, y: i64) -> i64 { x + y }
//!
//! let dsk = graph! {
//!     "a" => 1,
//!     "x" => 10,
//!     "b" => (inc, "a"),
//!     "y" => (inc, "x"),
//!     "z" => (add, "b", "y"),
//! };
//! dsk.validate(&["z".into()]).unwrap();
//! ```
//!
//! This crate also owns what every scheduler shares: compiling a graph into a [`Plan`] (cull,
//! validate, inline literals, [`fuse`](plan::PlanOptions::fuse) linear chains, a memory-aware
//! [order](Plan::order)), evaluating one task ([`eval::run_task`]), the [`Scheduler`] seam with
//! its process-wide default, layered graphs for collections ([`layer`]), configuration
//! ([`config`]), the registry of named functions ([`register!`]) and of value encodings
//! ([`codec`]), the levels of tree reductions ([`tree`]), byte sizes ([`bytes`]), and pictures
//! of graphs ([`dot`]). It runs nothing by itself: executors live in `brisk-local` and the
//! distributed runtime.

pub mod bytes;
pub mod codec;
pub mod collection;
pub mod config;
pub mod dot;
mod error;
pub mod eval;
pub mod func;
mod fuse;
mod graph;
pub mod held;
mod key;
pub mod layer;
mod macros;
#[cfg(feature = "ndarray")]
mod ndarray_values;
mod numeric;
pub mod opaque;
mod order;
pub mod plan;
pub mod scheduler;
mod task;
pub mod token;
pub mod tree;
pub mod value;
pub mod wire;

pub use collection::{Collection, ComputeMany, compute};
pub use error::{CodecError, Error, FailureKind, TaskFailure};
pub use func::{Func, IntoFunc, IntoTaskOutput, TaskResult};
pub use graph::Graph;
pub use held::Held;
pub use key::Key;
pub use layer::Layer;
pub use plan::{Plan, PlanOptions};
pub use scheduler::{
    ComputeOptions, Scheduler, default_scheduler, set_default_scheduler, with_scheduler,
};
pub use task::{Arg, IntoArg, IntoNode, Lit, Node, Task, lit};
pub use token::tokenize;
pub use value::{FromValue, IntoValue, TypeMismatch, Value};

#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
