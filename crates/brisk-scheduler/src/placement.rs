//! Where tasks run: data locality and occupancy for placement, the root-task queue that keeps
//! wide graphs from loading all their inputs at once, and work stealing for idle workers.

use brisk_protocol::WorkerId;
use brisk_protocol::messages::ToWorker;

use crate::state::{Comm, SchedulerState, TaskId, TaskState};

impl SchedulerState {
    /// The expected duration of `id` in µs: its kind's running average, or the configured
    /// guess for kinds that have never run.
    pub(crate) fn estimate_us(&self, id: TaskId) -> u32 {
        let p = &self.prefixes[self.t(id).prefix as usize];
        let us = p
            .duration_us
            .unwrap_or(self.config.unknown_duration.as_secs_f64() * 1e6);
        us.clamp(1.0, f64::from(u32::MAX)) as u32
    }

    /// The worker where `id` can start soonest: queued work plus moving the input bytes it
    /// does not hold, over the bandwidth (Dask's `decide_worker` objective).
    pub(crate) fn decide_worker(&self, id: TaskId) -> Option<WorkerId> {
        if self.recovering.is_some() {
            return None;
        }
        let t = self.t(id);
        let mut best: Option<(f64, usize, WorkerId)> = None;
        for (&wid, w) in &self.workers {
            if w.paused {
                continue;
            }
            let mut missing_bytes = 0u64;
            for &d in &t.deps {
                let dt = self.t(d);
                if !dt.who_has.contains(&wid) {
                    missing_bytes += dt.nbytes;
                }
            }
            let start = w.occupancy_us as f64 / 1e6 / f64::from(w.nthreads)
                + missing_bytes as f64 / self.config.bandwidth;
            let cand = (start, w.processing.len(), wid);
            if best
                .as_ref()
                .is_none_or(|b| cand.0 < b.0 || (cand.0 == b.0 && (cand.1, cand.2) < (b.1, b.2)))
            {
                best = Some(cand);
            }
        }
        best.map(|b| b.2)
    }

    /// How many more root tasks worker `w` may hold: at least `saturation × nthreads`, more
    /// when the queued kind is known to be quick (about `target_queue_time` of work per
    /// thread), fewer when its results are large compared with the memory limit.
    pub(crate) fn root_slots(&self, w: WorkerId, head: Option<TaskId>) -> usize {
        let Some(wk) = self.workers.get(&w) else {
            return 0;
        };
        if wk.paused {
            return 0;
        }
        let n = f64::from(wk.nthreads);
        let base = (n * self.config.worker_saturation).ceil().max(1.0);
        let mut window = base;
        if let Some(head) = head {
            let p = &self.prefixes[self.t(head).prefix as usize];
            if let Some(d) = p.duration_us {
                let per_thread = (self.config.target_queue_time.as_secs_f64() * 1e6 / d.max(1.0))
                    .min(f64::from(self.config.max_root_per_thread));
                window = window.max(per_thread * n);
            }
            if let Some(b) = p.nbytes {
                // Outputs waiting for their consumers must fit a byte budget: a quarter of
                // the memory limit, or `root_bytes_per_thread` without one.
                let budget = if wk.memory_limit > 0 {
                    wk.memory_limit as f64 * 0.25
                } else {
                    self.config.root_bytes_per_thread as f64 * n
                };
                window = window.min((budget / b.max(1.0)).floor()).max(base);
            }
        }
        (window as usize).saturating_sub(wk.processing.len())
    }

    /// Send queued root tasks to worker `w` while it has room.
    pub(crate) fn fill(&mut self, w: WorkerId, comm: &mut impl Comm) {
        if self.queued.is_empty() || self.recovering.is_some() {
            return;
        }
        let head = self.queued.first().map(|&(_, id)| id);
        let mut slots = self.root_slots(w, head);
        while slots > 0 {
            let Some((_, id)) = self.queued.pop_first() else {
                break;
            };
            self.assign(id, w, comm);
            slots -= 1;
        }
    }

    /// Fill every worker, the least busy first.
    pub(crate) fn fill_all(&mut self, comm: &mut impl Comm) {
        if self.queued.is_empty() || self.recovering.is_some() {
            return;
        }
        let mut ws: Vec<(usize, WorkerId)> = self
            .workers
            .iter()
            .map(|(&id, w)| (w.processing.len() / w.nthreads as usize, id))
            .collect();
        ws.sort_unstable();
        // Round-robin in small steps so that a burst of roots spreads over all workers.
        loop {
            let mut any = false;
            for &(_, w) in &ws {
                let head = self.queued.first().map(|&(_, id)| id);
                let slots = self.root_slots(w, head);
                if slots == 0 {
                    continue;
                }
                let step = slots.div_ceil(4).clamp(1, 64);
                for _ in 0..step {
                    let Some((_, id)) = self.queued.pop_first() else {
                        break;
                    };
                    self.assign(id, w, comm);
                    any = true;
                }
            }
            if !any || self.queued.is_empty() {
                break;
            }
        }
    }

