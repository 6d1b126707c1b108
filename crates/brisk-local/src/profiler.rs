//! The profiler: each task's start, end and thread, exported as a Chrome/Perfetto trace.
//!
//! ```
//! use std::sync::Arc;
//! use brisk_local::{Profiler, callbacks::with_callbacks, threaded};
//! fn inc(x: i64) -> i64 { x + 1 }
//! let g = brisk_core::graph! { "a" => 1, "b" => (inc, "a"), "c" => (inc, "b") };
//! let prof = Profiler::new();
//! let c: i64 = with_callbacks(&[prof.clone()], || threaded::get(&g, "c")).unwrap();
//! assert_eq!(c, 3);
//! assert_eq!(prof.records().len(), 2);
//! let path = std::env::temp_dir().join("brisk-doc-profile.json");
//! prof.write_chrome_trace(&path).unwrap();   // open in https://ui.perfetto.dev
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use brisk_core::{Error, Key, TaskFailure};
use parking_lot::Mutex;

use crate::callbacks::{Callback, RunInfo, TaskInfo};

/// One task as the profiler saw it.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    /// The task's key.
    pub key: Key,
    /// Its function's short name.
    pub label: &'static str,
    /// The executing thread (0 = the caller).
    pub worker: usize,
    /// The run it belonged to.
    pub run: u64,
    /// Start, relative to the profiler's first event.
    pub start: Duration,
    /// End, relative to the profiler's first event.
    pub end: Duration,
    /// Whether it succeeded.
    pub ok: bool,
}

/// Totals for one key prefix (one operation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrefixSummary {
    /// Tasks run.
    pub count: usize,
    /// Time spent in them.
    pub total: Duration,
    /// The longest one.
    pub max: Duration,
}

/// Records every task of the computations it watches. Register it like any [`Callback`].
#[derive(Default)]
pub struct Profiler {
    origin: OnceLock<Instant>,
    records: Mutex<Vec<TaskRecord>>,
}

impl Profiler {
    /// A new, empty profiler.
    pub fn new() -> Arc<Profiler> {
        Arc::new(Profiler::default())
    }

    fn origin(&self, fallback: Instant) -> Instant {
        *self.origin.get_or_init(|| fallback)
    }

    /// Everything recorded so far, in finishing order.
    pub fn records(&self) -> Vec<TaskRecord> {
        self.records.lock().clone()
    }

    /// Forget what was recorded.
    pub fn clear(&self) {
        self.records.lock().clear();
    }

    /// Count and time per key prefix.
    pub fn summary(&self) -> BTreeMap<String, PrefixSummary> {
        let mut out: BTreeMap<String, PrefixSummary> = BTreeMap::new();
        for r in self.records.lock().iter() {
            let d = r.end.saturating_sub(r.start);
            let s = out.entry(r.key.prefix().to_string()).or_default();
            s.count += 1;
            s.total += d;
            s.max = s.max.max(d);
        }
        out
    }

    /// The records as Chrome trace-event JSON (open in <https://ui.perfetto.dev> or
    /// `chrome://tracing`): one row per thread, one slice per task, named by key.
    pub fn to_chrome_trace(&self) -> serde_json::Value {
        let records = self.records.lock();
        let mut events = Vec::with_capacity(records.len() + 8);
        let mut threads: Vec<usize> = records.iter().map(|r| r.worker).collect();
        threads.sort_unstable();
        threads.dedup();
        for t in threads {
            events.push(serde_json::json!({
                "name": "thread_name", "ph": "M", "pid": 1, "tid": t,
                "args": { "name": if t == 0 { "caller".to_string() } else { format!("brisk-worker-{t}") } }
            }));
        }
        for r in records.iter() {
            events.push(serde_json::json!({
                "name": r.key.to_string(),
                "cat": r.key.prefix(),
                "ph": "X",
                "pid": 1,
                "tid": r.worker,
                "ts": r.start.as_secs_f64() * 1e6,
                "dur": r.end.saturating_sub(r.start).as_secs_f64() * 1e6,
                "args": { "function": r.label, "run": r.run, "ok": r.ok },
            }));
        }
        serde_json::json!({ "traceEvents": events, "displayTimeUnit": "ms" })
    }

    /// Write [`Profiler::to_chrome_trace`] to `path`.
    pub fn write_chrome_trace(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let text = self.to_chrome_trace().to_string();
        std::fs::write(path, text).map_err(|e| Error::io("cannot write", path, e))
    }
}

impl Callback for Profiler {
    fn on_start(&self, run: &RunInfo) {
        self.origin(run.start);
    }

    fn on_task_finish(
        &self,
        run: &RunInfo,
        task: &TaskInfo<'_>,
        end: Instant,
        result: Result<(), &TaskFailure>,
    ) {
        let origin = self.origin(run.start);
        let rec = TaskRecord {
            key: task.key.clone(),
            label: task.label,
            worker: task.worker,
            run: run.id,
            start: task.start.saturating_duration_since(origin),
            end: end.saturating_duration_since(origin),
            ok: result.is_ok(),
        };
        self.records.lock().push(rec);
    }
}
