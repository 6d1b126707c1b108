//! The scheduler seam: collections and `delayed` compute through [`Scheduler`], never through a
//! particular executor.
//!
//! The default is chosen, in order, from: a scope set with [`with_scheduler`] on this thread;
//! a process-wide default set with [`set_default_scheduler`] (what a cluster client does when
//! it connects); the `BRISK_SCHEDULER` setting (see [`crate::config`]); and finally the
//! in-process threaded scheduler. Schedulers that live in other crates announce themselves with
//! a [`SchedulerProvider`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};

use crate::error::Error;
use crate::{Graph, Key, Value};

/// Options for one computation.
#[derive(Debug, Clone, Default)]
pub struct ComputeOptions {
    /// Fuse linear chains before running (collections and `delayed` ask for this).
    pub fuse: bool,
}

impl ComputeOptions {
    /// The options collections use: fuse linear chains.
    pub fn optimized() -> Self {
        ComputeOptions { fuse: true }
    }
}

/// Something that computes keys of a graph: the local executors, a cluster client, ….
pub trait Scheduler: Send + Sync {
    /// A short name for messages (`"threads"`, `"sync"`, `"distributed"`).
    fn name(&self) -> &str;

    /// Compute `keys` of `graph`, returning their values in the same order.
    fn get(
        &self,
        graph: &Graph,
        keys: &[Key],
        options: &ComputeOptions,
    ) -> Result<Vec<Value>, Error>;

    /// Compute `keys` of `graph` and keep them: what a collection's `persist()` asks for. A
    /// local scheduler returns the values; a cluster keeps them on its workers and returns
    /// [`crate::Held`] values (each a key, a keep-alive handle and a way to fetch it), which a
    /// persisted collection holds as literals.
    fn persist(
        &self,
        graph: &Graph,
        keys: &[Key],
        options: &ComputeOptions,
    ) -> Result<Vec<Value>, Error> {
        self.get(graph, keys, options)
    }
}

/// A scheduler that can be chosen by name (submitted with `inventory`).
pub struct SchedulerProvider {
    /// The name (`BRISK_SCHEDULER=name`).
    pub name: &'static str,
    /// Other accepted names (`"threading"` for `"threads"`, as Dask spells it).
    pub aliases: &'static [&'static str],
    /// Build the scheduler (called once per process).
    pub make: fn() -> Arc<dyn Scheduler>,
}

inventory::collect!(SchedulerProvider);

static GLOBAL: RwLock<Option<Arc<dyn Scheduler>>> = RwLock::new(None);

thread_local! {
    static SCOPED: RefCell<Vec<Arc<dyn Scheduler>>> = const { RefCell::new(Vec::new()) };
}

/// The scheduler registered under `name` (or one of its aliases).
pub fn scheduler_by_name(name: &str) -> Result<Arc<dyn Scheduler>, Error> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Arc<dyn Scheduler>>>> = OnceLock::new();
    let wanted = name.trim().to_ascii_lowercase();
    let provider = inventory::iter::<SchedulerProvider>
        .into_iter()
        .find(|p| p.name == wanted || p.aliases.contains(&wanted.as_str()));
    let Some(p) = provider else {
        let mut known: Vec<&str> = inventory::iter::<SchedulerProvider>
            .into_iter()
            .map(|p| p.name)
            .collect();
        known.sort_unstable();
        return Err(Error::NoScheduler {
            name: name.to_string(),
            known: if known.is_empty() {
                "none; link the brisk crate, which brings brisk-local".to_string()
            } else {
                known.join(", ")
            },
        });
    };
    let mut cache = CACHE.get_or_init(Default::default).lock();
    Ok(Arc::clone(cache.entry(p.name).or_insert_with(p.make)))
}

/// The scheduler `compute()` uses right now on this thread.
pub fn default_scheduler() -> Result<Arc<dyn Scheduler>, Error> {
    if let Some(s) = SCOPED.with(|s| s.borrow().last().cloned()) {
        return Ok(s);
    }
    if let Some(s) = GLOBAL.read().as_ref() {
        return Ok(Arc::clone(s));
    }
    scheduler_by_name(&crate::config::config()?.scheduler)
}

/// Make `scheduler` the process-wide default (`None` restores the configured one). Returns the
/// previous process-wide default.
pub fn set_default_scheduler(scheduler: Option<Arc<dyn Scheduler>>) -> Option<Arc<dyn Scheduler>> {
    std::mem::replace(&mut *GLOBAL.write(), scheduler)
}

/// Run `f` with `scheduler` as the default on this thread.
pub fn with_scheduler<R>(scheduler: Arc<dyn Scheduler>, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPED.with(|s| s.borrow_mut().pop());
        }
    }
    SCOPED.with(|s| s.borrow_mut().push(scheduler));
    let _pop = Pop;
    f()
}

/// Compute `keys` of `graph` on the default scheduler.
pub fn compute(graph: &Graph, keys: &[Key], options: &ComputeOptions) -> Result<Vec<Value>, Error> {
    default_scheduler()?.get(graph, keys, options)
}
