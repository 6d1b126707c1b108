//! The scheduler's line to one client: the writer's queue, how many messages wait in it, and
//! the switch that closes the connection when a client stops reading (see the scheduler note,
//! "A client that does not read").

use std::sync::Arc;

use brisk_protocol::messages::ToClient;
use tokio::sync::{mpsc, watch};

/// The way to one client: its writer's queue, and how many messages wait in it.
#[derive(Clone)]
pub(crate) struct ClientLine {
    pub(crate) tx: mpsc::UnboundedSender<Vec<ToClient>>,
    pub(crate) queued: Arc<std::sync::atomic::AtomicUsize>,
    /// Set to close the connection (both directions) from the scheduler's side.
    pub(crate) kick: Arc<watch::Sender<bool>>,
}

/// A client with more messages than this waiting to be written (it does not read them) is
/// disconnected instead of buffered without bound (`BRISK_CLIENT_QUEUE_LIMIT`).
pub(crate) fn client_queue_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("BRISK_CLIENT_QUEUE_LIMIT")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(4_000_000)
    })
}
