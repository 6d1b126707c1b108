//! Workers join, report, fall silent and leave: the handlers of the scheduler's worker
//! connections, and the clock tick that removes silent workers. Pure, like the rest of the
//! state machine (see `state.rs` for the model, `transitions.rs` for what a lost value does).

use std::time::{Duration, Instant};

use brisk_protocol::WorkerId;
use brisk_protocol::messages::{FromWorker, ToClient, ToWorker, WorkerMetrics, WorkerRegistration};
use brisk_protocol::spec::WireFailure;
use rustc_hash::FxHashSet;

use crate::state::{Comm, SchedulerState, TaskId, TaskState, Worker};

impl SchedulerState {
    /// A worker registered.
    pub fn add_worker(
        &mut self,
        w: WorkerId,
        reg: WorkerRegistration,
        now: Instant,
        comm: &mut impl Comm,
    ) {
        tracing::info!(
            worker = %reg.name, address = %reg.peer_address, nthreads = reg.nthreads,
            "worker joined"
        );
        let clock_offset_us = self.clock_us(now) - reg.clock_us as i64;
        comm.send_worker(
            w,
            ToWorker::Registered {
                id: w,
                heartbeat_ms: self.config.heartbeat_interval.as_millis() as u64,
            },
        );
        let mut peers: Vec<(WorkerId, String)> = self
            .workers
            .iter()
            .map(|(&id, x)| (id, x.address.clone()))
            .collect();
        peers.push((w, reg.peer_address.clone()));
        comm.send_worker(
            w,
            ToWorker::Peers {
                added: peers,
                removed: vec![],
            },
        );
        for &other in self.workers.keys() {
            comm.send_worker(
                other,
                ToWorker::Peers {
                    added: vec![(w, reg.peer_address.clone())],
                    removed: vec![],
                },
            );
        }
        for &c in self.clients.iter() {
            comm.send_client(
                c,
                ToClient::Workers {
                    added: vec![(w, reg.peer_address.clone(), reg.name.clone())],
                    removed: vec![],
                },
            );
        }
        self.workers.insert(
            w,
            Worker {
                name: reg.name,
                address: reg.peer_address,
                nthreads: reg.nthreads.max(1),
                memory_limit: reg.memory_limit,
                paused: false,
                processing: FxHashSet::default(),
                has_what: FxHashSet::default(),
                occupancy_us: 0,
                last_seen: now,
                metrics: WorkerMetrics::default(),
                clock_offset_us,
                retiring: None,
            },
        );
        if self.recovering.is_some() {
            // Its values (`Holds`, always its next message) first; placement waits.
            return;
        }
        self.place_no_worker(comm);
    }

    /// A worker can take tasks again (it joined, its pause lifted, its retirement was called
    /// off): tasks that found no worker are placed, queued roots sent.
    pub(crate) fn place_no_worker(&mut self, comm: &mut impl Comm) {
        let waiting: Vec<TaskId> = std::mem::take(&mut self.no_worker)
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        for id in waiting {
            self.set_state(id, TaskState::Waiting);
            self.ready(id, comm);
        }
        self.fill_all(comm);
    }

    /// A message from worker `w`.
    pub fn handle_worker(
        &mut self,
        w: WorkerId,
        msg: FromWorker,
        now: Instant,
        comm: &mut impl Comm,
    ) {
        if let Some(wk) = self.workers.get_mut(&w) {
            wk.last_seen = now;
        } else {
            return;
        }
        self.clock_us(now);
        match msg {
            FromWorker::Register(_) => {}
            FromWorker::Holds { keys } => self.holds(w, keys, comm),
            FromWorker::Retire => self.retire_worker(w, true, comm),
            FromWorker::Finished {
                key,
                nbytes,
                timing,
                value,
            } => self.task_finished(w, &key, nbytes, timing, value, comm),
            FromWorker::Stored { key, nbytes } => {
                self.task_finished(w, &key, nbytes, None, None, comm)
            }
            FromWorker::Erred {
                key,
                failure,
                timing,
            } => self.task_erred_on(w, &key, failure, timing, comm),
            FromWorker::StealReply { key, accepted } => self.steal_reply(w, &key, accepted, comm),
            FromWorker::Missing { key, holder } => self.missing(&key, holder, comm),
            FromWorker::Heartbeat(m) => {
                let recv = self.clock_us(now);
                if let Some(wk) = self.workers.get_mut(&w) {
                    wk.clock_offset_us = wk.clock_offset_us.min(recv - m.clock_us as i64);
                    wk.metrics = m;
                }
            }
            FromWorker::Paused(p) => {
                if let Some(wk) = self.workers.get_mut(&w) {
                    if wk.paused != p {
                        tracing::info!(worker = %wk.name, paused = p, "worker memory pause");
                    }
                    // A retiring worker stays paused: it takes no new tasks.
                    wk.paused = p || wk.retiring.is_some();
                }
                if !p {
                    self.place_no_worker(comm);
                }
            }
        }
    }

