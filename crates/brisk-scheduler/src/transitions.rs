//! The transitions of the task state machine (see `docs/design/scheduler-state-machine.md`).

use brisk_core::Key;
use brisk_protocol::messages::{
    ComputeTask, DepInfo, EncodedValue, TaskTiming, ToClient, ToWorker,
};
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{ClientId, WorkerId};

use crate::state::{Comm, SchedulerState, TaskId, TaskState};

impl SchedulerState {
    pub(crate) fn scatter(
        &mut self,
        c: ClientId,
        items: Vec<(Key, EncodedValue)>,
        comm: &mut impl Comm,
    ) {
        for (i, (key, value)) in items.into_iter().enumerate() {
            let id = match self.lookup(&key) {
                Some(id) => id,
                None => self.new_task(&key, None, u64::MAX),
            };
            {
                let t = self.tm(id);
                if !t.who_wants.contains(&c) {
                    t.who_wants.push(c);
                }
            }
            if self.t(id).state == TaskState::Memory {
                let msg = self.in_memory_msg(id, None);
                comm.send_client(c, msg);
                continue;
            }
            if self.t(id).state.needs_deps() {
                continue;
            }
            if self.recovering.is_some() && self.workers.is_empty() {
                // Replaying a journal: a worker that kept the value will say so.
                self.await_holder(id);
                continue;
            }
            // Spread scattered values over workers, fewest bytes first.
            let target = self
                .workers
                .iter()
                .filter(|(_, w)| !w.paused)
                .min_by_key(|(id, w)| {
                    (
                        w.metrics.managed_bytes + w.has_what.len() as u64,
                        (**id as usize + i) % 7,
                    )
                })
                .map(|(&id, _)| id);
            let Some(w) = target else {
                self.erred(
                    id,
                    key.clone(),
                    WireFailure::msg("error", "scatter: the cluster has no running worker"),
                    comm,
                );
                continue;
            };
            self.set_state(id, TaskState::Processing(w));
            if let Some(wk) = self.workers.get_mut(&w) {
                wk.processing.insert(id);
            }
            comm.send_worker(w, ToWorker::Store { key, value });
        }
    }

    /// Released → Waiting (and further, when its dependencies are in memory). Recomputes
    /// released dependencies from lineage.
    pub(crate) fn make_waiting(&mut self, id: TaskId, comm: &mut impl Comm) {
        let mut stack = vec![id];
        let mut ready: Vec<TaskId> = Vec::new();
        while let Some(id) = stack.pop() {
            if !self.live(id) || self.t(id).state != TaskState::Released {
                continue;
            }
            if self.t(id).spec.is_none() {
                let key = self.key(id);
                self.erred(
                    id,
                    key,
                    WireFailure::msg(
                        "lost",
                        "this value was scattered by a client and the worker holding it is \
                         gone; it has no lineage to recompute from",
                    ),
                    comm,
                );
                continue;
            }
            let deps = self.t(id).deps.clone();
            let mut waiting_on = 0;
            let mut failed: Option<(Key, WireFailure)> = None;
            for &d in &deps {
                let dt = self.t(d);
                match dt.state {
                    TaskState::Memory => {}
                    TaskState::Erred => {
                        if let Some(e) = self.errors.get(&d) {
                            failed = Some((e.0.clone(), e.1.clone()));
                        }
                    }
                    TaskState::Released => {
                        waiting_on += 1;
                        stack.push(d);
                    }
                    _ => waiting_on += 1,
                }
            }
            if let Some((cause, failure)) = failed {
                self.erred(id, cause, failure, comm);
                continue;
            }
            for &d in &deps {
                self.tm(d).waiters += 1;
            }
            self.set_state(id, TaskState::Waiting);
            self.tm(id).waiting_on = waiting_on;
            if waiting_on == 0 {
                ready.push(id);
            }
        }
        for id in ready {
            if self.live(id) && self.t(id).state == TaskState::Waiting && self.t(id).waiting_on == 0
            {
                self.ready(id, comm);
            }
        }
    }

    /// All dependencies are in memory: queue a root task, or send it to a worker.
    pub(crate) fn ready(&mut self, id: TaskId, comm: &mut impl Comm) {
        let t = self.t(id);
        if t.deps.is_empty() {
            let p = t.priority;
            self.set_state(id, TaskState::Queued);
            self.queued.insert((p, id));
            return;
        }
        match self.decide_worker(id) {
            Some(w) => self.assign(id, w, comm),
            None => {
                let p = self.t(id).priority;
                self.set_state(id, TaskState::NoWorker);
                self.no_worker.insert((p, id));
            }
        }
    }

