//! Every wait ends: when the cluster has had no workers for `BRISK_NO_WORKERS_TIMEOUT` seconds
//! (default 300; 0 waits forever) while some of this client's futures are pending, those
//! futures fail with [`ClientError::NoWorkers`] instead of waiting without bound (Dask's
//! `no-workers-timeout`, which Dask leaves off by default). The client knows the worker set
//! from the scheduler's `Workers` messages; a watchdog on the client's runtime looks once a
//! second. Workers joining reset the clock, so a cluster that is still starting up has the
//! whole timeout to get its first worker.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::client::Inner;
use crate::error::ClientError;
use crate::future::Status;

/// The timeout from the environment in milliseconds (0: wait forever).
pub(crate) fn timeout_ms_from_env() -> u64 {
    let secs = std::env::var("BRISK_NO_WORKERS_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(300.0);
    if secs > 0.0 && secs.is_finite() {
        (secs * 1000.0).max(1.0) as u64
    } else {
        0
    }
}

/// Watch `inner` until the client goes away.
pub(crate) async fn watchdog(inner: Weak<Inner>) {
    let mut since: Option<Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(inner) = inner.upgrade() else { return };
        let ms = inner
            .no_workers_timeout_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        if ms == 0 || !inner.workers.read().is_empty() {
            since = None;
            continue;
        }
        let pending = pending_cells(&inner);
        if pending.is_empty() {
            since = None;
            continue;
        }
        let start = *since.get_or_insert_with(Instant::now);
        if start.elapsed() < Duration::from_millis(ms) {
            continue;
        }
        for cell in pending {
            let e = ClientError::NoWorkers {
                address: inner.address.clone(),
                seconds: start.elapsed().as_secs(),
                key: cell.key.clone(),
            };
            cell.set(Status::Erred(e.into()));
        }
        since = None;
    }
}

fn pending_cells(inner: &Inner) -> Vec<Arc<crate::future::KeyCell>> {
    inner
        .cells
        .lock()
        .values()
        .filter_map(Weak::upgrade)
        .filter(|c| !c.is_done())
        .collect()
}
