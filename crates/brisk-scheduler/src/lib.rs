//! # brisk-scheduler: the cluster's scheduler
//!
//! [`SchedulerState`] is a pure, synchronous state machine over tasks (released → waiting →
//! queued/processing → memory | erred → forgotten) and workers; it sends messages through a
//! [`Comm`] and never reads a clock or touches a socket. [`server`] is the thin tokio shell
//! that runs it behind a listening socket (`brisk scheduler`).
//!
//! Placement follows data locality (where most input bytes live) and occupancy; root tasks
//! wait in a queue and go out only as workers have room, so a wide graph never loads all its
//! inputs at once; idle workers steal tasks that busy ones have not started; a lost worker's
//! tasks are rescheduled and its lost values recomputed from lineage, and a task blamed for
//! more than `allowed_failures` worker deaths fails with an error naming it.
//!
//! The scheduler serves the live dashboard ([`brisk_dashboard`]) on a port of its own
//! ([`SchedulerOptions::dashboard_port`]): the state keeps cheap running aggregates (task
//! counts per key prefix and state, a ring of recent task spans timed by the workers) and the
//! shell publishes a copy of them for the pages a few times per second while a page is open.

mod client_line;
mod clients;
mod connections;
mod core_loop;
mod dashboard;
mod executables;
mod graphs;
mod ids;
mod journal;
mod keys;
mod placement;
mod recovery;
mod retire;
pub mod server;
mod slab;
mod specs;
mod state;
mod stream;
mod transitions;
mod validate;
mod views;
mod workers;

pub use server::{SchedulerHandle, SchedulerOptions, run_until_signal, start};
pub use state::{Comm, SchedulerConfig, SchedulerState, TaskState};
pub use views::parse_key;
