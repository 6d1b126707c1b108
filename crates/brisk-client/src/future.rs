//! Futures: handles on keys held by the cluster. The cluster keeps a key while some future
//! refers to it; dropping the last one tells the scheduler to release it.

use std::marker::PhantomData;
use std::sync::{Arc, Weak};

use brisk_core::{Arg, Error, FromValue, IntoArg, Key, Value};
use brisk_protocol::WorkerId;
use brisk_protocol::messages::{EncodedValue, FromClient};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::client::Inner;

#[derive(Clone)]
pub(crate) enum Status {
    Pending,
    Finished {
        who_has: Vec<WorkerId>,
        inline: Option<EncodedValue>,
        value: Option<Value>,
    },
    Erred(Error),
}

/// The shared state of one key on this client.
pub(crate) struct KeyCell {
    pub(crate) key: Key,
    pub(crate) client: Weak<Inner>,
    pub(crate) status: Mutex<Status>,
    pub(crate) notify: Notify,
}

impl KeyCell {
    pub(crate) fn set(&self, s: Status) {
        *self.status.lock() = s;
        self.notify.notify_waiters();
    }

    /// Wait until the key is finished or failed.
    pub(crate) async fn settled(&self) -> Status {
        loop {
            let notified = self.notify.notified();
            let s = self.status.lock().clone();
            if !matches!(s, Status::Pending) {
                return s;
            }
            notified.await;
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        !matches!(*self.status.lock(), Status::Pending)
    }
}

impl Drop for KeyCell {
    fn drop(&mut self) {
        if let Some(inner) = self.client.upgrade() {
            inner.forget_cell(&self.key);
            let _ = inner.out.send(vec![FromClient::Release {
                keys: vec![self.key.clone()],
            }]);
        }
    }
}

/// A value being computed (or held) by the cluster. Cheap to clone; the cluster keeps the
/// value while any clone lives.
pub struct Future<T> {
    pub(crate) cell: Arc<KeyCell>,
    pub(crate) _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            cell: Arc::clone(&self.cell),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match &*self.cell.status.lock() {
            Status::Pending => "pending",
            Status::Finished { .. } => "finished",
            Status::Erred(_) => "error",
        };
        write!(f, "Future({:?}, {status})", self.cell.key)
    }
}

impl<T> Future<T> {
    /// The key on the cluster.
    pub fn key(&self) -> &Key {
        &self.cell.key
    }

    /// Whether the value is ready (or failed).
    pub fn done(&self) -> bool {
        self.cell.is_done()
    }

    /// The future with its type forgotten.
    pub fn erase(&self) -> Future<Value> {
        Future {
            cell: Arc::clone(&self.cell),
            _t: PhantomData,
        }
    }

    /// Wait until the value is ready or failed.
    pub async fn wait_async(&self) {
        self.cell.settled().await;
    }

    /// The value, as a raw [`Value`] (async).
    pub async fn value_async(&self) -> Result<Value, Error> {
        let inner = self.cell.client.upgrade().ok_or_else(closed)?;
        inner.value_of(&self.cell).await
    }
}

impl<T: FromValue> Future<T> {
    /// Wait for the value and read it (async).
    pub async fn result_async(&self) -> Result<T, Error> {
        let v = self.value_async().await?;
        self.read(v)
    }

    fn read(&self, v: Value) -> Result<T, Error> {
        v.get::<T>().map_err(|mismatch| Error::WrongType {
            key: self.cell.key.clone(),
            mismatch,
        })
    }

    /// Wait for the value and read it: blocks the calling thread (use
    /// [`Future::result_async`] in async code).
    pub fn result(&self) -> Result<T, Error> {
        let inner = self.cell.client.upgrade().ok_or_else(closed)?;
        let v = inner.block_on(self.value_async())?;
        self.read(v)
    }
}

fn closed() -> Error {
    crate::error::ClientError::Disconnected {
        address: "(client closed)".into(),
    }
    .into()
}

impl<T> IntoArg for Future<T> {
    fn into_arg(self) -> Arg {
        Arg::Key(self.cell.key.clone())
    }
}

impl<T> IntoArg for &Future<T> {
    fn into_arg(self) -> Arg {
        Arg::Key(self.cell.key.clone())
    }
}

/// The result of [`crate::Client::compute`] on a collection: its output keys on the cluster
/// plus the collection's finishing step, run here when the result is read.
pub struct ComputeFuture<T> {
    pub(crate) parts: Vec<Future<Value>>,
    pub(crate) literals: Vec<Option<Value>>,
    pub(crate) finalize: Box<dyn Fn(Vec<Value>) -> Result<T, Error> + Send + Sync>,
}

impl<T> ComputeFuture<T> {
    /// The futures of the collection's output keys.
    pub fn futures(&self) -> &[Future<Value>] {
        &self.parts
    }

    /// Whether every part is ready (or failed).
    pub fn done(&self) -> bool {
        self.parts.iter().all(Future::done)
    }

    /// Wait for every part and finish the collection (async).
    pub async fn result_async(&self) -> Result<T, Error> {
        let values = self.values_async().await?;
        (self.finalize)(values)
    }

    /// The values of the collection's outputs, in order (literals included).
    async fn values_async(&self) -> Result<Vec<Value>, Error> {
        let mut values = Vec::with_capacity(self.literals.len());
        let mut parts = self.parts.iter();
        let Some(first) = self.parts.first() else {
            return Ok(self.literals.iter().flatten().cloned().collect());
        };
        let inner = first.cell.client.upgrade().ok_or_else(closed)?;
        let fetched = inner.gather_values(&self.parts).await?;
        let mut fetched = fetched.into_iter();
        for lit in &self.literals {
            match lit {
                Some(v) => values.push(v.clone()),
                None => {
                    let _ = parts.next();
                    values.push(fetched.next().ok_or(Error::Cancelled)?);
                }
            }
        }
        Ok(values)
    }

    /// Wait for every part and finish the collection: blocks the calling thread.
    pub fn result(&self) -> Result<T, Error> {
        match self.parts.first().and_then(|f| f.cell.client.upgrade()) {
            Some(inner) => (self.finalize)(inner.block_on(self.values_async())?),
            None => (self.finalize)(self.literals.iter().flatten().cloned().collect()),
        }
    }
}
