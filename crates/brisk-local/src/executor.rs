//! [`LocalScheduler`]: the sync and threaded schedulers behind one type.

use std::sync::Arc;

use brisk_core::scheduler::SchedulerProvider;
use brisk_core::{
    ComputeOptions, Error, FromValue, Graph, Key, Plan, PlanOptions, Scheduler, Value,
};

use crate::callbacks::{self, Callback};
use crate::engine::{OnError, Run};
use crate::pool::Pool;
use crate::progress;

/// An in-process scheduler: `sync` (the calling thread only, for debugging) or `threaded` (a
/// pool sized to the cores, the default).
///
/// ```
/// use brisk_local::LocalScheduler;
/// fn inc(x: i64) -> i64 { x + 1 }
/// let g = brisk_core::graph! { "a" => 1, "b" => (inc, "a") };
/// let b: i64 = LocalScheduler::threaded().num_threads(4).get(&g, "b").unwrap();
/// assert_eq!(b, 2);
/// ```
#[derive(Clone)]
pub struct LocalScheduler {
    sync: bool,
    threads: Option<usize>,
    callbacks: Vec<Arc<dyn Callback>>,
    progress: Option<bool>,
}

impl LocalScheduler {
    /// The threaded scheduler (thread count from `BRISK_NUM_THREADS`, else the cores).
    pub fn threaded() -> Self {
        LocalScheduler {
            sync: false,
            threads: None,
            callbacks: Vec::new(),
            progress: None,
        }
    }

    /// The single-threaded scheduler: every task runs on the calling thread, in order.
    pub fn sync() -> Self {
        LocalScheduler {
            sync: true,
            ..Self::threaded()
        }
    }

    /// Use `n` threads (including the calling one).
    pub fn num_threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    /// Add a callback for computations run by this scheduler.
    pub fn callback(mut self, cb: Arc<dyn Callback>) -> Self {
        self.callbacks.push(cb);
        self
    }

    /// Force the progress bar on or off for this scheduler (default: the configuration).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = Some(on);
        self
    }

    fn threads(&self) -> Result<usize, Error> {
        if self.sync {
            return Ok(1);
        }
        Ok(match self.threads {
            Some(n) => n,
            None => brisk_core::config::config()?.num_threads,
        })
    }

    /// Compute one key and read it as `T`.
    pub fn get<T: FromValue>(&self, graph: &Graph, key: impl Into<Key>) -> Result<T, Error> {
        let key = key.into();
        let mut values = self.get_many(graph, std::slice::from_ref(&key))?;
        let v = values.pop().ok_or(Error::Cancelled)?;
        v.get::<T>()
            .map_err(|mismatch| Error::WrongType { key, mismatch })
    }

    /// Compute several keys, sharing their common work. Stops at the first failure.
    pub fn get_many(&self, graph: &Graph, keys: &[Key]) -> Result<Vec<Value>, Error> {
        self.run(graph, keys, &ComputeOptions::default(), OnError::Stop)?
            .into_iter()
            .collect()
    }

    /// Compute several keys, running everything that does not depend on a failed task: each
    /// key gets its value, or the failure it depends on.
    pub fn get_each(
        &self,
        graph: &Graph,
        keys: &[Key],
    ) -> Result<Vec<Result<Value, Error>>, Error> {
        self.run(graph, keys, &ComputeOptions::default(), OnError::Continue)
    }

    /// Compile and run: the results per key (an outer error for a graph that does not
    /// validate or a bad configuration).
    pub fn run(
        &self,
        graph: &Graph,
        keys: &[Key],
        options: &ComputeOptions,
        on_error: OnError,
    ) -> Result<Vec<Result<Value, Error>>, Error> {
        let threads = self.threads()?;
        let plan = Plan::compile(
            graph,
            keys,
            &PlanOptions {
                fuse: options.fuse,
                ..PlanOptions::default()
            },
        )?;
        Ok(self.execute(plan, threads, on_error))
    }

    fn execute(&self, plan: Plan, threads: usize, on_error: OnError) -> Vec<Result<Value, Error>> {
        let callbacks = callbacks::active(&self.callbacks);
        let nested = crate::engine::in_task();
        let tracker = progress::track(plan.len(), nested, self.progress);
        let run = Arc::new(Run::new(
            plan,
            threads,
            callbacks.clone(),
            on_error,
            tracker.clone(),
        ));
        let info = &run.info;
        for cb in &callbacks {
            cb.on_start(info);
        }
        if threads > 1 {
            let helpers = (threads - 1).min(run.plan().len().saturating_sub(1));
            if helpers > 0 {
                Pool::get(threads).help(&run, helpers);
            }
        }
        run.work(0);
        let stopped = run.stopped();
        if let Some(t) = &tracker {
            t.finish(stopped.is_none());
        }
        for cb in &callbacks {
            cb.on_finish(info, stopped.as_ref().map_or(Ok(()), Err));
        }
        run.results()
    }
}

impl Scheduler for LocalScheduler {
    fn name(&self) -> &str {
        if self.sync { "sync" } else { "threads" }
    }

    fn get(
        &self,
        graph: &Graph,
        keys: &[Key],
        options: &ComputeOptions,
    ) -> Result<Vec<Value>, Error> {
        self.run(graph, keys, options, OnError::Stop)?
            .into_iter()
            .collect()
    }
}

inventory::submit! {
    SchedulerProvider {
        name: "threads",
        aliases: &["threaded", "threading", "thread"],
        make: || Arc::new(LocalScheduler::threaded()),
    }
}

inventory::submit! {
    SchedulerProvider {
        name: "sync",
        aliases: &["synchronous", "single-threaded"],
        make: || Arc::new(LocalScheduler::sync()),
    }
}
