//! Resuming after the scheduler connection is lost, when the scheduler journals
//! (`brisk scheduler --journal`; see `docs/design/scheduler-state-machine.md`, "Restart").
//!
//! The client numbers the messages the scheduler journals ([`FromClient::is_journaled`]) in
//! the order it writes them and keeps each until the scheduler says it is journaled
//! ([`ToClient::Journaled`]). When the connection drops, the futures stay pending while the
//! client connects again (every 200 ms, for [`reconnect_timeout`]) asking to resume its id;
//! the scheduler's welcome says how many of its messages it has, the client sends the rest
//! again, and the scheduler sends the state of every key the client wants. Only when the
//! scheduler cannot be reached in time, or answers that it does not have the client's work
//! (it restarted without a journal, or after the client's grace ran out), do the futures fail.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brisk_protocol::conn::{MessageReader, MessageWriter};
use brisk_protocol::messages::{FromClient, Role, ToClient};
use parking_lot::{Condvar, Mutex};

use crate::client::Inner;
use crate::future::Status;

/// How long a client tries to reach its scheduler again after losing it (journaling
/// schedulers only): 60 s, or `BRISK_RECONNECT_TIMEOUT` seconds.
pub(crate) fn reconnect_timeout() -> Duration {
    std::env::var("BRISK_RECONNECT_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(60), Duration::from_secs_f64)
}

/// Snapshot requests waiting for their answer, by request number.
pub(crate) type PendingInfo = Arc<
    Mutex<
        rustc_hash::FxHashMap<
            u64,
            tokio::sync::oneshot::Sender<brisk_protocol::messages::ClusterInfo>,
        >,
    >,
>;

/// Messages the scheduler may not have journaled yet.
#[derive(Default)]
pub(crate) struct Resend {
    /// Whether the scheduler journals (unknown until its welcome: keep everything till then).
    pub(crate) journal: Option<bool>,
    /// Journaled messages written so far.
    pub(crate) written: u64,
    /// Messages `written - kept.len() + 1 ..= written`.
    pub(crate) kept: VecDeque<FromClient>,
}

impl Resend {
    /// A message was written.
    pub(crate) fn wrote(&mut self, m: &FromClient) {
        if !m.is_journaled() || self.journal == Some(false) {
            return;
        }
        self.written += 1;
        self.kept.push_back(m.clone());
    }

    /// The scheduler has the first `upto` messages.
    pub(crate) fn acked(&mut self, upto: u64) {
        let first = self.written - self.kept.len() as u64;
        let drop = upto.saturating_sub(first).min(self.kept.len() as u64);
        self.kept.drain(..drop as usize);
    }

    /// The messages to send again to a scheduler that has the first `received`.
    pub(crate) fn after(&mut self, received: u64) -> Vec<FromClient> {
        self.acked(received);
        self.kept.iter().cloned().collect()
    }

    /// The scheduler said whether it journals.
    pub(crate) fn set_journal(&mut self, on: bool) {
        self.journal = Some(on);
        if !on {
            self.kept.clear();
        }
    }
}

/// A new connection for the writer; it first sends again what the scheduler does not have
/// (`received`: how many journaled messages it has; `None`: it lost this client's work).
pub(crate) struct Resumed {
    pub(crate) writer: MessageWriter,
    pub(crate) received: Option<u64>,
}

/// Set once the writer has sent a [`FromClient::Goodbye`].
#[derive(Default)]
pub(crate) struct Farewell {
    sent: Mutex<bool>,
    cv: Condvar,
}

impl Farewell {
    pub(crate) fn mark(&self) {
        *self.sent.lock() = true;
        self.cv.notify_all();
    }

    /// Wait up to `limit` for the goodbye to be written.
    pub(crate) fn wait(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut g = self.sent.lock();
        while !*g {
            if self.cv.wait_until(&mut g, deadline).timed_out() {
                break;
            }
        }
    }
}

impl Inner {
    /// Connect again and resume; `None` when the scheduler stays out of reach (the caller
    /// fails the futures).
    pub(crate) async fn reconnect(self: &Arc<Self>, why: &str) -> Option<MessageReader> {
        let limit =
            Duration::from_millis(self.reconnect_ms.load(std::sync::atomic::Ordering::Relaxed));
        let id = self.id.load(std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(
            scheduler = %self.address, reason = %why, seconds = limit.as_secs_f64(),
            "lost the scheduler; reconnecting to resume this client's work"
        );
        // Requests in flight get no answer from this connection: snapshots are asked again on
        // the next one (the writer does it when it switches); the rarer ones fail now.
        self.streams.lock().clear();
        self.programs.lock().clear();
        let start = Instant::now();
        let mut last = why.to_string();
        loop {
            // Closed, or every handle dropped (only this task holds it).
            if self.closing.load(std::sync::atomic::Ordering::SeqCst)
                || Arc::strong_count(self) <= 1
            {
                return None;
            }
            if start.elapsed() >= limit {
                *self.disconnected.lock() = Some(format!(
                    "lost the scheduler and could not reach it again within {:.0} s ({last})",
                    limit.as_secs_f64()
                ));
                return None;
            }
            let attempt = brisk_protocol::conn::connect_resuming(
                &self.addr,
                &self.security,
                Role::Client,
                &self.name,
                Some(id),
            )
            .await;
            let conn = match attempt {
                Ok(c) => c,
                Err(e) => {
                    last = e.to_string();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let brisk_protocol::conn::Connection {
                mut reader, writer, ..
            } = conn;
            let first = match reader.recv_msg::<Vec<ToClient>>().await {
                Ok(m) => m,
                Err(e) => {
                    last = e.to_string();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            self.workers.write().clear();
            let mut received = None;
            let mut rest = Vec::new();
            for m in first {
                match m {
                    ToClient::Welcome {
                        id: new,
                        journal,
                        resumed,
                    } => {
                        self.resumed(new, journal, resumed);
                        received = resumed;
                    }
                    other => rest.push(other),
                }
            }
            for m in rest {
                self.on_message(m);
            }
            if self.resume_tx.send(Resumed { writer, received }).is_err() {
                return None;
            }
            self.progress.notify_waiters();
            return Some(reader);
        }
    }

    /// The welcome of the reconnection.
    fn resumed(&self, new: u32, journal: bool, resumed: Option<u64>) {
        self.id.store(new, std::sync::atomic::Ordering::Relaxed);
        self.resend.lock().set_journal(journal);
        // Values known to be on workers may have moved: hear their holders again.
        let cells: Vec<_> = self
            .cells
            .lock()
            .values()
            .filter_map(std::sync::Weak::upgrade)
            .collect();
        match resumed {
            Some(_) => {
                tracing::info!(scheduler = %self.address, "reconnected; this client's work goes on");
                for c in cells {
                    let mut s = c.status.lock();
                    if matches!(
                        &*s,
                        Status::Finished {
                            value: None,
                            inline: None,
                            ..
                        }
                    ) {
                        *s = Status::Pending;
                    }
                }
            }
            None => {
                let message = "the scheduler was reached again but no longer has this client's \
                               work (it restarted without --journal, or after this client's \
                               grace period)";
                tracing::warn!(scheduler = %self.address, "{message}");
                let e: brisk_core::Error = crate::error::ClientError::WorkLost {
                    address: self.address.clone(),
                    message: message.into(),
                }
                .into();
                for c in cells {
                    if !c.is_done() {
                        c.set(Status::Erred(e.clone()));
                    }
                }
            }
        }
    }

    /// Tell a journaling scheduler this client leaves for good (its work is released at once
    /// rather than kept for it to resume), waiting a moment for the message to be written.
    pub(crate) fn goodbye(&self) {
        let journal = self.resend.lock().journal == Some(true);
        if !journal
            || self.disconnected.lock().is_some()
            || self
                .said_goodbye
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        if self.out.send(vec![FromClient::Goodbye]).is_ok() {
            self.farewell.wait(Duration::from_millis(500));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(n: usize) -> FromClient {
        FromClient::Release {
            keys: vec![brisk_core::Key::from(format!("k{n}").as_str())],
        }
    }

    #[test]
    fn resend_keeps_what_is_not_journaled() {
        let mut r = Resend::default();
        for i in 0..5 {
            r.wrote(&rel(i));
        }
        r.wrote(&FromClient::Info { request: 1 });
        assert_eq!(r.written, 5);
        r.set_journal(true);
        r.acked(2);
        assert_eq!(r.kept.len(), 3);
        // An old ack changes nothing; the scheduler has 4: one to send again.
        r.acked(1);
        let again = r.after(4);
        assert_eq!(again.len(), 1);
        assert!(matches!(&again[0], FromClient::Release { keys } if keys[0].to_string() == "k4"));
        r.wrote(&rel(5));
        assert_eq!(r.after(6).len(), 0);
        r.set_journal(false);
        r.wrote(&rel(6));
        assert!(r.kept.is_empty());
    }
}
