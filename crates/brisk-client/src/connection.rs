//! The client's side of the connection: the reader that turns scheduler messages into
//! future states, the writer that batches outgoing messages, and fetching values (inline from
//! the scheduler, or straight from the workers holding them).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use brisk_core::{Error, Key, Value};
use brisk_protocol::WorkerId;
use brisk_protocol::conn::MessageReader;
use brisk_protocol::messages::{FromClient, ToClient};
use brisk_protocol::spec::{WireFailure, decode_value};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;

use crate::client::Inner;
use crate::error::ClientError;
use crate::future::{Future, KeyCell, Status};

/// Small messages per frame at most: frames stay bounded however many futures are dropped at
/// once.
const FRAME_ITEMS: usize = 100_000;

/// Bytes of keys (estimated as encoded) per release frame at most: well under any peer's frame
/// limit (a scheduler may be started with a small `BRISK_MAX_FRAME`), however long the names.
const RELEASE_FRAME_BYTES: usize = 64 * 1024;

/// About how many bytes a key takes in a message.
fn key_bytes(k: &Key) -> usize {
    k.name().len() + 5 * k.index().len() + 4
}

/// What the writer needs to go on over a new connection (see `resume.rs`).
pub(crate) struct Resuming {
    /// New connections, from the reader.
    pub(crate) resumed: mpsc::UnboundedReceiver<crate::resume::Resumed>,
    pub(crate) resend: Arc<Mutex<crate::resume::Resend>>,
    pub(crate) farewell: Arc<crate::resume::Farewell>,
    pub(crate) info: crate::resume::PendingInfo,
}

pub(crate) async fn write_loop(
    mut writer: brisk_protocol::conn::MessageWriter,
    mut rx: mpsc::UnboundedReceiver<Vec<FromClient>>,
    resuming: Resuming,
) {
    let Resuming {
        mut resumed,
        resend,
        farewell,
        info,
    } = resuming;
    // The connection failed: wait for the reader to connect again (see `resume.rs`).
    let mut broken = false;
    loop {
        let batch = if broken {
            None
        } else {
            tokio::select! {
                b = rx.recv() => match b {
                    Some(b) => Some(b),
                    None => break,
                },
                r = resumed.recv() => {
                    let Some(r) = r else { break };
                    writer.shutdown().await;
                    writer = r.writer;
                    broken = !send_again(&mut writer, &resend, &info, r.received).await;
                    continue;
                }
            }
        };
        let Some(mut batch) = batch else {
            // Broken: everything waits (and is kept) until a new connection comes.
            match resumed.recv().await {
                Some(r) => {
                    writer = r.writer;
                    broken = !send_again(&mut writer, &resend, &info, r.received).await;
                    continue;
                }
                None => {
                    farewell.mark();
                    return;
                }
            }
        };
        while let Ok(more) = rx.try_recv() {
            batch.extend(more);
            if batch.len() > FRAME_ITEMS {
                break;
            }
        }
        let frames = frames_of(batch);
        {
            let mut r = resend.lock();
            for f in &frames {
                for m in f {
                    r.wrote(m);
                }
            }
        }
        for f in frames {
            let bye = f.iter().any(|m| matches!(m, FromClient::Goodbye));
            if !broken && writer.send_msg(&f).await.is_err() {
                broken = true;
            }
            if bye {
                farewell.mark();
            }
        }
    }
    farewell.mark();
    writer.shutdown().await;
}

/// After a reconnect: send the journaled messages the scheduler does not have (`received`:
/// how many it has; `None`: it lost this client's work, nothing to send again).
async fn send_again(
    writer: &mut brisk_protocol::conn::MessageWriter,
    resend: &Mutex<crate::resume::Resend>,
    info: &crate::resume::PendingInfo,
    received: Option<u64>,
) -> bool {
    let mut again = match received {
        Some(n) => resend.lock().after(n),
        None => {
            resend.lock().kept.clear();
            Vec::new()
        }
    };
    // Snapshot requests written to the old connection (it may have taken them without a word
    // before it was found dead) are asked again; an answer that comes twice is dropped.
    let mut pending: Vec<u64> = info.lock().keys().copied().collect();
    pending.sort_unstable();
    again.extend(
        pending
            .into_iter()
            .map(|request| FromClient::Info { request }),
    );
    for f in frames_of(again) {
        if writer.send_msg(&f).await.is_err() {
            return false;
        }
    }
    true
}

