//! A persistent pool of helper threads, one pool per size, started on first use.
//!
//! The thread that calls `get` always works on its own run, so a run never waits for a free
//! pool thread and a task that itself calls `get` (a nested computation) cannot deadlock the
//! pool: at worst its run is executed by that one thread.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use parking_lot::{Condvar, Mutex};

use crate::engine::Run;

struct Queue {
    jobs: Mutex<VecDeque<Arc<Run>>>,
    cv: Condvar,
}

/// Helper threads for runs that use `threads` threads in all (the caller plus `threads - 1`).
pub(crate) struct Pool {
    queue: Arc<Queue>,
    helpers: usize,
}

impl Pool {
    /// The pool for runs with `threads` threads.
    pub(crate) fn get(threads: usize) -> Arc<Pool> {
        static POOLS: OnceLock<Mutex<HashMap<usize, Arc<Pool>>>> = OnceLock::new();
        let mut pools = POOLS.get_or_init(Default::default).lock();
        Arc::clone(
            pools
                .entry(threads)
                .or_insert_with(|| Arc::new(Pool::start(threads.saturating_sub(1)))),
        )
    }

    fn start(helpers: usize) -> Pool {
        let queue = Arc::new(Queue {
            jobs: Mutex::new(VecDeque::new()),
            cv: Condvar::new(),
        });
        let mut started = 0;
        for i in 0..helpers {
            let q = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("brisk-worker-{}", i + 1))
                .spawn(move || helper_loop(&q, i + 1));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "could not start a worker thread; running with fewer");
                    break;
                }
            }
        }
        Pool {
            queue,
            helpers: started,
        }
    }

    /// Ask up to `n` helpers to join `run`.
    pub(crate) fn help(&self, run: &Arc<Run>, n: usize) {
        let n = n.min(self.helpers);
        if n == 0 {
            return;
        }
        let mut jobs = self.queue.jobs.lock();
        for _ in 0..n {
            jobs.push_back(Arc::clone(run));
        }
        drop(jobs);
        for _ in 0..n {
            self.queue.cv.notify_one();
        }
    }
}

fn helper_loop(q: &Queue, worker: usize) {
    loop {
        let run = {
            let mut jobs = q.jobs.lock();
            loop {
                if let Some(r) = jobs.pop_front() {
                    break r;
                }
                q.cv.wait(&mut jobs);
            }
        };
        run.work(worker);
    }
}