    pub(crate) fn assign(&mut self, id: TaskId, w: WorkerId, comm: &mut impl Comm) {
        let est = self.estimate_us(id);
        let send_result = {
            let t = self.t(id);
            !t.who_wants.is_empty()
        };
        let (key, spec, priority, deps) = {
            let t = self.t(id);
            let deps: Vec<DepInfo> = t
                .deps
                .iter()
                .map(|&d| {
                    let dt = self.t(d);
                    DepInfo {
                        key: self.names.key(&dt.key),
                        nbytes: dt.nbytes,
                        who_has: dt.who_has.to_vec(),
                    }
                })
                .collect();
            (
                self.names.key(&t.key),
                brisk_protocol::Payload::from(bytes::Bytes::copy_from_slice(
                    self.specs.get(t.spec),
                )),
                t.priority,
                deps,
            )
        };
        self.set_state(id, TaskState::Processing(w));
        self.tm(id).est_us = est;
        if let Some(wk) = self.workers.get_mut(&w) {
            wk.processing.insert(id);
            wk.occupancy_us += u64::from(est);
        }
        comm.send_worker(
            w,
            ToWorker::Compute(ComputeTask {
                key,
                spec,
                priority,
                deps,
                send_result,
            }),
        );
    }

    pub(crate) fn leave_processing(&mut self, id: TaskId) {
        if let TaskState::Processing(w) = self.t(id).state {
            let est = u64::from(self.t(id).est_us);
            if let Some(wk) = self.workers.get_mut(&w)
                && wk.processing.remove(&id)
            {
                wk.occupancy_us = wk.occupancy_us.saturating_sub(est);
            }
        }
        self.steals.remove(&id);
    }

    /// A task left the states that need its dependencies: they may be released.
    fn leave_needs(&mut self, id: TaskId, comm: &mut impl Comm) {
        let deps = self.t(id).deps.clone();
        for d in deps {
            let dt = self.tm(d);
            dt.waiters = dt.waiters.saturating_sub(1);
            self.maybe_release(d, comm);
        }
    }

    pub(crate) fn in_memory_msg(&self, id: TaskId, value: Option<EncodedValue>) -> ToClient {
        let t = self.t(id);
        ToClient::InMemory {
            key: self.names.key(&t.key),
            nbytes: t.nbytes,
            who_has: t.who_has.to_vec(),
            value,
        }
    }

    pub(crate) fn task_finished(
        &mut self,
        w: WorkerId,
        key: &Key,
        nbytes: u64,
        timing: Option<TaskTiming>,
        mut value: Option<EncodedValue>,
        comm: &mut impl Comm,
    ) {
        let id = self.lookup(key);
        if let Some(t) = timing {
            let prefix = id.map(|id| self.t(id).prefix);
            self.record_span(w, key, prefix, t, true);
        }
        let Some(id) = id else {
            comm.send_worker(
                w,
                ToWorker::Free {
                    keys: vec![key.clone()],
                },
            );
            return;
        };
        match self.t(id).state {
            TaskState::Processing(p) => {
                if p != w {
                    comm.send_worker(
                        p,
                        ToWorker::Free {
                            keys: vec![key.clone()],
                        },
                    );
                }
            }
            TaskState::Memory => {
                if !self.t(id).who_has.contains(&w) {
                    self.tm(id).who_has.push(w);
                    if let Some(wk) = self.workers.get_mut(&w) {
                        wk.has_what.insert(id);
                    }
                    // A new copy (a retiring worker's value moved here): clients that want
                    // the key learn where else to fetch it.
                    let clients: Vec<ClientId> = self.t(id).who_wants.iter().copied().collect();
                    for c in clients {
                        comm.send_client(c, self.in_memory_msg(id, None));
                    }
                }
                return;
            }
            _ => {
                comm.send_worker(
                    w,
                    ToWorker::Free {
                        keys: vec![key.clone()],
                    },
                );
                return;
            }
        }
        self.leave_processing(id);
        self.stats.done += 1;
        self.in_memory_on(id, w, nbytes);
        let prefix = self.t(id).prefix as usize;
        let p = &mut self.prefixes[prefix];
        p.done += 1;
        if let Some(d) = timing.map(|t| t.duration_us()) {
            let d = d as f64;
            p.duration_us = Some(p.duration_us.map_or(d, |old| 0.5 * old + 0.5 * d));
        }
        let b = nbytes as f64;
        p.nbytes = Some(p.nbytes.map_or(b, |old| 0.5 * old + 0.5 * b));
        self.leave_needs(id, comm);
        let dependents = self.t(id).dependents.clone();
        for d in dependents {
            let dt = self.tm(d);
            if dt.state == TaskState::Waiting {
                dt.waiting_on = dt.waiting_on.saturating_sub(1);
                if dt.waiting_on == 0 {
                    self.ready(d, comm);
                }
            }
        }
        let wants = self.t(id).who_wants.clone();
        for (i, &c) in wants.iter().enumerate() {
            let v = if i + 1 == wants.len() {
                value.take()
            } else {
                value.clone()
            };
            let msg = self.in_memory_msg(id, v);
            comm.send_client(c, msg);
        }
        self.maybe_release(id, comm);
        self.fill(w, comm);
        // A worker running dry takes work from a busy one now rather than at the next tick.
        if self.queued.is_empty()
            && self
                .workers
                .get(&w)
                .is_some_and(|x| x.processing.len() < x.nthreads as usize)
        {
            self.steal_for(w, comm);
        }
    }