/// Many dropped futures become one release per frame; a graph piece is a frame of its own
/// (its size is bounded by the client's piece size).
fn frames_of(batch: Vec<FromClient>) -> Vec<Vec<FromClient>> {
    let mut frames: Vec<Vec<FromClient>> = Vec::new();
    let mut frame: Vec<FromClient> = Vec::new();
    let mut released: Vec<Key> = Vec::new();
    let mut released_bytes = 0usize;
    for m in batch {
        match m {
            FromClient::Release { keys } => {
                for k in keys {
                    released_bytes += key_bytes(&k);
                    released.push(k);
                    if released_bytes >= RELEASE_FRAME_BYTES {
                        frame.push(FromClient::Release {
                            keys: std::mem::take(&mut released),
                        });
                        frames.push(std::mem::take(&mut frame));
                        released_bytes = 0;
                    }
                }
            }
            other => {
                if !released.is_empty() {
                    frame.push(FromClient::Release {
                        keys: std::mem::take(&mut released),
                    });
                    released_bytes = 0;
                }
                if matches!(other, FromClient::GraphPiece { .. }) {
                    if !frame.is_empty() {
                        frames.push(std::mem::take(&mut frame));
                    }
                    frames.push(vec![other]);
                } else {
                    frame.push(other);
                }
            }
        }
    }
    if !released.is_empty() {
        frame.push(FromClient::Release { keys: released });
    }
    if !frame.is_empty() {
        frames.push(frame);
    }
    frames
}

pub(crate) async fn read_loop(inner: Weak<Inner>, mut reader: MessageReader) {
    loop {
        let r = reader.recv_msg::<Vec<ToClient>>().await;
        let Some(inner) = inner.upgrade() else { return };
        match r {
            Ok(msgs) => {
                for m in msgs {
                    inner.on_message(m);
                }
                inner.progress.notify_waiters();
            }
            Err(e) => {
                let journal = inner.resend.lock().journal == Some(true);
                if journal
                    && !inner.closing.load(Ordering::SeqCst)
                    && let Some(r) = inner.reconnect(&e.to_string()).await
                {
                    reader = r;
                    continue;
                }
                inner.on_disconnect(e.to_string());
                return;
            }
        }
    }
}

impl Inner {
    pub(crate) fn block_on<F>(&self, f: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        block_on_anywhere(&self.handle, f)
    }

    pub(crate) fn send(&self, msgs: Vec<FromClient>) -> Result<(), Error> {
        if self.disconnected.lock().is_some() {
            return Err(self.gone());
        }
        self.out.send(msgs).map_err(|_| self.gone())
    }

