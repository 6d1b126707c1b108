//! What a worker measures about itself for heartbeats (and so for the dashboard): CPU use and
//! resident memory of its process (from `/proc` on Linux; zero elsewhere), and the bytes of
//! values it received and sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Bytes of values moved in and out of this worker.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl Traffic {
    pub(crate) fn received(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn sent(&self, n: u64) {
        self.bytes_out.fetch_add(n, Ordering::Relaxed);
    }
    /// (in, out) so far.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
        )
    }
}

/// CPU use of this process between two calls of [`CpuMeter::percent`].
pub(crate) struct CpuMeter {
    last: Option<(Instant, f64)>,
}

impl CpuMeter {
    pub(crate) fn new() -> Self {
        CpuMeter {
            last: cpu_seconds().map(|s| (Instant::now(), s)),
        }
    }

    /// Percent of one core used since the previous call (more than 100 with several threads
    /// busy); 0 where the operating system does not tell.
    pub(crate) fn percent(&mut self) -> f64 {
        let Some(now_cpu) = cpu_seconds() else {
            return 0.0;
        };
        let now = Instant::now();
        let out = match self.last {
            Some((t, c)) => {
                let wall = now.saturating_duration_since(t).as_secs_f64();
                if wall > 0.0 {
                    (now_cpu - c).max(0.0) / wall * 100.0
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last = Some((now, now_cpu));
        out
    }
}

/// User plus system CPU seconds of this process (Linux `/proc/self/stat`, in clock ticks of
/// 1/100 s, the value of `_SC_CLK_TCK` on every Linux platform Rust supports).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields after its ')' are plain.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Resident memory of this process in bytes (Linux `/proc/self/status`, `VmRSS` in kB, so no
/// page size is assumed; 0 elsewhere).
pub(crate) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_this_process() {
        let mut m = CpuMeter::new();
        if let Some(c0) = cpu_seconds() {
            // Burn CPU until the kernel has counted some (the machine may be busy).
            let t = Instant::now();
            let mut x = 0u64;
            while cpu_seconds().is_some_and(|c| c - c0 < 0.05) && t.elapsed().as_secs() < 10 {
                for _ in 0..100_000 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
            }
            std::hint::black_box(x);
            let p = m.percent();
            assert!(p > 0.0 && p < 1000.0, "cpu {p}");
            assert!(rss_bytes() > 1 << 20);
        }
        let t = Traffic::default();
        t.received(10);
        t.sent(3);
        t.received(5);
        assert_eq!(t.totals(), (15, 3));
    }
}