    /// `id` is in memory, held by `w` only.
    pub(crate) fn in_memory_on(&mut self, id: TaskId, w: WorkerId, nbytes: u64) {
        self.set_state(id, TaskState::Memory);
        let t = self.tm(id);
        t.nbytes = nbytes;
        t.who_has.clear();
        t.who_has.push(w);
        if let Some(wk) = self.workers.get_mut(&w) {
            wk.has_what.insert(id);
        }
    }

    pub(crate) fn task_erred_on(
        &mut self,
        w: WorkerId,
        key: &Key,
        failure: WireFailure,
        timing: Option<TaskTiming>,
        comm: &mut impl Comm,
    ) {
        let id = self.lookup(key);
        if let Some(t) = timing {
            let prefix = id.map(|id| self.t(id).prefix);
            self.record_span(w, key, prefix, t, false);
        }
        let Some(id) = id else {
            return;
        };
        if self.t(id).state != TaskState::Processing(w) {
            return;
        }
        self.leave_processing(id);
        if self.t(id).retries > 0 {
            self.tm(id).retries -= 1;
            self.set_state(id, TaskState::Waiting);
            self.ready(id, comm);
        } else {
            self.erred(id, key.clone(), failure, comm);
        }
        self.fill(w, comm);
    }

    /// Mark `id` and everything waiting on it as failed because of `cause`.
    pub(crate) fn erred(
        &mut self,
        id: TaskId,
        cause: Key,
        failure: WireFailure,
        comm: &mut impl Comm,
    ) {
        let mut stack = vec![id];
        let mut done = Vec::new();
        while let Some(id) = stack.pop() {
            let state = self.t(id).state;
            if state == TaskState::Erred || state == TaskState::Memory {
                continue;
            }
            self.leave_processing(id);
            if let TaskState::Queued = state {
                let p = self.t(id).priority;
                self.queued.remove(&(p, id));
            }
            if let TaskState::NoWorker = state {
                let p = self.t(id).priority;
                self.no_worker.remove(&(p, id));
            }
            if let TaskState::Processing(w) = state {
                comm.send_worker(
                    w,
                    ToWorker::Free {
                        keys: vec![self.key(id)],
                    },
                );
            }
            self.stats.erred += 1;
            done.push(id);
            self.set_state(id, TaskState::Erred);
            let p = self.t(id).prefix as usize;
            self.prefixes[p].erred += 1;
            self.errors
                .insert(id, Box::new((cause.clone(), failure.clone())));
            if state.needs_deps() {
                self.leave_needs(id, comm);
            }
            let t = self.t(id);
            for &c in &t.who_wants {
                comm.send_client(
                    c,
                    ToClient::Erred {
                        key: self.names.key(&t.key),
                        cause: cause.clone(),
                        failure: failure.clone(),
                    },
                );
            }
            for &d in &t.dependents {
                if self.t(d).state.needs_deps() || self.t(d).state == TaskState::Released {
                    stack.push(d);
                }
            }
        }
        // Dependents first, so that forgetting cascades down to `id`.
        for id in done.into_iter().rev().chain(std::iter::once(id)) {
            self.maybe_forget(id);
        }
    }

