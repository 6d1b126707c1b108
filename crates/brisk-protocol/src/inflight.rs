//! A bound on the bytes of partly received messages across every connection of a process.
//!
//! A frame's prefix announces its size; reading it into one buffer is what keeps large
//! transfers copy-free, but it also means a peer that announces a gigabyte makes the receiver
//! reserve a gigabyte before a byte of it arrives — and many peers at once could take the
//! process's memory. (Each frame is bounded by `BRISK_MAX_FRAME`; this bounds their sum.)
//! Frames over 1 MiB take their size from one process-wide budget
//! (`BRISK_MAX_IN_FLIGHT` bytes, default 2 GiB) before their buffer is reserved and give it
//! back when complete (or when their connection is dropped); a frame that does not fit waits
//! until others complete. A frame larger than the whole budget is let through alone, so
//! nothing the frame limit allows can wait forever. Small frames (control messages) never wait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Frames up to this size do not count.
pub(crate) const SMALL: u64 = 1 << 20;

static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);
static LIMIT: AtomicU64 = AtomicU64::new(0);
static FREED: Notify = Notify::const_new();

/// The process-wide bound on bytes of partly received frames.
pub fn in_flight_limit() -> u64 {
    match LIMIT.load(Ordering::Relaxed) {
        0 => {
            let l = std::env::var("BRISK_MAX_IN_FLIGHT")
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&v| v > 0)
                .unwrap_or(2 << 30);
            LIMIT.store(l, Ordering::Relaxed);
            l
        }
        l => l,
    }
}

/// Set the bound (tests; programs use `BRISK_MAX_IN_FLIGHT`).
pub fn set_in_flight_limit(bytes: u64) {
    LIMIT.store(bytes.max(1), Ordering::Relaxed);
    FREED.notify_waiters();
}

/// Bytes of partly received frames now.
pub fn in_flight() -> u64 {
    IN_FLIGHT.load(Ordering::Relaxed)
}

/// Wait until `n` more bytes fit in the budget, and take them.
pub(crate) async fn acquire(n: u64) {
    loop {
        let notified = FREED.notified();
        let cur = IN_FLIGHT.load(Ordering::Acquire);
        if (cur == 0 || cur.saturating_add(n) <= in_flight_limit())
            && IN_FLIGHT
                .compare_exchange(cur, cur + n, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return;
        }
        // Woken when bytes are given back; the timeout only guards against a missed wake-up.
        let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
    }
}

/// Give `n` bytes back.
pub(crate) fn release(n: u64) {
    if n > 0 {
        IN_FLIGHT.fetch_sub(n, Ordering::AcqRel);
        FREED.notify_waiters();
    }
}
