//! The worker's state: which tasks it holds, which inputs it fetches, what runs next.
//!
//! Pure and synchronous (DESIGN rule 3): handlers take the current time and a [`WorkerComm`]
//! that executes, fetches and sends; the tokio shell in [`crate::server`] does the work and
//! reports back. See `docs/design/worker-state-machine.md`.

use std::collections::BTreeSet;

use brisk_core::Key;
use brisk_protocol::messages::{
    ComputeTask, EncodedValue, FromWorker, TaskTiming, ToWorker, WorkerMetrics,
};
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{Payload, WorkerId};
use rustc_hash::FxHashMap;

/// The most bytes asked of one peer in one request (more keys wait for the next request).
const MAX_FETCH_BYTES: u64 = 64 << 20;

/// A task to run on the worker's thread pool.
#[derive(Debug, Clone)]
pub struct Execute {
    /// The task.
    pub key: Key,
    /// Its encoded form.
    pub spec: Payload,
    /// Its inputs, in slot order (all in the local store).
    pub inputs: Vec<Key>,
    /// Encode the result for a waiting client when it is small.
    pub send_result: bool,
}

/// What the worker's state machine asks its shell to do.
pub trait WorkerComm {
    /// Send a message to the scheduler.
    fn send(&mut self, msg: FromWorker);
    /// Run a task.
    fn execute(&mut self, job: Execute);
    /// Fetch `keys` from peer `from`.
    fn fetch(&mut self, from: WorkerId, keys: Vec<Key>);
    /// Drop `key`'s value from the local store.
    fn release(&mut self, key: Key);
}

/// The state of a task assigned to this worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerTaskState {
    /// Waiting for inputs to arrive from peers.
    Waiting,
    /// Ready; runs when a thread is free.
    Ready,
    /// Handed to the thread pool (running, or next in its queue).
    Executing,
    /// Running, but the scheduler no longer wants it: its result will be dropped.
    Cancelled,
}

struct WTask {
    state: WorkerTaskState,
    priority: u64,
    spec: Payload,
    deps: Vec<Key>,
    missing: u32,
    send_result: bool,
}

struct Data {
    /// The scheduler knows this worker holds it (computed or stored here).
    owned: bool,
    /// Local tasks that still need it as an input.
    users: u32,
    nbytes: u64,
}

struct Fetch {
    who_has: Vec<WorkerId>,
    in_flight: Option<WorkerId>,
    /// Local tasks waiting for it.
    waiters: Vec<Key>,
    nbytes: u64,
}

/// The outcome of running a task.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The value is in the local store.
    Done {
        /// Its size.
        nbytes: u64,
        /// The encoded value, when asked for and small.
        value: Option<EncodedValue>,
    },
    /// The task failed.
    Failed(WireFailure),
}

/// When a worker stops starting tasks because of its memory use, and when it starts again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryPolicy {
    /// The worker's memory limit, bytes.
    pub limit: u64,
    /// Pause past this fraction of the limit; resume below 90 % of that threshold (so a
    /// worker hovering at the threshold does not flap).
    pub pause_fraction: f64,
}

impl MemoryPolicy {
    /// The pause threshold in bytes.
    pub fn pause_bytes(&self) -> u64 {
        (self.limit as f64 * self.pause_fraction) as u64
    }
}

/// The worker's whole state.
pub struct WorkerState {
    nthreads: u32,
    tasks: FxHashMap<Key, WTask>,
    ready: BTreeSet<(u64, Key)>,
    executing: u32,
    data: FxHashMap<Key, Data>,
    fetches: FxHashMap<Key, Fetch>,
    /// Fetches not under way yet (a superset: stale keys are skipped).
    to_fetch: BTreeSet<Key>,
    peers: FxHashMap<WorkerId, String>,
    /// This worker's id (from `Registered`): never a peer of itself.
    me: Option<WorkerId>,
    fetching_from: FxHashMap<WorkerId, u32>,
    max_fetches_per_peer: u32,
    paused: bool,
    /// When to pause and resume (none: never pause on memory).
    memory: Option<MemoryPolicy>,
    done: u64,
    /// Running average of task durations (µs), to decide how many quick tasks to hand the
    /// thread pool at once.
    avg_us: Option<f64>,
}