    pub(crate) fn piece_bytes(&self) -> usize {
        self.piece_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn next_graph(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn gone(&self) -> Error {
        ClientError::Disconnected {
            address: self.address.clone(),
        }
        .into()
    }

    pub(crate) fn cell(self: &Arc<Self>, key: &Key) -> Arc<KeyCell> {
        let mut cells = self.cells.lock();
        if let Some(c) = cells.get(key).and_then(Weak::upgrade) {
            return c;
        }
        let c = Arc::new(KeyCell {
            key: key.clone(),
            client: Arc::downgrade(self),
            status: Mutex::new(match self.disconnected.lock().as_ref() {
                Some(_) => Status::Erred(self.gone()),
                None => Status::Pending,
            }),
            notify: tokio::sync::Notify::new(),
        });
        cells.insert(key.clone(), Arc::downgrade(&c));
        c
    }

    pub(crate) fn forget_cell(&self, key: &Key) {
        let mut cells = self.cells.lock();
        if cells.get(key).is_some_and(|w| w.strong_count() == 0) {
            cells.remove(key);
        }
    }

    fn lookup(&self, key: &Key) -> Option<Arc<KeyCell>> {
        self.cells.lock().get(key).and_then(Weak::upgrade)
    }

    pub(crate) fn on_message(&self, m: ToClient) {
        match m {
            ToClient::Welcome { id, journal, .. } => {
                self.id.store(id, Ordering::Relaxed);
                self.resend.lock().set_journal(journal);
            }
            ToClient::Journaled { upto } => self.resend.lock().acked(upto),
            ToClient::Workers { added, removed } => {
                let mut w = self.workers.write();
                for (id, addr, _) in added {
                    w.insert(id, addr);
                }
                for id in removed {
                    w.remove(&id);
                }
            }
            ToClient::InMemory {
                key,
                who_has,
                value,
                ..
            } => {
                if let Some(c) = self.lookup(&key) {
                    // A known value with new holders (a retiring worker's copy moved):
                    // keep what was fetched already.
                    let mut s = c.status.lock();
                    if let Status::Finished {
                        who_has: known,
                        inline: None,
                        ..
                    } = &mut *s
                        && value.is_none()
                    {
                        *known = who_has;
                        return;
                    }
                    drop(s);
                    c.set(Status::Finished {
                        who_has,
                        inline: value,
                        value: None,
                    });
                }
            }
            ToClient::Erred {
                key,
                cause,
                failure,
            } => {
                if let Some(c) = self.lookup(&key) {
                    c.set(Status::Erred(task_error(&key, &cause, &failure)));
                }
            }
            ToClient::Lost { key } => {
                if let Some(c) = self.lookup(&key) {
                    c.set(Status::Pending);
                }
            }
            ToClient::Info { request, info } => {
                if let Some(tx) = self.info.lock().remove(&request) {
                    let _ = tx.send(info);
                }
            }
            ToClient::TaskStream { request, stream } => {
                if let Some(tx) = self.streams.lock().remove(&request) {
                    let _ = tx.send(stream);
                }
            }
            ToClient::Executable {
                request,
                offset,
                error,
                ..
            } => {
                if let Some(tx) = self.programs.lock().remove(&request) {
                    let _ = tx.send(match error {
                        Some(e) => Err(e),
                        None => Ok(offset),
                    });
                }
            }
        }
    }

    fn on_disconnect(&self, why: String) {
        if self.closing.load(Ordering::SeqCst) {
            tracing::debug!(scheduler = %self.address, "connection closed");
        } else {
            tracing::warn!(scheduler = %self.address, reason = %why, "lost the scheduler");
        }
        self.disconnected.lock().get_or_insert(why);
        let cells: Vec<Arc<KeyCell>> = self
            .cells
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for c in cells {
            if !c.is_done() {
                c.set(Status::Erred(self.gone()));
            }
        }
        self.info.lock().clear();
        self.streams.lock().clear();
        self.progress.notify_waiters();
    }

    /// The value of one key: inline from the scheduler, or fetched from a worker holding it.
    pub(crate) async fn value_of(&self, cell: &KeyCell) -> Result<Value, Error> {
        let mut attempts = 0;
        loop {
            let status = cell.settled().await;
            let (who_has, inline) = match status {
                Status::Erred(e) => return Err(e),
                Status::Pending => continue,
                Status::Finished { value: Some(v), .. } => return Ok(v),
                Status::Finished {
                    who_has, inline, ..
                } => (who_has, inline),
            };
            if let Some(ev) = inline {
                let v = decode_value(&ev).map_err(|source| ClientError::Codec {
                    key: cell.key.clone(),
                    source,
                })?;
                self.cache(cell, &v);
                return Ok(v);
            }
            let mut last = String::from("no worker holds it");
            for w in &who_has {
                let Some(addr) = self.workers.read().get(w).cloned() else {
                    continue;
                };
                match self.peers.get_data(&addr, vec![cell.key.clone()]).await {
                    Ok(items) => {
                        if let Some((_, Some(ev))) = items.into_iter().next() {
                            let v = decode_value(&ev).map_err(|source| ClientError::Codec {
                                key: cell.key.clone(),
                                source,
                            })?;
                            self.cache(cell, &v);
                            return Ok(v);
                        }
                        last = format!("{addr} does not have it");
                    }
                    Err(e) => {
                        self.peers.forget(&addr).await;
                        last = e.to_string();
                    }
                }
            }
            attempts += 1;
            if attempts > 100 {
                return Err(ClientError::Gather {
                    key: cell.key.clone(),
                    message: last,
                }
                .into());
            }
            // The holder may have died: the scheduler will say so and recompute.
            let notified = cell.notify.notified();
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    fn cache(&self, cell: &KeyCell, v: &Value) {
        let mut s = cell.status.lock();
        if let Status::Finished { value, inline, .. } = &mut *s {
            *value = Some(v.clone());
            *inline = None;
        }
    }

    /// Values of many futures: inline ones decoded, the rest fetched in one request per worker.
    pub(crate) async fn gather_values(
        self: &Arc<Self>,
        futures: &[Future<Value>],
    ) -> Result<Vec<Value>, Error> {
        // Wait for all, waking once per batch from the scheduler rather than once per key.
        let mut next = 0;
        while next < futures.len() {
            let notified = self.progress.notified();
            while next < futures.len() && futures[next].cell.is_done() {
                next += 1;
            }
            if next < futures.len() {
                if self.disconnected.lock().is_some() {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
            }
        }
        let mut by_worker: FxHashMap<WorkerId, Vec<usize>> = FxHashMap::default();
        for (i, f) in futures.iter().enumerate() {
            match f.cell.settled().await {
                Status::Erred(e) => return Err(e),
                Status::Finished {
                    who_has,
                    inline: None,
                    value: None,
                } => {
                    if let Some(&w) = who_has.first() {
                        by_worker.entry(w).or_default().push(i);
                    }
                }
                _ => {}
            }
        }
        let mut handles = Vec::new();
        for (w, idx) in by_worker {
            let Some(addr) = self.workers.read().get(&w).cloned() else {
                continue;
            };
            let keys: Vec<Key> = idx.iter().map(|&i| futures[i].key().clone()).collect();
            let me = Arc::clone(self);
            handles.push(self.handle.spawn(async move {
                let r = me.peers.get_data(&addr, keys).await;
                if r.is_err() {
                    me.peers.forget(&addr).await;
                }
                (idx, r)
            }));
        }
        for h in handles {
            let Ok((idx, r)) = h.await else { continue };
            let Ok(items) = r else { continue };
            for (i, (_, v)) in idx.into_iter().zip(items) {
                let Some(ev) = v else { continue };
                let cell = &futures[i].cell;
                let v = decode_value(&ev).map_err(|source| ClientError::Codec {
                    key: cell.key.clone(),
                    source,
                })?;
                self.cache(cell, &v);
            }
        }
        let mut out = Vec::with_capacity(futures.len());
        for f in futures {
            out.push(self.value_of(&f.cell).await?);
        }
        Ok(out)
    }
}

fn task_error(key: &Key, cause: &Key, failure: &WireFailure) -> Error {
    let f = Box::new(brisk_core::TaskFailure::from(failure));
    if key == cause {
        Error::TaskFailed {
            key: key.clone(),
            failure: f,
        }
    } else {
        Error::DependencyFailed {
            key: key.clone(),
            cause: cause.clone(),
            failure: f,
        }
    }
}

/// Wait for `f` on the client's own runtime from blocking code.
///
/// Called on a thread of some async runtime (a user's `#[tokio::main]`), tokio refuses to block
/// it on another runtime (a panic). There the wait happens on a short-lived thread of ours
/// instead, so every blocking client call works from async code too; it still blocks the
/// caller's thread, so async code should prefer the `*_async` methods. The client's runtime is
/// always its own, so this wait cannot starve the connection it waits for.
pub(crate) fn block_on_anywhere<F>(handle: &tokio::runtime::Handle, f: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return handle.block_on(f);
    }
    std::thread::scope(|s| match s.spawn(|| handle.block_on(f)).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}
