//! `performance_report(path, || …)`: profile the computations a closure runs and write one
//! self-contained HTML file with their task stream and time per operation. Local computations
//! are timed by the profiler; when the default scheduler is a cluster ([`crate::Client`], or
//! `processes`), the scheduler records its task stream for the duration of the closure and the
//! report shows where each task ran.

use std::path::Path;
use std::time::Instant;

use brisk_dashboard::{DashboardError, Report, TaskSpan};
use brisk_local::{Profiler, with_callbacks};

use crate::Error;

/// Run `f`, profiling the computations it starts, and write a performance report to `path`
/// (open it in any browser, offline). Returns what `f` returned.
///
/// Local computations (threaded, sync) are profiled on this thread; computations on a cluster
/// (when a [`crate::Client`] is the default scheduler, or `processes`) come from the
/// scheduler's task stream, one row per worker thread.
///
/// ```
/// use brisk::{delayed, Collection};
/// fn inc(x: i64) -> i64 { x + 1 }
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("report.html");
/// let v = brisk::diagnostics::performance_report(&path, || delayed(inc).call(1).compute())??;
/// assert_eq!(v, 2);
/// assert!(std::fs::read_to_string(&path).unwrap().contains("inc"));
/// # Ok::<(), brisk::Error>(())
/// ```
pub fn performance_report<R>(path: impl AsRef<Path>, f: impl FnOnce() -> R) -> Result<R, Error> {
    let path = path.as_ref();
    let profiler = Profiler::new();
    let started = Instant::now();
    #[cfg(feature = "distributed")]
    let remote = cluster::start(started);
    let callbacks: [std::sync::Arc<dyn brisk_local::Callback>; 1] = [profiler.clone()];
    let out = with_callbacks(&callbacks, f);
    let wall = started.elapsed();
    let mut spans: Vec<TaskSpan> = profiler
        .records()
        .into_iter()
        .map(|r| TaskSpan {
            prefix: r.key.prefix().to_string(),
            key: r.key.to_string(),
            worker: "local".into(),
            thread: r.worker as u32,
            start: r.start.as_secs_f64(),
            stop: r.end.as_secs_f64(),
            ok: r.ok,
        })
        .collect();
    let scheduler = crate::default_scheduler()
        .map(|s| s.name().to_string())
        .unwrap_or_else(|_| "?".into());
    let mut metadata = vec![("scheduler".to_string(), scheduler)];
    if !spans.is_empty() {
        let threads = crate::config::config()
            .map(|c| c.num_threads.to_string())
            .unwrap_or_else(|_| "?".into());
        metadata.push(("threads of the local scheduler".into(), threads));
    }
    #[cfg(feature = "distributed")]
    if let Some(r) = remote {
        r.finish(&mut spans, &mut metadata);
    }
    metadata.push(("wall time of the closure".into(), format!("{wall:.3?}")));
    let report = Report::from_spans(format!("{}", path.display()), spans, metadata);
    report.write(path).map_err(|e| match e {
        DashboardError::Write { path, source } => Error::io("cannot write", path, source),
        other => Error::Tool {
            tool: "performance report",
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    })?;
    Ok(out)
}

#[cfg(feature = "distributed")]
mod cluster {
    use std::time::Instant;

    use brisk_client::Client;
    use brisk_dashboard::TaskSpan;

    /// A task-stream recording on the cluster the closure computes on.
    pub(super) struct Recording {
        client: Client,
        cursor: u64,
        /// Seconds to add to the scheduler's clock to get the profiler's.
        shift: f64,
    }

    /// Start recording when the default scheduler is a cluster.
    pub(super) fn start(profiler_start: Instant) -> Option<Recording> {
        let client = match crate::default_scheduler().ok()?.name() {
            "distributed" => Client::current()?,
            "processes" => brisk_client::processes::cluster().ok()?,
            _ => return None,
        };
        let asked = Instant::now();
        match client.record_task_stream() {
            Ok(s) => {
                // The reply's clock was read about half way through the round trip.
                let mid = asked.duration_since(profiler_start).as_secs_f64()
                    + asked.elapsed().as_secs_f64() / 2.0;
                Some(Recording {
                    client,
                    cursor: s.cursor,
                    shift: mid - s.time,
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot record the cluster's task stream");
                None
            }
        }
    }

    impl Recording {
        /// Add the recorded spans and what is known about the cluster.
        pub(super) fn finish(self, spans: &mut Vec<TaskSpan>, meta: &mut Vec<(String, String)>) {
            meta.push(("cluster".into(), self.client.address().to_string()));
            if let Ok(info) = self.client.scheduler_info() {
                let threads: u32 = info.workers.iter().map(|w| w.nthreads).sum();
                meta.push((
                    "workers".into(),
                    format!("{} ({threads} threads)", info.workers.len()),
                ));
            }
            if let Some(link) = self.client.dashboard_link() {
                // A report is shared: never the cluster's token with it.
                let bare = link.split("?token=").next().unwrap_or_default();
                meta.push(("dashboard".into(), bare.to_string()));
            }
            match self.client.task_stream(self.cursor) {
                Ok(s) => {
                    meta.push(("tasks run on the cluster".into(), s.spans.len().to_string()));
                    if s.dropped > 0 {
                        meta.push((
                            "tasks not recorded".into(),
                            format!(
                                "{} (more than the scheduler keeps while recording)",
                                s.dropped
                            ),
                        ));
                    }
                    spans.extend(s.spans.into_iter().map(|x| TaskSpan {
                        prefix: x.key.prefix().to_string(),
                        key: x.key.to_string(),
                        worker: x.worker,
                        thread: x.thread,
                        start: x.start + self.shift,
                        stop: x.stop + self.shift,
                        ok: x.ok,
                    }));
                }
                Err(e) => meta.push(("cluster task stream".into(), format!("unavailable: {e}"))),
            }
        }
    }
}
