//! The scheduler's state: tasks, workers, clients, and the handlers that change them.
//!
//! Pure and synchronous (DESIGN rule 3): no sockets, no clock reads, no async. Every handler
//! takes the current time and a [`Comm`] to send messages through; the tokio shell in
//! [`crate::server`] does the I/O, and the tests use a recording fake. See
//! `docs/design/scheduler-state-machine.md` for the states, transitions and invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use brisk_core::Key;
use brisk_protocol::messages::{
    ClusterInfo, FromClient, FromWorker, ToClient, ToWorker, WorkerMetrics, WorkerRegistration,
    WorkerSummary,
};
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{ClientId, WorkerId};
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

/// Where the scheduler's messages go. The shell queues them on connections; tests record them.
pub trait Comm {
    /// Send `msg` to worker `w`.
    fn send_worker(&mut self, w: WorkerId, msg: ToWorker);
    /// Send `msg` to client `c`.
    fn send_client(&mut self, c: ClientId, msg: ToClient);
}

/// Tunables of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How many worker deaths a task may be blamed for before it fails (`KilledWorker`): a
    /// task that kills 3 workers fails with the default of 2.
    pub allowed_failures: u8,
    /// Assumed duration of a task whose kind has never run.
    pub unknown_duration: Duration,
    /// Root tasks in flight per thread, at least (Dask's `worker-saturation`).
    pub worker_saturation: f64,
    /// Root tasks are sent ahead so that each thread has about this much queued work.
    pub target_queue_time: Duration,
    /// At most this many root tasks in flight per thread.
    pub max_root_per_thread: u32,
    /// Bytes of root-task outputs in flight per thread on workers without a memory limit.
    pub root_bytes_per_thread: u64,
    /// Estimated network bandwidth, bytes per second (for placement and stealing).
    pub bandwidth: f64,
    /// How often workers send heartbeats.
    pub heartbeat_interval: Duration,
    /// A worker silent for this long is removed.
    pub worker_timeout: Duration,
    /// Results up to this size travel with the finish message to a waiting client.
    pub inline_result_limit: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            allowed_failures: 2,
            unknown_duration: Duration::from_millis(500),
            worker_saturation: 1.1,
            target_queue_time: Duration::from_millis(5),
            max_root_per_thread: 2000,
            root_bytes_per_thread: 8 << 20,
            bandwidth: 100e6,
            heartbeat_interval: Duration::from_millis(500),
            worker_timeout: Duration::from_secs(30),
            inline_result_limit: 64 * 1024,
        }
    }
}

pub(crate) type TaskId = u32;

/// The state of one task (see the design note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Known, not needed now (or its data was dropped).
    Released,
    /// Needed; waiting for dependencies.
    Waiting,
    /// A ready root task held back in the scheduler's queue.
    Queued,
    /// Ready but no worker can take it.
    NoWorker,
    /// Sent to a worker.
    Processing(WorkerId),
    /// Its value is held by one or more workers.
    Memory,
    /// It (or a dependency) failed.
    Erred,
}

impl TaskState {
    fn name(self) -> &'static str {
        match self {
            TaskState::Released => "released",
            TaskState::Waiting => "waiting",
            TaskState::Queued => "queued",
            TaskState::NoWorker => "no-worker",
            TaskState::Processing(_) => "processing",
            TaskState::Memory => "memory",
            TaskState::Erred => "erred",
        }
    }

    /// Whether a task in this state still needs its dependencies' data.
    pub(crate) fn needs_deps(self) -> bool {
        matches!(
            self,
            TaskState::Waiting | TaskState::Queued | TaskState::NoWorker | TaskState::Processing(_)
        )
    }
}

pub(crate) struct Task {
    pub key: Key,
    pub state: TaskState,
    /// The encoded task (a compact copy, so the message it came in can be freed); `None` for
    /// scattered data (no lineage).
    pub spec: Option<Box<[u8]>>,
    pub deps: SmallVec<[TaskId; 2]>,
    pub dependents: SmallVec<[TaskId; 2]>,
    /// Dependencies not in memory (while waiting).
    pub waiting_on: u32,
    /// Dependents that still need this task's data.
    pub waiters: u32,
    pub who_wants: SmallVec<[ClientId; 1]>,
    pub who_has: SmallVec<[WorkerId; 1]>,
    pub nbytes: u64,
    pub priority: u64,
    pub prefix: u32,
    /// The duration estimate (µs) added to a worker's occupancy while processing.
    pub est_us: u32,
    pub suspicious: u8,
    pub retries: u8,
    pub error: Option<Box<(Key, WireFailure)>>,
}

pub(crate) struct Worker {
    pub name: String,
    pub address: String,
    pub nthreads: u32,
    pub memory_limit: u64,
    pub paused: bool,
    pub processing: FxHashSet<TaskId>,
    pub has_what: FxHashSet<TaskId>,
    /// Estimated seconds of work assigned, in µs.
    pub occupancy_us: u64,
    pub last_seen: Instant,
    pub metrics: WorkerMetrics,
}

#[derive(Default)]
pub(crate) struct Prefix {
    pub duration_us: Option<f64>,
    pub nbytes: Option<f64>,
}