impl WorkerState {
    /// A worker with `nthreads` threads.
    pub fn new(nthreads: u32) -> Self {
        WorkerState {
            nthreads: nthreads.max(1),
            tasks: FxHashMap::default(),
            ready: BTreeSet::new(),
            executing: 0,
            data: FxHashMap::default(),
            fetches: FxHashMap::default(),
            to_fetch: BTreeSet::new(),
            peers: FxHashMap::default(),
            me: None,
            fetching_from: FxHashMap::default(),
            max_fetches_per_peer: 2,
            paused: false,
            memory: None,
            done: 0,
            avg_us: None,
        }
    }

    /// The peer address of worker `w`.
    pub fn peer_address(&self, w: WorkerId) -> Option<&str> {
        self.peers.get(&w).map(String::as_str)
    }

    /// The state of task `key`, if assigned here.
    pub fn task_state(&self, key: &Key) -> Option<WorkerTaskState> {
        self.tasks.get(key).map(|t| t.state)
    }

    /// Whether `key`'s value is held here.
    pub fn has_data(&self, key: &Key) -> bool {
        self.data.contains_key(key)
    }

    /// Tasks running now.
    pub fn executing(&self) -> u32 {
        self.executing
    }

    /// Whether new tasks are held back for memory.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Counts for heartbeats.
    pub fn fill_metrics(&self, m: &mut WorkerMetrics) {
        m.executing = self.executing;
        m.ready = self.ready.len() as u32;
        m.tasks_done = self.done;
    }

    /// A message from the scheduler.
    pub fn handle_scheduler(&mut self, msg: ToWorker, comm: &mut impl WorkerComm) {
        self.handle_one(msg, comm);
        self.schedule(comm);
    }

    /// A batch of messages from the scheduler: what can start is looked at once, after all
    /// of them (a batch may hold thousands of tasks).
    pub fn handle_batch(&mut self, msgs: Vec<ToWorker>, comm: &mut impl WorkerComm) {
        for m in msgs {
            self.handle_one(m, comm);
        }
        self.schedule(comm);
    }

    fn handle_one(&mut self, msg: ToWorker, comm: &mut impl WorkerComm) {
        match msg {
            ToWorker::Registered { id, .. } => {
                self.me = Some(id);
                self.peers.remove(&id);
            }
            ToWorker::Close { .. } | ToWorker::Store { .. } | ToWorker::Acquire { .. } => {}
            ToWorker::Peers { added, removed } => {
                for (id, addr) in added {
                    if Some(id) != self.me {
                        self.peers.insert(id, addr);
                    }
                }
                for id in removed {
                    self.peers.remove(&id);
                    for f in self.fetches.values_mut() {
                        f.who_has.retain(|w| *w != id);
                    }
                }
            }
            ToWorker::Compute(t) => self.compute(t, comm),
            ToWorker::Free { keys } => {
                for k in keys {
                    self.free(&k, comm);
                }
            }
            ToWorker::Steal { key } => {
                let accepted = matches!(
                    self.tasks.get(&key).map(|t| t.state),
                    Some(WorkerTaskState::Ready | WorkerTaskState::Waiting)
                );
                if accepted {
                    self.drop_task(&key, comm);
                }
                comm.send(FromWorker::StealReply { key, accepted });
            }
        }
    }

    fn compute(&mut self, t: ComputeTask, comm: &mut impl WorkerComm) {
        if self.tasks.contains_key(&t.key) {
            if let Some(x) = self.tasks.get_mut(&t.key)
                && x.state == WorkerTaskState::Cancelled
            {
                x.state = WorkerTaskState::Executing;
            }
            return;
        }
        if let Some(d) = self.data.get_mut(&t.key) {
            d.owned = true;
            comm.send(FromWorker::Finished {
                key: t.key,
                nbytes: d.nbytes,
                timing: None,
                value: None,
            });
            return;
        }
        let mut missing = 0;
        let mut deps = Vec::with_capacity(t.deps.len());
        for dep in t.deps {
            if let Some(d) = self.data.get_mut(&dep.key) {
                d.users += 1;
            } else {
                missing += 1;
                let to_fetch = &mut self.to_fetch;
                let f = self.fetches.entry(dep.key.clone()).or_insert_with(|| {
                    to_fetch.insert(dep.key.clone());
                    Fetch {
                        who_has: Vec::new(),
                        in_flight: None,
                        waiters: Vec::new(),
                        nbytes: dep.nbytes,
                    }
                });
                for w in dep.who_has {
                    if !f.who_has.contains(&w) {
                        f.who_has.push(w);
                    }
                }
                f.waiters.push(t.key.clone());
            }
            deps.push(dep.key);
        }
        let state = if missing == 0 {
            self.ready.insert((t.priority, t.key.clone()));
            WorkerTaskState::Ready
        } else {
            WorkerTaskState::Waiting
        };
        self.tasks.insert(
            t.key,
            WTask {
                state,
                priority: t.priority,
                spec: t.spec,
                deps,
                missing,
                send_result: t.send_result,
            },
        );
    }

