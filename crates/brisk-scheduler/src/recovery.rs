//! Surviving a restart and a lost connection (see `docs/design/scheduler-state-machine.md`,
//! "Restart"): clients whose connection is gone keep their work for a while (*detached*) so
//! that they can resume it; after a restart the state is rebuilt from the journal with no
//! worker, and nothing is placed (*recovering*) until the workers that were there come back
//! and say which values they still hold ([`SchedulerState::holds`]), or a deadline passes.
//! Pure, like the rest of the state machine.

use std::time::Instant;

use brisk_core::Key;
use brisk_protocol::messages::{ToClient, ToWorker};
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{ClientId, WorkerId};
use rustc_hash::FxHashSet;

use crate::state::{Comm, SchedulerState, TaskId, TaskState};

/// Nothing is placed until these workers are back, or `until`.
pub(crate) struct Recovery {
    pub(crate) expected: FxHashSet<String>,
    pub(crate) until: Instant,
}

impl SchedulerState {
    /// Clients get `journal: true` in their welcome: they keep what they send until it is
    /// journaled and resume after losing the connection.
    pub fn set_journaled(&mut self, on: bool) {
        self.journaled = on;
    }

    /// Place nothing until every worker named in `expected` has joined again (they hold the
    /// values computed before the restart) or `until` passes.
    pub fn begin_recovery(&mut self, expected: impl IntoIterator<Item = String>, until: Instant) {
        let expected: FxHashSet<String> = expected.into_iter().collect();
        tracing::info!(
            workers = expected.len(),
            "recovering: waiting for the workers of before the restart"
        );
        self.recovering = Some(Recovery { expected, until });
    }

    /// Whether placement waits for the workers of before a restart.
    pub fn recovering(&self) -> bool {
        self.recovering.is_some()
    }

    /// A worker named `name` joined: the recovery may be over.
    pub(crate) fn recovery_saw(&mut self, name: &str, comm: &mut impl Comm) {
        let done = match &mut self.recovering {
            Some(r) => {
                r.expected.remove(name);
                r.expected.is_empty()
            }
            None => false,
        };
        if done {
            self.end_recovery(comm);
        }
    }

    /// The recovery's deadline, checked on every tick.
    pub(crate) fn recovery_tick(&mut self, now: Instant, comm: &mut impl Comm) {
        if self.recovering.as_ref().is_some_and(|r| now >= r.until) {
            if let Some(r) = &self.recovering {
                tracing::warn!(
                    missing = ?r.expected,
                    "workers of before the restart did not come back; recomputing what they held"
                );
            }
            self.end_recovery(comm);
        }
    }

