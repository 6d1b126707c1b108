//! # brisk-client: use a Brisk cluster from your program
//!
//! [`Client::connect`] joins a running cluster (`brisk scheduler` + `brisk worker`s) and
//! becomes the default scheduler, so `compute()` of every collection and of `delayed` runs
//! there unchanged. [`Client::local`] starts a local cluster: a scheduler in this process
//! and workers as subprocesses of this same program (its `main` calls
//! `brisk::worker::main_if_worker()` first), which is also the engine behind
//! [`processes`] (`BRISK_SCHEDULER=processes`).
//!
//! [`Client::submit`], [`Client::map`], [`Client::scatter`] and [`Client::compute`] return
//! [`Future`]s at once; [`Future::result`], [`Client::gather`], [`Client::wait`] and
//! [`Client::as_completed`] wait; [`Client::cancel`] gives up. The cluster forgets a key as
//! soon as no future refers to it. [`progress`] draws a terminal bar while futures finish,
//! [`wait`] and [`as_completed`] work on futures of any client. Everything has an async
//! form: `*_async` methods, `future.await` (futures are [`std::future::IntoFuture`]) and
//! [`AsCompleted`] as a `Stream`. The plain methods block; called from a thread of an async
//! runtime they still work (they wait on a thread of their own) instead of panicking.
//!
//! [`Client::dashboard_link`] is the cluster's live dashboard; [`Client::record_task_stream`]
//! and [`Client::task_stream`] read when and where tasks ran (what `performance_report` of the
//! `brisk` crate puts in its file).
//!
//! Functions travel by registered name (`brisk::register!`); an unregistered closure is a
//! clear [`brisk_core::Error::UnregisteredFunction`] before anything is sent.

mod args;
mod client;
mod connection;
mod deploy;
mod error;
mod future;
mod local;
mod no_workers;
mod observe;
mod pieces;
mod resume;
mod retire;
mod upload;
mod watch;

pub use args::{IntoArgs, Returns};
pub use brisk_deploy::Cluster;
pub use brisk_protocol::messages::{TaskSpan, TaskStream};
pub use client::{Client, ClientOptions, SubmitOptions};
pub use error::ClientError;
pub use future::{ComputeFuture, Future};
pub use local::{LocalOptions, processes};
pub use watch::{AsCompleted, Finished, as_completed, progress, wait};