    /// Forget a task that has not started, releasing its inputs.
    fn drop_task(&mut self, key: &Key, comm: &mut impl WorkerComm) {
        let Some(t) = self.tasks.remove(key) else {
            return;
        };
        self.ready.remove(&(t.priority, key.clone()));
        for d in &t.deps {
            if let Some(f) = self.fetches.get_mut(d) {
                f.waiters.retain(|w| w != key);
                if f.waiters.is_empty() && f.in_flight.is_none() {
                    self.fetches.remove(d);
                }
                continue;
            }
            self.unuse(d, comm);
        }
    }

    fn unuse(&mut self, key: &Key, comm: &mut impl WorkerComm) {
        if let Some(d) = self.data.get_mut(key) {
            d.users = d.users.saturating_sub(1);
            if d.users == 0 && !d.owned {
                self.data.remove(key);
                comm.release(key.clone());
            }
        }
    }

    fn free(&mut self, key: &Key, comm: &mut impl WorkerComm) {
        match self.tasks.get_mut(key).map(|t| t.state) {
            Some(WorkerTaskState::Executing) => {
                if let Some(t) = self.tasks.get_mut(key) {
                    t.state = WorkerTaskState::Cancelled;
                }
            }
            Some(WorkerTaskState::Ready | WorkerTaskState::Waiting) => self.drop_task(key, comm),
            _ => {}
        }
        if let Some(d) = self.data.get_mut(key) {
            d.owned = false;
            if d.users == 0 {
                self.data.remove(key);
                comm.release(key.clone());
            }
        }
    }

    /// A task finished running (`timing`: when and on which thread, on this worker's clock).
    pub fn task_done(
        &mut self,
        key: &Key,
        outcome: Outcome,
        timing: TaskTiming,
        comm: &mut impl WorkerComm,
    ) {
        let Some(t) = self.tasks.remove(key) else {
            if matches!(outcome, Outcome::Done { .. }) && !self.data.contains_key(key) {
                comm.release(key.clone());
            }
            return;
        };
        self.executing = self.executing.saturating_sub(1);
        let d = timing.duration_us() as f64;
        self.avg_us = Some(self.avg_us.map_or(d, |a| 0.9 * a + 0.1 * d));
        for d in &t.deps {
            self.unuse(d, comm);
        }
        let cancelled = t.state == WorkerTaskState::Cancelled;
        match outcome {
            Outcome::Done { nbytes, value } => {
                if cancelled {
                    if !self.data.contains_key(key) {
                        comm.release(key.clone());
                    }
                } else {
                    self.done += 1;
                    let d = self.data.entry(key.clone()).or_insert(Data {
                        owned: true,
                        users: 0,
                        nbytes,
                    });
                    d.owned = true;
                    self.satisfy_fetch(key);
                    comm.send(FromWorker::Finished {
                        key: key.clone(),
                        nbytes,
                        timing: Some(timing),
                        value,
                    });
                }
            }
            Outcome::Failed(failure) => {
                if !cancelled {
                    comm.send(FromWorker::Erred {
                        key: key.clone(),
                        failure,
                        timing: Some(timing),
                    });
                }
            }
        }
        self.schedule(comm);
    }

    /// A value kept from before the scheduler connection was lost (the new scheduler is told
    /// with `FromWorker::Holds` and frees what it does not want).
    pub fn held(&mut self, key: Key, nbytes: u64) {
        self.data.insert(
            key,
            Data {
                owned: true,
                users: 0,
                nbytes,
            },
        );
    }

    /// A scattered value was stored locally.
    pub fn stored(&mut self, key: Key, nbytes: u64, comm: &mut impl WorkerComm) {
        let users = self.data.get(&key).map_or(0, |d| d.users);
        self.data.insert(
            key.clone(),
            Data {
                owned: true,
                users,
                nbytes,
            },
        );
        self.satisfy_fetch(&key);
        comm.send(FromWorker::Stored { key, nbytes });
    }