    /// Start placing: what no worker holds is computed again; scattered values no worker
    /// holds are lost (they have no lineage).
    pub(crate) fn end_recovery(&mut self, comm: &mut impl Comm) {
        if self.recovering.take().is_none() {
            return;
        }
        let orphans: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.spec.is_none() && t.state == TaskState::Waiting)
            .map(|(id, _)| id)
            .collect();
        for id in orphans {
            let key = self.key(id);
            self.erred(
                id,
                key,
                WireFailure::msg(
                    "lost",
                    "this value was scattered by a client and no worker held it after the \
                     scheduler restarted; it has no lineage to recompute from",
                ),
                comm,
            );
        }
        let (held, total) = (
            self.stats.recovered,
            self.tasks.iter().filter(|(_, t)| t.spec.is_some()).count(),
        );
        tracing::info!(
            tasks = total,
            recovered = held,
            "recovered: placing what is still to compute"
        );
        self.place_no_worker(comm);
    }

    /// A scattered value arrived while no worker is there to take it (replaying a journal):
    /// it waits for a worker that still holds it ([`Self::holds`]) until the recovery ends.
    pub(crate) fn await_holder(&mut self, id: TaskId) {
        if self.t(id).state == TaskState::Released {
            self.set_state(id, TaskState::Waiting);
            self.tm(id).waiting_on = 0;
        }
    }

    /// Worker `w` joined holding these values (kept from before it lost its scheduler).
    /// Values with records become held by `w` whatever their state (a task about to be
    /// computed again needs not be); the others are freed on `w`.
    pub fn holds(&mut self, w: WorkerId, keys: Vec<(Key, u64)>, comm: &mut impl Comm) {
        let mut free = Vec::new();
        let mut taken = 0usize;
        for (key, nbytes) in keys {
            let Some(id) = self.lookup(&key) else {
                free.push(key);
                continue;
            };
            match self.t(id).state {
                TaskState::Memory | TaskState::Processing(_) => {}
                TaskState::Waiting | TaskState::NoWorker | TaskState::Queued => {
                    // As if it had been sent to `w` and finished there.
                    let p = self.t(id).priority;
                    self.queued.remove(&(p, id));
                    self.no_worker.remove(&(p, id));
                    self.set_state(id, TaskState::Processing(w));
                    self.tm(id).est_us = 0;
                    if let Some(wk) = self.workers.get_mut(&w) {
                        wk.processing.insert(id);
                    }
                }
                TaskState::Released => {
                    // Not needed by anyone now: kept only while someone wants it.
                    if self.t(id).who_wants.is_empty() {
                        free.push(key);
                        continue;
                    }
                    self.in_memory_on(id, w, nbytes);
                    let wants: Vec<ClientId> = self.t(id).who_wants.iter().copied().collect();
                    for c in wants {
                        comm.send_client(c, self.in_memory_msg(id, None));
                    }
                    self.stats.recovered += 1;
                    taken += 1;
                    continue;
                }
                _ => {
                    free.push(key);
                    continue;
                }
            }
            taken += 1;
            let done = self.stats.done;
            self.task_finished(w, &key, nbytes, None, None, comm);
            if self.stats.done > done {
                // Taken, not computed.
                self.stats.done = done;
                self.stats.recovered += 1;
            }
        }
        if !free.is_empty() {
            comm.send_worker(w, ToWorker::Free { keys: free });
        }
        if taken > 0 {
            tracing::info!(worker = w, values = taken, "a worker came back with values");
        }
        if self.recovering.is_some() {
            let name = self
                .workers
                .get(&w)
                .map(|x| x.name.clone())
                .unwrap_or_default();
            self.recovery_saw(&name, comm);
        }
    }

    /// Client `c` lost its connection but may come back until `deadline`: its work stays.
    pub fn detach_client(&mut self, c: ClientId, deadline: Instant) {
        if self.clients.contains(&c) {
            self.detached.insert(c, deadline);
        }
    }

    /// Whether `c` is a client whose connection is gone and who may resume.
    pub fn is_detached(&self, c: ClientId) -> bool {
        self.detached.contains_key(&c)
    }

    /// Detached clients whose time is up are removed (their keys released); returns them.
    pub fn expire_detached(&mut self, now: Instant, comm: &mut impl Comm) -> Vec<ClientId> {
        let gone: Vec<ClientId> = self
            .detached
            .iter()
            .filter(|(_, d)| now >= **d)
            .map(|(&c, _)| c)
            .collect();
        for &c in &gone {
            tracing::info!(client = c, "a client did not come back; releasing its work");
            self.remove_client(c, comm);
        }
        gone
    }

    /// Detached client `c` connected again. Its welcome says how many of its journaled
    /// messages are in (`received`); then it hears the workers and the state of every key it
    /// wants, as a new client of those keys would.
    pub fn resume_client(&mut self, c: ClientId, received: u64, comm: &mut impl Comm) {
        self.detached.remove(&c);
        self.welcome(c, Some(received), comm);
        let wanted: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.who_wants.contains(&c))
            .map(|(id, _)| id)
            .collect();
        for id in wanted {
            match self.t(id).state {
                TaskState::Memory => comm.send_client(c, self.in_memory_msg(id, None)),
                TaskState::Erred => {
                    if let Some(e) = self.errors.get(&id) {
                        let (cause, failure) = (e.0.clone(), e.1.clone());
                        comm.send_client(
                            c,
                            ToClient::Erred {
                                key: self.key(id),
                                cause,
                                failure,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        tracing::info!(client = c, received, "a client resumed its work");
    }
}
