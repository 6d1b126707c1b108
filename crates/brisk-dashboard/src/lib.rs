//! # brisk-dashboard: see what a cluster is doing, and why
//!
//! The live web dashboard of the talk's "status server a la Spark", Prometheus metrics, and
//! self-contained performance reports.
//!
//! - [`model`]: the plain data a page shows ([`Snapshot`]: task stream, progress per key prefix,
//!   workers, totals; [`TaskDetail`]; [`GraphView`]) and the [`Source`] trait a scheduler
//!   implements to feed it.
//! - [`server`]: the HTTP routes (pages, JSON API, server-sent events every `interval`,
//!   `/metrics`), over any `Source`; [`server::Running`] runs them on a thread of their own.
//! - [`auth`]: the cluster's token guards every page and API route ([`auth::Access`]); with
//!   TLS the dashboard is served over HTTPS.
//! - [`report`]: one HTML file with a computation's task stream and time per operation, from
//!   task spans (a local profiler's records or a cluster's task stream).
//!
//! The front end is plain HTML/CSS/JS plus the bundled uPlot chart library, compiled into the
//! binary: pages work with no internet.
//!
//! ```
//! use brisk_dashboard::{Report, TaskSpan};
//! let spans = vec![TaskSpan { key: "inc-1".into(), prefix: "inc".into(), worker: "local".into(),
//!                             thread: 0, start: 0.0, stop: 0.5, ok: true }];
//! let html = Report::from_spans("example", spans, vec![]).to_html().unwrap();
//! assert!(html.contains("<canvas id=\"stream\">"));
//! ```

mod assets;
pub mod auth;
mod error;
pub mod metrics;
pub mod model;
pub mod report;
pub mod server;
mod tls;

pub use error::DashboardError;
pub use model::{
    DependencyState, GraphNode, GraphView, PrefixRow, Snapshot, Source, TaskDetail, TaskSpan,
    Totals, WorkerRow,
};
pub use report::{PrefixProfile, Report};