    /// The scheduler itself did not run for `gap` (stopped with SIGSTOP, or busy): it could not
    /// hear anyone meanwhile, so that time does not count against the workers' heartbeats.
    /// Their heartbeats queued during the gap are read next; a worker that really died is
    /// still found, `worker_timeout` later (or at once, when its connection closes).
    pub fn scheduler_stalled(&mut self, gap: Duration, now: Instant) {
        for w in self.workers.values_mut() {
            w.last_seen = (w.last_seen + gap).min(now);
        }
    }

    /// Time passes: remove silent workers, steal work for idle ones.
    pub fn tick(&mut self, now: Instant, comm: &mut impl Comm) {
        self.clock_us(now);
        self.recovery_tick(now, comm);
        let timeout = self.config.worker_timeout;
        let silent: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| now.saturating_duration_since(w.last_seen) > timeout)
            .map(|(&id, _)| id)
            .collect();
        for w in silent {
            self.remove_worker(w, "no heartbeat", comm);
        }
        self.fill_all(comm);
        self.steal(comm);
        self.drive_retirements(true, comm);
    }

    /// A worker is gone: reschedule its tasks, recompute its lost values from lineage.
    pub fn remove_worker(&mut self, w: WorkerId, reason: &str, comm: &mut impl Comm) {
        let Some(wk) = self.workers.remove(&w) else {
            return;
        };
        let kept_elsewhere = |id: &TaskId| {
            self.t(*id)
                .who_has
                .iter()
                .any(|h| *h != w && self.workers.contains_key(h))
        };
        if wk.retiring.is_some() && wk.has_what.iter().all(kept_elsewhere) {
            // A planned exit with nothing of its own left: nothing is lost.
            self.stats.workers_retired += 1;
        } else {
            self.stats.workers_lost += 1;
        }
        tracing::info!(worker = %wk.name, address = %wk.address, reason, "worker left");
        if self.past_workers.len() >= 10_000 {
            self.past_workers.clear();
        }
        self.past_workers.insert(w, wk.name.clone());
        for &other in self.workers.keys() {
            comm.send_worker(
                other,
                ToWorker::Peers {
                    added: vec![],
                    removed: vec![w],
                },
            );
        }
        for &c in self.clients.iter() {
            comm.send_client(
                c,
                ToClient::Workers {
                    added: vec![],
                    removed: vec![w],
                },
            );
        }
        self.steals.retain(|_, (v, t)| *v != w && *t != w);
        let mut processing: Vec<TaskId> = wk.processing.into_iter().collect();
        processing.sort_unstable_by_key(|&id| self.t(id).priority);
        for &id in &processing {
            self.set_state(id, TaskState::Waiting);
        }
        let mut lost: Vec<TaskId> = Vec::new();
        for id in wk.has_what {
            let t = self.tm(id);
            t.who_has.retain(|x| *x != w);
            if t.who_has.is_empty() && t.state == TaskState::Memory {
                lost.push(id);
            }
        }
        lost.sort_unstable_by_key(|&id| self.t(id).priority);
        for id in lost {
            // An earlier loss of this batch may have forgotten it already.
            if !self.live(id) || self.t(id).state != TaskState::Memory {
                continue;
            }
            self.lose(id, comm);
        }
        for id in processing {
            if !self.live(id) || self.t(id).state != TaskState::Waiting {
                continue;
            }
            let allowed = self.config.allowed_failures;
            let t = self.tm(id);
            // Only the data a scattered value carried is lost; scatter never blames.
            if t.spec.is_some() {
                t.suspicious = t.suspicious.saturating_add(1);
            }
            if t.suspicious > allowed {
                let n = t.suspicious;
                let key = self.key(id);
                let failure = WireFailure::msg(
                    "killed-worker",
                    format!(
                        "task {key} was running on {n} workers that died (the last: {} at {}); \
                         it probably crashes its worker (allowed failures: {allowed})",
                        wk.name, wk.address
                    ),
                );
                self.erred(id, key, failure, comm);
                continue;
            }
            if self.t(id).spec.is_none() {
                self.set_state(id, TaskState::Released);
                self.make_waiting(id, comm);
                continue;
            }
            let waiting_on = self
                .t(id)
                .deps
                .iter()
                .filter(|&&d| self.t(d).state != TaskState::Memory)
                .count() as u32;
            self.tm(id).waiting_on = waiting_on;
            if waiting_on == 0 {
                self.ready(id, comm);
            }
        }
        self.fill_all(comm);
        // The workers that retire may have lost their last recipient.
        self.drive_retirements(false, comm);
    }
}
