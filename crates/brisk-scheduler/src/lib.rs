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

mod placement;
pub mod server;
mod slab;
mod state;
mod transitions;
mod validate;

pub use server::{SchedulerHandle, SchedulerOptions, run_until_signal, start};
pub use state::{Comm, SchedulerConfig, SchedulerState, TaskState};