    /// A fetch from `from` ended: `got` holds the keys that arrived (with their sizes); every
    /// other key asked for did not.
    pub fn fetched(
        &mut self,
        from: WorkerId,
        asked: &[Key],
        got: &[(Key, u64)],
        comm: &mut impl WorkerComm,
    ) {
        if let Some(n) = self.fetching_from.get_mut(&from) {
            *n = n.saturating_sub(1);
        }
        for (k, nbytes) in got {
            let Some(f) = self.fetches.remove(k) else {
                // Nobody waits for it any more.
                if !self.data.contains_key(k) {
                    comm.release(k.clone());
                }
                continue;
            };
            if f.waiters.is_empty() {
                if !self.data.contains_key(k) {
                    comm.release(k.clone());
                }
                continue;
            }
            self.data.insert(
                k.clone(),
                Data {
                    owned: false,
                    users: 0,
                    nbytes: *nbytes,
                },
            );
            self.wake(k, f.waiters);
        }
        for k in asked {
            if got.iter().any(|(g, _)| g == k) {
                continue;
            }
            if let Some(f) = self.fetches.get_mut(k) {
                f.in_flight = None;
                self.to_fetch.insert(k.clone());
                f.who_has.retain(|w| *w != from);
                comm.send(FromWorker::Missing {
                    key: k.clone(),
                    holder: from,
                });
            }
        }
        for k in asked {
            if self
                .fetches
                .get(k)
                .is_some_and(|f| f.waiters.is_empty() && f.in_flight.is_none())
            {
                self.fetches.remove(k);
            }
        }
        self.schedule(comm);
    }

    /// `key` is now in the store: tasks waiting for a fetch of it need not wait any more.
    fn satisfy_fetch(&mut self, key: &Key) {
        // A fetch still under way finds no entry when it answers, and is dropped.
        if let Some(f) = self.fetches.remove(key) {
            self.wake(key, f.waiters);
        }
    }

    /// Count `waiters` as users of `key` (now held) and start those that have every input.
    fn wake(&mut self, key: &Key, waiters: Vec<Key>) {
        let mut n = 0;
        for w in waiters {
            if let Some(t) = self.tasks.get_mut(&w) {
                n += 1;
                t.missing = t.missing.saturating_sub(1);
                if t.missing == 0 && t.state == WorkerTaskState::Waiting {
                    t.state = WorkerTaskState::Ready;
                    self.ready.insert((t.priority, w.clone()));
                }
            }
        }
        if let Some(d) = self.data.get_mut(key) {
            d.users += n;
        }
    }

    /// Set when to pause on memory use (`None`: never).
    pub fn set_memory_policy(&mut self, policy: Option<MemoryPolicy>) {
        self.memory = policy;
    }

    /// The shell measured the worker's memory use (`managed` bytes in the store): pause past
    /// the policy's threshold, resume below 90 % of it.
    pub fn memory_observed(&mut self, managed: u64, comm: &mut impl WorkerComm) {
        let Some(policy) = self.memory else {
            return;
        };
        let pause = policy.pause_bytes();
        if !self.paused && managed > pause {
            tracing::warn!(
                managed,
                limit = policy.limit,
                "memory use past the pause threshold: pausing"
            );
            self.set_paused(true, comm);
        } else if self.paused && u128::from(managed) * 10 < u128::from(pause) * 9 {
            self.set_paused(false, comm);
        }
    }

    /// Pause (start no task) or resume, telling the scheduler when this changes.
    pub fn set_paused(&mut self, paused: bool, comm: &mut impl WorkerComm) {
        if self.paused != paused {
            self.paused = paused;
            comm.send(FromWorker::Paused(paused));
        }
        self.schedule(comm);
    }

