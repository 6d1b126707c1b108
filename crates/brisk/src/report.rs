//! `performance_report(path, || …)`: profile the local computations a closure runs and write
//! one self-contained HTML file with their task stream and time per operation.

use std::path::Path;
use std::time::Instant;

use brisk_dashboard::{DashboardError, Report, TaskSpan};
use brisk_local::{Profiler, with_callbacks};

use crate::Error;

/// Run `f`, profiling the computations it starts on this thread, and write a performance report
/// to `path` (open it in any browser, offline). Returns what `f` returned.
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
    let callbacks: [std::sync::Arc<dyn brisk_local::Callback>; 1] = [profiler.clone()];
    let out = with_callbacks(&callbacks, f);
    let wall = started.elapsed();
    let spans: Vec<TaskSpan> = profiler
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
    let threads = crate::config::config()
        .map(|c| c.num_threads.to_string())
        .unwrap_or_else(|_| "?".into());
    let scheduler = crate::default_scheduler()
        .map(|s| s.name().to_string())
        .unwrap_or_else(|_| "?".into());
    let report = Report::from_spans(
        format!("{}", path.display()),
        spans,
        vec![
            ("scheduler".into(), scheduler),
            ("threads of the scheduler".into(), threads),
            ("wall time of the closure".into(), format!("{wall:.3?}")),
        ],
    );
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