    /// Drop what nobody needs: data of a task in memory, or the work of a pending task.
    pub(crate) fn maybe_release(&mut self, id: TaskId, comm: &mut impl Comm) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            if !self.live(id) {
                continue;
            }
            let t = self.t(id);
            if !t.who_wants.is_empty() || t.waiters > 0 || t.pinned {
                continue;
            }
            match t.state {
                TaskState::Memory => {
                    let key = self.names.key(&t.key);
                    let holders = std::mem::take(&mut self.tm(id).who_has);
                    for w in holders {
                        if let Some(wk) = self.workers.get_mut(&w) {
                            wk.has_what.remove(&id);
                        }
                        comm.send_worker(
                            w,
                            ToWorker::Free {
                                keys: vec![key.clone()],
                            },
                        );
                    }
                    self.set_state(id, TaskState::Released);
                }
                s if s.needs_deps() => {
                    // Cancelled: nobody wants it any more.
                    if let TaskState::Processing(w) = s {
                        comm.send_worker(
                            w,
                            ToWorker::Free {
                                keys: vec![self.names.key(&t.key)],
                            },
                        );
                    }
                    let p = t.priority;
                    self.queued.remove(&(p, id));
                    self.no_worker.remove(&(p, id));
                    self.leave_processing(id);
                    self.set_state(id, TaskState::Released);
                    let deps = self.t(id).deps.clone();
                    for d in deps {
                        let dt = self.tm(d);
                        dt.waiters = dt.waiters.saturating_sub(1);
                        stack.push(d);
                    }
                }
                _ => {}
            }
            self.maybe_forget(id);
        }
    }

    /// Remove the record of a task nobody refers to any more.
    pub(crate) fn maybe_forget(&mut self, id: TaskId) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            if !self.live(id) {
                continue;
            }
            let t = self.t(id);
            if !t.who_wants.is_empty()
                || t.waiters > 0
                || t.pinned
                || !t.dependents.is_empty()
                || !matches!(t.state, TaskState::Released | TaskState::Erred)
            {
                continue;
            }
            let Some(t) = self.remove_task(id) else {
                continue;
            };
            for d in t.deps {
                if let Some(dt) = self.tasks.get_mut(d) {
                    if let Some(pos) = dt.dependents.iter().position(|x| *x == id) {
                        dt.dependents.swap_remove(pos);
                    }
                    stack.push(d);
                }
            }
        }
    }

    /// `id`'s value is gone from every worker.
    pub(crate) fn lose(&mut self, id: TaskId, comm: &mut impl Comm) {
        self.set_state(id, TaskState::Released);
        let dependents = self.t(id).dependents.clone();
        for d in dependents {
            match self.t(d).state {
                TaskState::Processing(w2) => {
                    comm.send_worker(
                        w2,
                        ToWorker::Free {
                            keys: vec![self.key(d)],
                        },
                    );
                    self.leave_processing(d);
                    self.set_state(d, TaskState::Waiting);
                    self.recount(d);
                }
                TaskState::NoWorker => {
                    let p = self.t(d).priority;
                    self.no_worker.remove(&(p, d));
                    self.set_state(d, TaskState::Waiting);
                    self.recount(d);
                }
                TaskState::Waiting => self.recount(d),
                _ => {}
            }
        }
        let t = self.t(id);
        if !t.who_wants.is_empty() || t.waiters > 0 || t.pinned {
            for &c in &t.who_wants {
                comm.send_client(
                    c,
                    ToClient::Lost {
                        key: self.names.key(&t.key),
                    },
                );
            }
            self.make_waiting(id, comm);
        } else {
            self.maybe_forget(id);
        }
    }

    fn recount(&mut self, id: TaskId) {
        let n = self
            .t(id)
            .deps
            .iter()
            .filter(|&&d| self.t(d).state != TaskState::Memory)
            .count() as u32;
        self.tm(id).waiting_on = n;
    }

    pub(crate) fn missing(&mut self, key: &Key, holder: WorkerId, comm: &mut impl Comm) {
        let Some(id) = self.lookup(key) else {
            return;
        };
        self.tm(id).who_has.retain(|x| *x != holder);
        if let Some(wk) = self.workers.get_mut(&holder) {
            wk.has_what.remove(&id);
        }
        if self.t(id).who_has.is_empty() && self.t(id).state == TaskState::Memory {
            self.lose(id, comm);
            // A lost root goes back to the queue: hand it out.
            self.fill_all(comm);
        }
    }
}
