//! Copies of another worker's values, asked for by the scheduler while that worker retires
//! ([`ToWorker::Acquire`](brisk_protocol::messages::ToWorker::Acquire)): fetch them from the
//! retiring worker's peer server, keep them in the store, and report each one that arrived
//! (the shell turns the report into `FromWorker::Stored`, which makes this worker a holder).
//! A key that does not arrive is simply not reported: the scheduler asks again after a while.

use std::sync::Arc;

use brisk_core::Key;
use brisk_protocol::peer::PeerPool;
use tokio::sync::mpsc;

use crate::metrics::Traffic;
use crate::store::DataStore;

/// Keys that arrived, with their sizes.
pub(crate) type Acquired = Vec<(Key, u64)>;

/// Fetch `keys` from the worker at `address` in the background; what arrives goes to `done`.
pub(crate) fn spawn(
    peers: Arc<PeerPool>,
    store: Arc<DataStore>,
    traffic: Arc<Traffic>,
    address: String,
    keys: Vec<Key>,
    done: mpsc::UnboundedSender<Acquired>,
) {
    tokio::spawn(async move {
        let mut got = Vec::new();
        match peers.get_data(&address, keys).await {
            Ok(items) => {
                for (k, v) in items {
                    let Some(v) = v else { continue };
                    traffic.received(v.bytes.len() as u64);
                    match store.put_encoded(k.clone(), &v) {
                        Ok(n) => got.push((k, n)),
                        Err(e) => tracing::warn!(key = %k, error = %e, "cannot keep a copy"),
                    }
                }
            }
            Err(e) => {
                tracing::warn!(peer = %address, error = %e, "copying a retiring worker's values failed");
                peers.forget(&address).await;
            }
        }
        let _ = done.send(got);
    });
}