    /// Check every invariant (for tests); the first broken one is described in the error.
    pub fn validate(&self) -> Result<(), String> {
        let executing = self
            .tasks
            .values()
            .filter(|t| {
                matches!(
                    t.state,
                    WorkerTaskState::Executing | WorkerTaskState::Cancelled
                )
            })
            .count() as u32;
        if executing != self.executing {
            return Err(format!(
                "executing {} but {executing} tasks run",
                self.executing
            ));
        }
        for (k, t) in &self.tasks {
            let missing = t
                .deps
                .iter()
                .filter(|d| !self.data.contains_key(*d))
                .count() as u32;
            match t.state {
                WorkerTaskState::Waiting => {
                    if missing == 0 || missing != t.missing {
                        return Err(format!("{k}: waiting, missing {} vs {missing}", t.missing));
                    }
                    for d in t.deps.iter().filter(|d| !self.data.contains_key(*d)) {
                        if !self.fetches.get(d).is_some_and(|f| f.waiters.contains(k)) {
                            return Err(format!("{k}: nobody fetches its input {d}"));
                        }
                    }
                }
                WorkerTaskState::Ready => {
                    if missing != 0 || !self.ready.contains(&(t.priority, k.clone())) {
                        return Err(format!("{k}: ready but inputs missing or not queued"));
                    }
                }
                WorkerTaskState::Executing | WorkerTaskState::Cancelled => {
                    if missing != 0 {
                        return Err(format!("{k}: running without its inputs"));
                    }
                }
            }
        }
        if self.ready.len()
            != self
                .tasks
                .values()
                .filter(|t| t.state == WorkerTaskState::Ready)
                .count()
        {
            return Err("the ready queue holds tasks in other states".into());
        }
        for (k, d) in &self.data {
            let users = self.tasks.values().filter(|t| t.deps.contains(k)).count() as u32;
            if users != d.users {
                return Err(format!(
                    "{k}: {} users counted, {users} tasks use it",
                    d.users
                ));
            }
            if !d.owned && d.users == 0 {
                return Err(format!("{k}: a replica nobody uses is kept"));
            }
        }
        Ok(())
    }

    /// Start what can start: tasks on free threads (highest priority first) and fetches.
    fn schedule(&mut self, comm: &mut impl WorkerComm) {
        // Quick tasks go to the pool several at a time (about 2 ms of work per thread), so
        // that threads run them back to back instead of waiting for this loop each time.
        let depth = match self.avg_us {
            Some(us) => (2000.0 / us.max(1.0)).clamp(1.0, 64.0) as u32,
            None => 1,
        };
        while !self.paused && self.executing < self.nthreads * depth {
            let Some((_, key)) = self.ready.pop_first() else {
                break;
            };
            let Some(t) = self.tasks.get_mut(&key) else {
                continue;
            };
            t.state = WorkerTaskState::Executing;
            self.executing += 1;
            comm.execute(Execute {
                key: key.clone(),
                spec: t.spec.clone(),
                inputs: t.deps.clone(),
                send_result: t.send_result,
            });
        }
        // Fetches: only look through the pending ones when some peer can take a request.
        let max = self.max_fetches_per_peer;
        let any_free = self
            .peers
            .keys()
            .any(|w| self.fetching_from.get(w).copied().unwrap_or(0) < max);
        if !any_free || self.to_fetch.is_empty() {
            return;
        }
        let mut batches: FxHashMap<WorkerId, (Vec<Key>, u64)> = FxHashMap::default();
        let mut started: Vec<Key> = Vec::new();
        for k in &self.to_fetch {
            let Some(f) = self.fetches.get_mut(k) else {
                started.push(k.clone());
                continue;
            };
            if f.in_flight.is_some() || f.waiters.is_empty() {
                started.push(k.clone());
                continue;
            }
            // The holder with the fewest fetches under way.
            let Some(&w) = f
                .who_has
                .iter()
                .filter(|w| self.peers.contains_key(w))
                .min_by_key(|w| self.fetching_from.get(w).copied().unwrap_or(0))
            else {
                continue;
            };
            let busy = self.fetching_from.get(&w).copied().unwrap_or(0);
            if busy >= max && !batches.contains_key(&w) {
                continue;
            }
            // One request carries at most about 64 MB; the rest waits for the next one.
            let batch = batches.entry(w).or_default();
            if !batch.0.is_empty() && batch.1 + f.nbytes > MAX_FETCH_BYTES {
                continue;
            }
            batch.0.push(k.clone());
            batch.1 += f.nbytes;
            f.in_flight = Some(w);
            started.push(k.clone());
        }
        for k in started {
            self.to_fetch.remove(&k);
        }
        let mut batches: Vec<_> = batches.into_iter().collect();
        batches.sort_unstable_by_key(|(w, _)| *w);
        for (w, (keys, _)) in batches {
            *self.fetching_from.entry(w).or_default() += 1;
            comm.fetch(w, keys);
        }
    }
}
