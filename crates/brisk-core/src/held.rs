//! Values that live elsewhere: what `persist()` returns on a cluster.
//!
//! Persisting a collection on a local scheduler computes its chunks into this process's
//! memory. On a cluster the chunks should stay where they were computed: the scheduler
//! returns, for each output key, a [`Held`] value instead of the data — the key the cluster
//! holds it under, a handle that keeps it held (the client's future), and a way to fetch it.
//! The persisted collection's layer holds these as literal nodes.
//!
//! Compiling a plan treats a `Held` literal as a node of its own under the *held* key (never
//! inlined into the tasks that use it), so:
//! - a cluster client sends no task for it, and its dependents name the held key: the
//!   scheduler already has it in memory and places them where it lives;
//! - a local engine fetches it ([`Held::resolve`]) when a task needs it, so a persisted
//!   collection still computes after the process falls back to threads.
//!
//! The data stays on the workers for as long as the persisted collection (and so its `Held`
//! values and their keep-alive handles) lives.

use std::any::Any;
use std::fmt;

use crate::{Error, Key, Value};

/// A value held by another process under `key` ([`crate::Scheduler::persist`]).
pub struct Held {
    key: Key,
    fetch: Box<dyn Fn() -> Result<Value, Error> + Send + Sync>,
    _keep: Box<dyn Any + Send + Sync>,
}

impl Held {
    /// A held value: `key` on the holder, `fetch` to read it here, `keep` alive while the
    /// value is referenced (dropping it lets the holder release the key).
    pub fn new_value(
        key: Key,
        fetch: impl Fn() -> Result<Value, Error> + Send + Sync + 'static,
        keep: impl Any + Send + Sync,
    ) -> Value {
        Value::new(Held {
            key,
            fetch: Box::new(fetch),
            _keep: Box::new(keep),
        })
    }

    /// The key the holder keeps the value under.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Read the value into this process.
    pub fn fetch(&self) -> Result<Value, Error> {
        (self.fetch)()
    }

    /// The `Held` inside `v`, if it is one.
    pub fn of(v: &Value) -> Option<&Held> {
        v.downcast_ref::<Held>().ok()
    }

    /// `v` itself, or the value it holds, fetched.
    pub fn resolve(v: &Value) -> Result<Value, Error> {
        match Held::of(v) {
            Some(h) => h.fetch(),
            None => Ok(v.clone()),
        }
    }
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Held({})", self.key)
    }
}
