//! Graceful retirement: a worker leaves on purpose without losing a key.
//!
//! A planned exit (a client's `retire_workers`, a deployer scaling down, SIGTERM from a batch
//! system or Kubernetes, which the worker turns into [`FromWorker::Retire`]) must not cost a
//! recomputation. Retiring a worker:
//!
//! 1. marks it retiring and paused: placement, the root queue and stealing already skip paused
//!    workers, so it gets no new task, and stealing takes the tasks it has not started;
//! 2. on every tick, asks other workers (not retiring, not paused, the least loaded first) to
//!    copy each value that no staying worker holds (two workers retiring together may share
//!    one) ([`ToWorker::Acquire`]; they answer
//!    [`FromWorker::Stored`], which adds them to the key's holders like any replica);
//! 3. once it runs nothing and holds nothing that exists nowhere else, sends it
//!    [`ToWorker::Close`] and removes it; `remove_worker` then finds nothing to lose and counts
//!    it as retired, not lost.
//!
//! Requests not answered within [`REASK_TICKS`] ticks are asked again (of a possibly different
//! worker), so a recipient that dies mid-copy does not stall the retirement. When no other
//! worker can take the values, a retirement a client asked for is called off (the worker keeps
//! working; `retiring: false` in the snapshot says so), and one the worker asked for (it is
//! leaving anyway) closes it at once: its values are then recomputed from lineage as for any
//! lost worker.
//!
//! Pure, like the rest of the state machine: no clock, driven by `tick`.

use brisk_protocol::WorkerId;
use brisk_protocol::messages::ToWorker;
use rustc_hash::FxHashMap;

use crate::state::{Comm, SchedulerState, TaskId, TaskState};

/// Ticks (100 ms each in the server) before unanswered copy requests are asked again.
pub(crate) const REASK_TICKS: u32 = 50;

/// A retiring worker's progress.
#[derive(Debug, Default)]
pub(crate) struct Retiring {
    /// Values asked of another worker and not copied yet: key → the worker asked.
    pending: FxHashMap<TaskId, WorkerId>,
    /// Ticks since the last request went out.
    ticks: u32,
    /// The worker is leaving anyway (it asked): close it even when its values cannot move.
    forced: bool,
}

impl SchedulerState {
    /// Retire the workers named (by name or peer address) gracefully. All are marked before
    /// any is checked, so workers retiring together never count on each other's copies.
    pub(crate) fn retire_named(&mut self, names: &[String], comm: &mut impl Comm) {
        let mut found = Vec::new();
        for n in names {
            let w = self
                .workers
                .iter()
                .find(|(_, w)| w.name == *n || w.address == *n)
                .map(|(&id, _)| id);
            match w {
                Some(w) => {
                    self.mark_retiring(w, false);
                    found.push(w);
                }
                None => tracing::warn!(worker = %n, "retire: no such worker"),
            }
        }
        for w in found {
            self.drive_retirement(w, false, comm);
        }
    }

    /// Start retiring worker `w` (`forced`: it is leaving anyway, see the module docs).
    pub(crate) fn retire_worker(&mut self, w: WorkerId, forced: bool, comm: &mut impl Comm) {
        self.mark_retiring(w, forced);
        self.drive_retirement(w, false, comm);
    }

    fn mark_retiring(&mut self, w: WorkerId, forced: bool) {
        let Some(wk) = self.workers.get_mut(&w) else {
            return;
        };
        match &mut wk.retiring {
            Some(r) => r.forced |= forced,
            None => {
                tracing::info!(worker = %wk.name, address = %wk.address, forced, "retiring worker");
                wk.retiring = Some(Retiring {
                    forced,
                    ..Retiring::default()
                });
                wk.paused = true;
            }
        }
    }

    /// One step of every retirement (`tick`: on a clock tick, which counts towards asking
    /// again).
    pub(crate) fn drive_retirements(&mut self, tick: bool, comm: &mut impl Comm) {
        let retiring: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.retiring.is_some())
            .map(|(&id, _)| id)
            .collect();
        for w in retiring {
            self.drive_retirement(w, tick, comm);
        }
    }

    fn drive_retirement(&mut self, w: WorkerId, tick: bool, comm: &mut impl Comm) {
        let Some(wk) = self.workers.get(&w) else {
            return;
        };
        // Values no worker that stays holds (two workers retiring together may share one).
        let mut unique: Vec<TaskId> = wk
            .has_what
            .iter()
            .copied()
            .filter(|&id| {
                let t = self.t(id);
                t.state == TaskState::Memory
                    && t.who_has.iter().all(|h| {
                        *h == w || self.workers.get(h).is_none_or(|x| x.retiring.is_some())
                    })
            })
            .collect();
        let busy = !wk.processing.is_empty();
        let forced = wk.retiring.as_ref().is_some_and(|r| r.forced);
        if unique.is_empty() && !busy {
            let name = wk.name.clone();
            tracing::info!(worker = %name, "worker retired");
            comm.send_worker(
                w,
                ToWorker::Close {
                    reason: "retired".into(),
                },
            );
            self.remove_worker(w, "retired", comm);
            return;
        }
        // Recipients, with the bytes they hold (plus what they are asked to take here).
        let mut recipients: Vec<(u64, WorkerId)> = self
            .workers
            .iter()
            .filter(|(id, x)| **id != w && x.retiring.is_none() && !x.paused)
            .map(|(&id, x)| (x.metrics.managed_bytes, id))
            .collect();
        if recipients.is_empty() {
            if forced {
                tracing::warn!(
                    worker = %wk.name,
                    "retiring worker leaves with values no other worker holds (there is no \
                     other worker): they will be recomputed"
                );
                comm.send_worker(
                    w,
                    ToWorker::Close {
                        reason: "retired (no other worker to take its values)".into(),
                    },
                );
                self.remove_worker(w, "retired without a recipient", comm);
            } else {
                tracing::warn!(
                    worker = %wk.name,
                    "cannot retire: no other worker can take its values; it keeps working"
                );
                if let Some(wk) = self.workers.get_mut(&w) {
                    wk.retiring = None;
                    // A memory pause shows again with the worker's next `Paused(true)`.
                    wk.paused = false;
                }
                self.place_no_worker(comm);
            }
            return;
        }
        unique.sort_unstable_by_key(|&id| self.t(id).priority);
        let sizes: Vec<u64> = unique.iter().map(|&id| self.t(id).nbytes).collect();
        let live: Vec<WorkerId> = recipients.iter().map(|&(_, id)| id).collect();
        let Some(r) = self.workers.get_mut(&w).and_then(|x| x.retiring.as_mut()) else {
            return;
        };
        if tick {
            r.ticks += 1;
        }
        if r.ticks >= REASK_TICKS {
            r.pending.clear();
            r.ticks = 0;
        }
        r.pending
            .retain(|id, target| unique.contains(id) && live.contains(target));
        let mut asks: FxHashMap<WorkerId, Vec<TaskId>> = FxHashMap::default();
        for (&id, &nbytes) in unique.iter().zip(&sizes) {
            if r.pending.contains_key(&id) {
                continue;
            }
            let Some(best) = recipients.iter_mut().min() else {
                break;
            };
            best.0 += nbytes;
            r.pending.insert(id, best.1);
            asks.entry(best.1).or_default().push(id);
        }
        if !asks.is_empty() {
            r.ticks = 0;
        }
        for (target, ids) in asks {
            let keys = ids.into_iter().map(|id| self.key(id)).collect();
            comm.send_worker(target, ToWorker::Acquire { keys, from: w });
        }
    }
}
