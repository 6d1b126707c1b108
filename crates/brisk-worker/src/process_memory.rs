//! Pausing on the process's memory, not only on the values the store holds — without the
//! deadlock that invites.
//!
//! Memory a task holds outside the store (a library's cache, a big intermediate, a leak) counts
//! toward the worker's limit: past `process_spill_fraction` the store spills values, past
//! `pause_fraction` the worker pauses (Dask's process-memory thresholds). But a pause only helps
//! while it lets memory drain — running tasks end, values are spilled. A worker that is paused,
//! runs nothing and has nothing left to spill cannot get its memory back by waiting: what it
//! holds is outside anyone's reach (or kept by the allocator after being freed: glibc keeps
//! freed heap memory unless trimmed, which is tried first). Dask stays paused then, forever
//! unless its nanny kills the worker; here, after [`STUCK`] in that state, the worker stops
//! counting process memory for pausing (it goes by its stored values again, logging why) until
//! the process's memory falls back under the resume level. The nanny (`--nanny`) still restarts
//! a worker whose whole memory passes its terminate fraction.

use std::time::{Duration, Instant};

/// Paused on process memory, running nothing, nothing to spill, this long: stop waiting.
pub(crate) const STUCK: Duration = Duration::from_secs(2);

/// What the pause decision goes by.
#[derive(Debug, Default)]
pub(crate) struct ProcessMemory {
    stuck_since: Option<Instant>,
    ignoring: bool,
}

/// One observation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen {
    /// The process's own memory beyond what it used at start.
    pub process: u64,
    /// Bytes of values in memory.
    pub managed: u64,
    pub paused: bool,
    pub executing: u32,
    /// The store could spill nothing more.
    pub nothing_to_spill: bool,
    /// The pause threshold, bytes.
    pub pause_bytes: u64,
}

impl ProcessMemory {
    /// The memory the pause decision should see now.
    pub(crate) fn measure(&mut self, now: Instant, s: Seen) -> u64 {
        if self.ignoring {
            // Back to normal once the process is under the resume level.
            if u128::from(s.process) * 10 < u128::from(s.pause_bytes) * 9 {
                self.ignoring = false;
            } else {
                return s.managed;
            }
        }
        // Held paused by the process: at or above the resume level (not only above the
        // threshold: between the two the pause holds too, and a pause that cannot help must
        // end there as well).
        let held_by_process = u128::from(s.process) * 10 >= u128::from(s.pause_bytes) * 9;
        let stuck = s.paused
            && s.executing == 0
            && s.nothing_to_spill
            && held_by_process
            && s.managed <= s.pause_bytes;
        if !stuck {
            self.stuck_since = None;
            return s.managed.max(s.process);
        }
        let since = *self.stuck_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= STUCK {
            tracing::warn!(
                process = s.process,
                managed = s.managed,
                "paused on memory held outside the store, with nothing running and nothing left \
                 to spill: waiting cannot free it; going on (the nanny restarts a worker past its \
                 terminate fraction)"
            );
            self.stuck_since = None;
            self.ignoring = true;
            return s.managed;
        }
        s.managed.max(s.process)
    }
}

/// Give freed heap memory back to the operating system (glibc keeps it otherwise); other
/// allocators (mimalloc in the `brisk` binary) return theirs by themselves.
#[allow(unsafe_code)] // One FFI call with no arguments to check (see SAFETY below).
pub(crate) fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's heap; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(process: u64, paused: bool, executing: u32, nothing_to_spill: bool) -> Seen {
        Seen {
            process,
            managed: 10,
            paused,
            executing,
            nothing_to_spill,
            pause_bytes: 800,
        }
    }

    #[test]
    fn a_pause_that_cannot_help_ends_and_comes_back_after_the_memory_fell() {
        let mut m = ProcessMemory::default();
        let t = Instant::now();
        // Not paused yet: the process's memory counts.
        assert_eq!(m.measure(t, seen(900, false, 0, true)), 900);
        // Paused, but a task runs (it may end and free memory): still counts.
        assert_eq!(m.measure(t, seen(900, true, 1, true)), 900);
        // Paused, nothing runs, nothing to spill: counts for STUCK, then not.
        assert_eq!(m.measure(t, seen(900, true, 0, true)), 900);
        assert_eq!(m.measure(t + STUCK / 2, seen(900, true, 0, true)), 900);
        assert_eq!(m.measure(t + STUCK, seen(900, true, 0, true)), 10);
        assert_eq!(m.measure(t + STUCK * 3, seen(900, false, 1, true)), 10);
        // The memory fell under 90 % of the threshold: it counts again.
        assert_eq!(m.measure(t + STUCK * 4, seen(700, false, 1, true)), 700);
        assert_eq!(m.measure(t + STUCK * 5, seen(950, false, 1, true)), 950);
    }

    #[test]
    fn a_pause_held_between_the_resume_level_and_the_threshold_ends_too() {
        // 750 is under the 800 threshold but over the 720 resume level: the pause holds.
        let mut m = ProcessMemory::default();
        let t = Instant::now();
        assert_eq!(m.measure(t, seen(750, true, 0, true)), 750);
        assert_eq!(m.measure(t + STUCK, seen(750, true, 0, true)), 10);
    }

    #[test]
    fn values_left_to_spill_keep_the_pause() {
        let mut m = ProcessMemory::default();
        let t = Instant::now();
        for i in 0..10 {
            assert_eq!(m.measure(t + STUCK * i, seen(900, true, 0, false)), 900);
        }
    }
}