/// The scheduler's whole state.
pub struct SchedulerState {
    pub(crate) config: SchedulerConfig,
    pub(crate) tasks: crate::slab::Slab<Task>,
    pub(crate) free_ids: Vec<TaskId>,
    /// Key → task id, hashing the key stored in the task (no second copy of each key).
    pub(crate) index: hashbrown::HashTable<TaskId>,
    pub(crate) workers: BTreeMap<WorkerId, Worker>,
    pub(crate) clients: FxHashMap<ClientId, FxHashSet<TaskId>>,
    pub(crate) prefixes: Vec<Prefix>,
    pub(crate) prefix_ids: FxHashMap<Box<str>, u32>,
    pub(crate) queued: BTreeSet<(u64, TaskId)>,
    pub(crate) no_worker: BTreeSet<(u64, TaskId)>,
    pub(crate) steals: FxHashMap<TaskId, (WorkerId, WorkerId)>,
    pub(crate) generation: u64,
    pub(crate) address: String,
    pub(crate) shutdown: bool,
    pub(crate) stats: Stats,
}

#[derive(Default, Clone)]
pub(crate) struct Stats {
    pub done: u64,
    pub erred: u64,
    pub stolen: u64,
    pub workers_lost: u64,
}

impl SchedulerState {
    /// An empty scheduler.
    pub fn new(config: SchedulerConfig) -> Self {
        SchedulerState {
            config,
            tasks: crate::slab::Slab::new(),
            free_ids: Vec::new(),
            index: hashbrown::HashTable::new(),
            workers: BTreeMap::new(),
            clients: FxHashMap::default(),
            prefixes: Vec::new(),
            prefix_ids: FxHashMap::default(),
            queued: BTreeSet::new(),
            no_worker: BTreeSet::new(),
            steals: FxHashMap::default(),
            generation: 0,
            address: String::new(),
            shutdown: false,
            stats: Stats::default(),
        }
    }

    /// Set the address shown in snapshots.
    pub fn set_address(&mut self, address: String) {
        self.address = address;
    }

