//! Adaptive scaling: follow the scheduler's demand between a minimum and a maximum number
//! of workers, like `dask.distributed`'s `Adaptive`.
//!
//! Every [`AdaptOptions::interval`] a thread asks the scheduler for a snapshot and computes
//! the workers wanted:
//!
//! - tasks that could run now (`processing`, `queued`, `no-worker`) over the threads of a
//!   worker, so that each thread has one;
//! - and enough workers to hold the data in memory (managed bytes over 60% of a worker's
//!   memory limit, when there is one);
//!
//! clamped to `[min, max]`. It grows at once; it shrinks only after the target stayed lower
//! for [`AdaptOptions::wait_count`] consecutive checks (so that a pause between two phases of
//! a computation does not tear workers down), and then by retiring workers gracefully.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use brisk_protocol::messages::ClusterInfo;

use crate::pool::Pool;

/// How adaptive scaling decides.
#[derive(Debug, Clone)]
pub struct AdaptOptions {
    /// The fewest workers.
    pub min: usize,
    /// The most workers.
    pub max: usize,
    /// How often to check.
    pub interval: Duration,
    /// Consecutive checks with a lower target before workers are retired.
    pub wait_count: u32,
}

impl AdaptOptions {
    /// Between `min` and `max` workers, checking every second, shrinking after 3 checks.
    pub fn new(min: usize, max: usize) -> Self {
        AdaptOptions {
            min,
            max: max.max(min),
            interval: Duration::from_secs(1),
            wait_count: 3,
        }
    }
}

/// The number of workers the scheduler's snapshot asks for (before clamping).
pub fn target(info: &ClusterInfo) -> usize {
    let count = |name: &str| {
        info.tasks_by_state
            .iter()
            .find(|(k, _)| k == name)
            .map_or(0, |(_, n)| *n)
    };
    let runnable = count("processing") + count("queued") + count("no-worker");
    let threads = if info.workers.is_empty() {
        1
    } else {
        let t: u64 = info.workers.iter().map(|w| u64::from(w.nthreads)).sum();
        (t / info.workers.len() as u64).max(1)
    };
    let by_tasks = runnable.div_ceil(threads);
    let limit = info
        .workers
        .iter()
        .map(|w| w.memory_limit)
        .max()
        .unwrap_or(0);
    let by_memory = if limit > 0 {
        let managed: u64 = info.workers.iter().map(|w| w.metrics.managed_bytes).sum();
        managed.div_ceil((limit as f64 * 0.6) as u64)
    } else {
        0
    };
    by_tasks.max(by_memory) as usize
}

/// A running adaptive loop; stops when dropped.
pub struct Adaptive {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Adaptive {
    /// Start adapting `pool`.
    pub fn start(pool: Weak<Pool>, options: AdaptOptions) -> Adaptive {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("brisk-adapt".into())
            .spawn(move || run(pool, options, flag))
            .ok();
        Adaptive { stop, thread }
    }
}

impl Drop for Adaptive {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(pool: Weak<Pool>, o: AdaptOptions, stop: Arc<AtomicBool>) {
    let mut lower = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let Some(p) = pool.upgrade() else { return };
        if p.is_closed() {
            return;
        }
        let have = p.names().len();
        match p.info() {
            Ok(info) => {
                let want = target(&info).clamp(o.min, o.max);
                let next = if want > have || have < o.min {
                    lower = 0;
                    Some(want)
                } else if want < have {
                    lower += 1;
                    (lower >= o.wait_count).then(|| {
                        lower = 0;
                        want
                    })
                } else {
                    lower = 0;
                    None
                };
                if let Some(n) = next {
                    tracing::info!(from = have, to = n, "adaptive scaling");
                    if let Err(e) = p.scale_to(n) {
                        tracing::warn!(error = %e, "adaptive scaling failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "adaptive scaling cannot reach the scheduler"),
        }
        drop(p);
        // Sleep in small steps so that dropping the handle stops the thread quickly.
        let mut slept = Duration::ZERO;
        while slept < o.interval && !stop.load(Ordering::SeqCst) {
            let step = Duration::from_millis(50).min(o.interval - slept);
            std::thread::sleep(step);
            slept += step;
        }
    }
}
