//! Callbacks: code that watches local computations (progress bars, the profiler, your own).
//!
//! Register one for the whole process with [`register`] (it stays until the returned guard is
//! dropped), or for the computations `f` runs on this thread with [`with_callbacks`]. Both work
//! whatever builds the graph — a raw `get`, `delayed`, or a collection's `compute()`.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use brisk_core::{Error, Key, TaskFailure};
use parking_lot::RwLock;

/// What a callback learns about a computation.
pub struct RunInfo {
    /// A process-unique id of this run.
    pub id: u64,
    /// The number of tasks the run will execute (after culling and fusion).
    pub tasks: usize,
    /// The number of threads executing it.
    pub threads: usize,
    /// When it started.
    pub start: Instant,
    /// Whether it was started from inside another task (a nested compute).
    pub nested: bool,
}

/// One task, as a callback sees it.
pub struct TaskInfo<'a> {
    /// Its key.
    pub key: &'a Key,
    /// Its function's short name.
    pub label: &'static str,
    /// The executing thread: 0 for the thread that called `get`, 1.. for pool threads.
    pub worker: usize,
    /// When it started.
    pub start: Instant,
}

/// Watches local computations. Every method has an empty default.
pub trait Callback: Send + Sync {
    /// A run starts.
    fn on_start(&self, _run: &RunInfo) {}
    /// A task starts.
    fn on_task_start(&self, _run: &RunInfo, _task: &TaskInfo<'_>) {}
    /// A task finished at `end`, with `Err` if it failed.
    fn on_task_finish(
        &self,
        _run: &RunInfo,
        _task: &TaskInfo<'_>,
        _end: Instant,
        _result: Result<(), &TaskFailure>,
    ) {
    }
    /// A run finished.
    fn on_finish(&self, _run: &RunInfo, _result: Result<(), &Error>) {}
}

struct Registered {
    id: u64,
    callback: Arc<dyn Callback>,
}

static GLOBAL: RwLock<Vec<Registered>> = RwLock::new(Vec::new());

thread_local! {
    static SCOPED: RefCell<Vec<Arc<dyn Callback>>> = const { RefCell::new(Vec::new()) };
}

/// Keeps a callback registered; dropping it unregisters the callback.
#[must_use = "the callback is unregistered when this guard is dropped"]
pub struct CallbackGuard {
    id: u64,
}

impl Drop for CallbackGuard {
    fn drop(&mut self) {
        GLOBAL.write().retain(|r| r.id != self.id);
    }
}

/// Register `callback` for every local computation in this process until the guard drops.
pub fn register(callback: Arc<dyn Callback>) -> CallbackGuard {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    GLOBAL.write().push(Registered { id, callback });
    CallbackGuard { id }
}

/// Run `f` with `callbacks` watching the computations it starts on this thread.
pub fn with_callbacks<R>(callbacks: &[Arc<dyn Callback>], f: impl FnOnce() -> R) -> R {
    struct Pop(usize);
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPED.with(|s| {
                let mut s = s.borrow_mut();
                let keep = s.len().saturating_sub(self.0);
                s.truncate(keep);
            });
        }
    }
    SCOPED.with(|s| s.borrow_mut().extend(callbacks.iter().cloned()));
    let _pop = Pop(callbacks.len());
    f()
}

/// The callbacks active for a run starting now on this thread, plus `extra`.
pub(crate) fn active(extra: &[Arc<dyn Callback>]) -> Vec<Arc<dyn Callback>> {
    let mut out: Vec<Arc<dyn Callback>> = extra.to_vec();
    {
        let g = GLOBAL.read();
        out.extend(g.iter().map(|r| Arc::clone(&r.callback)));
    }
    SCOPED.with(|s| out.extend(s.borrow().iter().cloned()));
    out
}