    /// The configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Whether a client asked the cluster to shut down.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown
    }

    /// The number of task records held.
    pub fn num_tasks(&self) -> usize {
        self.index.len()
    }

    /// The state of `key`, if the scheduler knows it.
    pub fn task_state(&self, key: &Key) -> Option<TaskState> {
        self.lookup(key).map(|id| self.t(id).state)
    }

    /// The number of workers.
    pub fn num_workers(&self) -> usize {
        self.workers.len()
    }

    /// The workers, by id.
    pub fn worker_ids(&self) -> Vec<WorkerId> {
        self.workers.keys().copied().collect()
    }

    pub(crate) fn t(&self, id: TaskId) -> &Task {
        match self.tasks.get(id) {
            Some(t) => t,
            None => unreachable_task(id),
        }
    }

    pub(crate) fn tm(&mut self, id: TaskId) -> &mut Task {
        match self.tasks.get_mut(id) {
            Some(t) => t,
            None => unreachable_task(id),
        }
    }

    /// Whether `id` is a task record (not forgotten).
    pub(crate) fn live(&self, id: TaskId) -> bool {
        self.tasks.get(id).is_some()
    }

    /// The task with this key.
    pub(crate) fn lookup(&self, key: &Key) -> Option<TaskId> {
        let tasks = &self.tasks;
        self.index
            .find(hash_key(key), |&id| {
                tasks.get(id).is_some_and(|t| t.key == *key)
            })
            .copied()
    }

    pub(crate) fn unindex(&mut self, id: TaskId, key: &Key) {
        if let Ok(e) = self.index.find_entry(hash_key(key), |&x| x == id) {
            e.remove();
        }
    }

    pub(crate) fn prefix_id(&mut self, key: &Key) -> u32 {
        let p = key.prefix();
        if let Some(&id) = self.prefix_ids.get(p) {
            return id;
        }
        let id = self.prefixes.len() as u32;
        self.prefixes.push(Prefix::default());
        self.prefix_ids.insert(p.into(), id);
        id
    }

    pub(crate) fn new_task(&mut self, key: Key, spec: Option<&[u8]>, priority: u64) -> TaskId {
        let prefix = self.prefix_id(&key);
        let hash = hash_key(&key);
        let task = Task {
            key,
            state: TaskState::Released,
            spec: spec.map(Box::from),
            deps: SmallVec::new(),
            dependents: SmallVec::new(),
            waiting_on: 0,
            waiters: 0,
            who_wants: SmallVec::new(),
            who_has: SmallVec::new(),
            nbytes: 0,
            priority,
            prefix,
            est_us: 0,
            suspicious: 0,
            retries: 0,
            error: None,
        };
        let id = match self.free_ids.pop() {
            Some(id) => {
                self.tasks.put(id, task);
                id
            }
            None => self.tasks.push(task),
        };
        let tasks = &self.tasks;
        self.index
            .insert_unique(hash, id, |&i| tasks.get(i).map_or(0, |t| hash_key(&t.key)));
        id
    }

    // ----- clients -----

    /// A client connected.
    pub fn add_client(&mut self, c: ClientId, comm: &mut impl Comm) {
        self.clients.insert(c, FxHashSet::default());
        comm.send_client(c, ToClient::Welcome { id: c });
        let added = self
            .workers
            .iter()
            .map(|(&id, w)| (id, w.address.clone(), w.name.clone()))
            .collect();
        comm.send_client(
            c,
            ToClient::Workers {
                added,
                removed: vec![],
            },
        );
        tracing::debug!(client = c, "client connected");
    }

    /// A client went away: release everything it held.
    pub fn remove_client(&mut self, c: ClientId, comm: &mut impl Comm) {
        let Some(wants) = self.clients.remove(&c) else {
            return;
        };
        let n = wants.len();
        for id in wants {
            if self.live(id) {
                self.tm(id).who_wants.retain(|x| *x != c);
                self.maybe_release(id, comm);
            }
        }
        tracing::debug!(client = c, released = n, "client disconnected");
        self.fill_all(comm);
    }

    /// A message from client `c`.
    pub fn handle_client(&mut self, c: ClientId, msg: FromClient, comm: &mut impl Comm) {
        match msg {
            FromClient::UpdateGraph { tasks, wanted } => self.update_graph(c, tasks, wanted, comm),
            FromClient::Release { keys } => {
                for k in keys {
                    let Some(id) = self.lookup(&k) else {
                        continue;
                    };
                    self.tm(id).who_wants.retain(|x| *x != c);
                    if let Some(w) = self.clients.get_mut(&c) {
                        w.remove(&id);
                    }
                    self.maybe_release(id, comm);
                }
                self.fill_all(comm);
            }
            FromClient::Scatter { items } => self.scatter(c, items, comm),
            FromClient::Info { request } => {
                comm.send_client(
                    c,
                    ToClient::Info {
                        request,
                        info: self.snapshot(),
                    },
                );
            }
            FromClient::Shutdown => {
                self.shutdown = true;
                for &w in self.workers.keys() {
                    comm.send_worker(
                        w,
                        ToWorker::Close {
                            reason: "a client asked the cluster to shut down".into(),
                        },
                    );
                }
            }
        }
    }

    // ----- workers -----

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
        for &c in self.clients.keys() {
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
            },
        );
        let waiting: Vec<TaskId> = std::mem::take(&mut self.no_worker)
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        for id in waiting {
            self.tm(id).state = TaskState::Waiting;
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
        match msg {
            FromWorker::Register(_) => {}
            FromWorker::Finished {
                key,
                nbytes,
                duration_us,
                value,
            } => self.task_finished(w, &key, nbytes, Some(duration_us), value, comm),
            FromWorker::Stored { key, nbytes } => {
                self.task_finished(w, &key, nbytes, None, None, comm)
            }
            FromWorker::Erred {
                key,
                failure,
                duration_us: _,
            } => self.task_erred_on(w, &key, failure, comm),
            FromWorker::StealReply { key, accepted } => self.steal_reply(w, &key, accepted, comm),
            FromWorker::Missing { key, holder } => self.missing(&key, holder, comm),
            FromWorker::Heartbeat(m) => {
                if let Some(wk) = self.workers.get_mut(&w) {
                    wk.metrics = m;
                }
            }
            FromWorker::Paused(p) => {
                if let Some(wk) = self.workers.get_mut(&w) {
                    if wk.paused != p {
                        tracing::info!(worker = %wk.name, paused = p, "worker memory pause");
                    }
                    wk.paused = p;
                }
                if !p {
                    self.fill_all(comm);
                }
            }
        }
    }

    /// Time passes: remove silent workers, steal work for idle ones.
    pub fn tick(&mut self, now: Instant, comm: &mut impl Comm) {
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
    }

    /// A snapshot of the cluster (the dashboard's seam).
    pub fn snapshot(&self) -> ClusterInfo {
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        for (_, t) in self.tasks.iter() {
            *counts.entry(t.state.name()).or_default() += 1;
        }
        ClusterInfo {
            address: self.address.clone(),
            workers: self
                .workers
                .iter()
                .map(|(&id, w)| WorkerSummary {
                    id,
                    name: w.name.clone(),
                    address: w.address.clone(),
                    nthreads: w.nthreads,
                    memory_limit: w.memory_limit,
                    paused: w.paused,
                    processing: w.processing.len() as u32,
                    has_what: w.has_what.len() as u32,
                    metrics: w.metrics.clone(),
                })
                .collect(),
            clients: self.clients.len() as u32,
            tasks_by_state: counts
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            queued: self.queued.len() as u64,
            tasks_done: self.stats.done,
            tasks_erred: self.stats.erred,
            tasks_stolen: self.stats.stolen,
            workers_lost: self.stats.workers_lost,
        }
    }
}

fn hash_key(key: &Key) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
}

#[cold]
fn unreachable_task(id: TaskId) -> ! {
    // Task ids come only from the scheduler's own index; a dangling one is a bug here, never
    // something a peer can cause.
    panic!("brisk-scheduler: internal error: task id {id} is not live")
}
