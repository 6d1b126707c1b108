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
//!
//! Two brakes for batch systems, where a request may queue for hours or be refused:
//!
//! - a **backlog limit** ([`AdaptOptions::max_pending`]): never more than this many workers
//!   requested but not joined yet (queued jobs), so a busy queue is not flooded;
//! - a **pause** after [`AdaptOptions::failures_before_pause`] failed scalings in a row
//!   (`sbatch` refusing a job, a host unreachable): no new attempt for
//!   [`AdaptOptions::pause`], then one try; each failure is logged with its reason.
//!
//! The decision is a pure function of the snapshot ([`Decider`]), tested without processes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

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
    /// At most this many workers requested but not joined yet (`None`: no limit).
    pub max_pending: Option<usize>,
    /// Failed scalings in a row before adapting pauses.
    pub failures_before_pause: u32,
    /// How long adapting pauses after repeated failures.
    pub pause: Duration,
}

impl AdaptOptions {
    /// Between `min` and `max` workers, checking every second, shrinking after 3 checks.
    pub fn new(min: usize, max: usize) -> Self {
        AdaptOptions {
            min,
            max: max.max(min),
            interval: Duration::from_secs(1),
            wait_count: 3,
            max_pending: None,
            failures_before_pause: 3,
            pause: Duration::from_secs(60),
        }
    }
}

/// The adaptive decision, step by step: what to scale to given the workers counted, those
/// not joined yet, and the demand; and when to hold back after failures.
#[derive(Debug)]
pub struct Decider {
    options: AdaptOptions,
    lower: u32,
    failures: u32,
    paused_until: Option<Instant>,
}

impl Decider {
    /// A decider with `options`.
    pub fn new(options: AdaptOptions) -> Self {
        Decider {
            options,
            lower: 0,
            failures: 0,
            paused_until: None,
        }
    }

    /// The size to scale to now, if any: `have` workers count (running, queued or starting,
    /// not about to end), `pending` of them have not joined, `demand` is [`target`]'s answer.
    pub fn decide(
        &mut self,
        have: usize,
        pending: usize,
        demand: usize,
        now: Instant,
    ) -> Option<usize> {
        let o = &self.options;
        let want = demand.clamp(o.min, o.max);
        if want > have || have < o.min {
            self.lower = 0;
            if self.paused_until.is_some_and(|t| now < t) {
                return None;
            }
            let room = o
                .max_pending
                .map_or(usize::MAX, |m| m.saturating_sub(pending));
            let next = want.min(have.saturating_add(room));
            (next > have).then_some(next)
        } else if want < have {
            self.lower += 1;
            (self.lower >= o.wait_count).then(|| {
                self.lower = 0;
                want
            })
        } else {
            self.lower = 0;
            None
        }
    }

    /// A scaling succeeded.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.paused_until = None;
    }

    /// A scaling failed; returns whether adapting pauses now.
    pub fn failed(&mut self, now: Instant) -> bool {
        self.failures += 1;
        if self.failures >= self.options.failures_before_pause {
            self.failures = 0;
            self.paused_until = Some(now + self.options.pause);
            true
        } else {
            false
        }
    }

    /// Whether adapting is paused at `now`.
    pub fn paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|t| now < t)
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
    pool: Weak<Pool>,
}

impl Adaptive {
    /// Start adapting `pool`.
    pub fn start(pool: Weak<Pool>, options: AdaptOptions) -> Adaptive {
        if let Some(p) = pool.upgrade() {
            p.adapting.fetch_add(1, Ordering::SeqCst);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("brisk-adapt".into())
            .spawn({
                let pool = pool.clone();
                move || run(pool, options, flag)
            })
            .ok();
        Adaptive { stop, thread, pool }
    }
}

impl Drop for Adaptive {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(p) = self.pool.upgrade() {
            p.adapting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn run(pool: Weak<Pool>, o: AdaptOptions, stop: Arc<AtomicBool>) {
    let interval = o.interval;
    let mut decider = Decider::new(o);
    while !stop.load(Ordering::SeqCst) {
        let Some(p) = pool.upgrade() else { return };
        if p.is_closed() {
            return;
        }
        match p.info() {
            Ok(info) => {
                let have = p.active().len();
                let pending = p.pending(&info);
                let now = Instant::now();
                if let Some(n) = decider.decide(have, pending, target(&info), now) {
                    tracing::info!(from = have, to = n, pending, "adaptive scaling");
                    match p.scale_to(n) {
                        Ok(()) => decider.succeeded(),
                        Err(e) => {
                            let paused = decider.failed(now);
                            tracing::warn!(error = %e, paused, "adaptive scaling failed");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "adaptive scaling cannot reach the scheduler"),
        }
        drop(p);
        // Sleep in small steps so that dropping the handle stops the thread quickly.
        let mut slept = Duration::ZERO;
        while slept < interval && !stop.load(Ordering::SeqCst) {
            let step = Duration::from_millis(50).min(interval - slept);
            std::thread::sleep(step);
            slept += step;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(min: usize, max: usize) -> AdaptOptions {
        AdaptOptions {
            max_pending: Some(2),
            failures_before_pause: 2,
            pause: Duration::from_secs(60),
            ..AdaptOptions::new(min, max)
        }
    }

    #[test]
    fn grows_at_once_within_the_backlog_limit() {
        let mut d = Decider::new(opts(1, 10));
        let t = Instant::now();
        // Demand for 8 with 1 worker and nothing pending: at most 2 requested ahead.
        assert_eq!(d.decide(1, 0, 8, t), Some(3));
        // Two still queued: no room.
        assert_eq!(d.decide(3, 2, 8, t), None);
        // One joined: one more.
        assert_eq!(d.decide(3, 1, 8, t), Some(4));
        // Never past max.
        assert_eq!(d.decide(9, 0, 50, t), Some(10));
    }

    #[test]
    fn shrinks_only_after_wait_count_checks() {
        let mut d = Decider::new(opts(1, 10));
        let t = Instant::now();
        assert_eq!(d.decide(4, 0, 0, t), None);
        assert_eq!(d.decide(4, 0, 0, t), None);
        assert_eq!(d.decide(4, 0, 0, t), Some(1));
        // A burst in between resets the count.
        assert_eq!(d.decide(4, 0, 0, t), None);
        assert_eq!(d.decide(4, 0, 4, t), None);
        assert_eq!(d.decide(4, 0, 0, t), None);
    }

    #[test]
    fn pauses_after_repeated_failures_then_tries_again() {
        let mut d = Decider::new(opts(1, 10));
        let t = Instant::now();
        assert_eq!(d.decide(1, 0, 3, t), Some(3));
        assert!(!d.failed(t));
        assert_eq!(d.decide(1, 0, 3, t), Some(3));
        assert!(d.failed(t), "the second failure in a row pauses");
        assert!(d.paused(t + Duration::from_secs(30)));
        assert_eq!(d.decide(1, 0, 3, t + Duration::from_secs(30)), None);
        // Shrinking is not held back by a pause.
        let later = t + Duration::from_secs(61);
        assert!(!d.paused(later));
        assert_eq!(d.decide(1, 0, 3, later), Some(3));
        d.succeeded();
        assert!(!d.failed(later), "a success resets the count");
    }

    #[test]
    fn the_minimum_is_kept_even_without_demand() {
        let mut d = Decider::new(opts(2, 4));
        let t = Instant::now();
        assert_eq!(d.decide(0, 0, 0, t), Some(2));
        assert_eq!(d.decide(2, 0, 0, t), None);
    }
}
