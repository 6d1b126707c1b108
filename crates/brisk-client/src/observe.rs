//! Watching a cluster from a client: the dashboard's link and the task stream (when and where
//! tasks ran), which performance reports are made of.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use brisk_core::Error;
use brisk_protocol::messages::{FromClient, TaskStream};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::client::{Client, Inner};

/// The client most recently made the default scheduler.
pub(crate) static DEFAULT: Mutex<Option<Weak<Inner>>> = Mutex::new(None);

impl Client {
    /// The client that is the process-wide default scheduler now (the latest one
    /// [`Client::set_as_default`] was called on, while it is still the default), if any.
    pub fn current() -> Option<Client> {
        let inner = DEFAULT.lock().as_ref()?.upgrade()?;
        inner
            .is_default
            .load(Ordering::SeqCst)
            .then_some(Client { inner })
    }

    /// The address of the cluster's live dashboard (`http://host:8787/status`), when the
    /// scheduler serves one. When the cluster has a token the link carries it
    /// (`…/status?token=…`, like Jupyter's): opening it logs the browser in with a cookie and
    /// the page drops the token from the address bar. Share it only with whoever may use the
    /// cluster.
    ///
    /// ```no_run
    /// let client = brisk_client::Client::connect("tcp://127.0.0.1:8786")?;
    /// if let Some(link) = client.dashboard_link() {
    ///     println!("watch it at {link}");
    /// }
    /// # Ok::<(), brisk_core::Error>(())
    /// ```
    pub fn dashboard_link(&self) -> Option<String> {
        let cached = self.inner.dashboard.lock().clone();
        let link = match cached {
            Some(d) => d,
            None => {
                let base = self.scheduler_info().ok()?.dashboard?;
                let link = format!("{}/status", base.trim_end_matches('/'));
                *self.inner.dashboard.lock() = Some(link.clone());
                link
            }
        };
        Some(match self.inner.peers.security().token.as_deref() {
            Some(t) if !link.contains("token=") => format!("{link}?token={}", url_escape(t)),
            _ => link,
        })
    }

    /// Start recording the task stream: the scheduler keeps every task span from now on (not
    /// only its recent window) until [`Client::task_stream`]. The reply's `cursor` is where
    /// the recording starts and its `time` the scheduler's clock now.
    pub fn record_task_stream(&self) -> Result<TaskStream, Error> {
        self.ask_task_stream(u64::MAX, true)
    }

    /// The task spans from position `since` on (a cursor from [`Client::record_task_stream`]
    /// or an earlier call); ends this client's recording. Without a recording the scheduler
    /// logs spans only while a dashboard page is open, and keeps only its recent window;
    /// `dropped` counts what was lost.
    pub fn task_stream(&self, since: u64) -> Result<TaskStream, Error> {
        self.ask_task_stream(since, false)
    }

    fn ask_task_stream(&self, since: u64, keep: bool) -> Result<TaskStream, Error> {
        let (tx, rx) = oneshot::channel();
        let request = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.inner.streams.lock().insert(request, tx);
        self.inner.send(vec![FromClient::TaskStream {
            request,
            since,
            keep,
        }])?;
        self.inner.block_on(async {
            match tokio::time::timeout(Duration::from_secs(60), rx).await {
                Ok(Ok(s)) => Ok(s),
                _ => Err(self.inner.gone()),
            }
        })
    }
}

/// `text` with everything but unreserved URL characters percent-encoded.
fn url_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