    /// Work stealing: each idle worker takes tasks that a busy worker has not started yet.
    pub(crate) fn steal(&mut self, comm: &mut impl Comm) {
        let idle: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.paused && w.processing.len() < w.nthreads as usize)
            .map(|(&id, _)| id)
            .collect();
        for thief in idle {
            self.steal_for(thief, comm);
        }
    }

    /// Steal for `thief` from the worker with the most queued work: the tasks that would run
    /// last there, when moving their inputs costs less than running them, until the two
    /// workers' estimated queues are about even.
    pub(crate) fn steal_for(&mut self, thief: WorkerId, comm: &mut impl Comm) {
        let Some(tw) = self.workers.get(&thief) else {
            return;
        };
        if tw.paused || tw.processing.len() >= tw.nthreads as usize {
            return;
        }
        let thief_occ = tw.occupancy_us as f64 / f64::from(tw.nthreads);
        let victim = self
            .workers
            .iter()
            .filter(|(id, _)| **id != thief)
            .map(|(&id, w)| {
                let keep = if w.paused { 0 } else { w.nthreads as usize };
                (w.processing.len().saturating_sub(keep), id)
            })
            .max();
        let Some((surplus, victim)) = victim else {
            return;
        };
        if surplus == 0 {
            return;
        }
        let Some(vw) = self.workers.get(&victim) else {
            return;
        };
        let victim_occ = vw.occupancy_us as f64 / f64::from(vw.nthreads);
        // Half the difference in queued time per thread moves over (at least one task).
        let target_us = ((victim_occ - thief_occ) / 2.0).max(0.0) * f64::from(tw.nthreads);
        let max_count = surplus.div_ceil(2).max(1);
        let mut cands: Vec<(u64, TaskId)> = vw
            .processing
            .iter()
            .filter(|id| !self.steals.contains_key(id))
            .map(|&id| (self.t(id).priority, id))
            .collect();
        cands.sort_unstable_by(|a, b| b.cmp(a));
        let mut taken = 0;
        let mut moved_us = 0.0;
        for (_, id) in cands {
            if taken >= max_count || (taken > 0 && moved_us >= target_us) {
                break;
            }
            let t = self.t(id);
            if t.spec.is_none() {
                continue;
            }
            let bytes: u64 = t
                .deps
                .iter()
                .filter(|&&d| !self.t(d).who_has.contains(&thief))
                .map(|&d| self.t(d).nbytes)
                .sum();
            let est = f64::from(self.estimate_us(id));
            let transfer_us = bytes as f64 / self.config.bandwidth * 1e6;
            if transfer_us > 2.0 * est + 1000.0 {
                continue;
            }
            let key = self.key(id);
            self.steals.insert(id, (victim, thief));
            comm.send_worker(victim, ToWorker::Steal { key });
            taken += 1;
            moved_us += est;
        }
    }

    pub(crate) fn steal_reply(
        &mut self,
        w: WorkerId,
        key: &brisk_core::Key,
        accepted: bool,
        comm: &mut impl Comm,
    ) {
        let Some(id) = self.lookup(key) else {
            return;
        };
        let record = self.steals.remove(&id);
        if !accepted || self.t(id).state != TaskState::Processing(w) {
            return;
        }
        // The worker dropped the task: it must run somewhere, even if the steal was called
        // off meanwhile (its thief died).
        let est = u64::from(self.t(id).est_us);
        if let Some(vw) = self.workers.get_mut(&w) {
            vw.processing.remove(&id);
            vw.occupancy_us = vw.occupancy_us.saturating_sub(est);
        }
        self.stats.stolen += 1;
        self.set_state(id, TaskState::Waiting);
        let thief = record
            .filter(|(victim, _)| *victim == w)
            .map(|(_, thief)| thief)
            .filter(|t| self.workers.get(t).is_some_and(|x| !x.paused));
        match thief {
            Some(t) => self.assign(id, t, comm),
            None => self.ready(id, comm),
        }
        let victim = w;
        self.fill(victim, comm);
    }
}
