//! The scheduler's state: the data model of tasks, workers, clients and key prefixes.
//!
//! Pure and synchronous (DESIGN rule 3): no sockets, no clock reads, no async. The handlers
//! live beside it, one file per kind of event: `clients.rs` (client connections and requests),
//! `workers.rs` (workers joining, reporting, falling silent, leaving), `transitions.rs` (the
//! task state machine), `placement.rs` (where and when tasks run, stealing), `views.rs` (what
//! the dashboard and `Info` requests see). Every handler takes the current time and a [`Comm`]
//! to send messages through; the tokio shell in [`crate::server`] does the I/O, and the tests
//! use a recording fake. See `docs/design/scheduler-state-machine.md` for the states,
//! transitions and invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use brisk_core::Key;
use brisk_protocol::messages::{ToClient, ToWorker, WorkerMetrics};
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{ClientId, WorkerId};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::ids::Ids;
use crate::keys::{Names, TaskKey};
use crate::specs::{SpecRef, Specs};

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
    /// Task spans kept for the dashboard's task stream (the most recent ones).
    pub task_stream_length: usize,
    /// Task spans kept at most while a client records them (a performance report).
    pub task_stream_limit: usize,
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
            task_stream_length: 16 * 1024,
            task_stream_limit: 4 << 20,
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

/// The names of the states, in the order of [`TaskState::index`].
pub(crate) const STATE_NAMES: [&str; 7] = [
    "released",
    "waiting",
    "queued",
    "no-worker",
    "processing",
    "memory",
    "erred",
];

impl TaskState {
    /// The state's name (`processing` for every worker).
    pub fn name(self) -> &'static str {
        STATE_NAMES[self.index()]
    }

    /// A small number per state (without the worker), for counting.
    pub(crate) fn index(self) -> usize {
        match self {
            TaskState::Released => 0,
            TaskState::Waiting => 1,
            TaskState::Queued => 2,
            TaskState::NoWorker => 3,
            TaskState::Processing(_) => 4,
            TaskState::Memory => 5,
            TaskState::Erred => 6,
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

/// One task's record: 152 bytes and no allocation of its own in the common case (see
/// "Costs" in the design note). Its key is a [`TaskKey`] into [`Names`], its encoded spec is
/// in [`Specs`], its error (rare) in [`SchedulerState::errors`].
pub(crate) struct Task {
    pub key: TaskKey,
    pub state: TaskState,
    /// The encoded task, kept for lineage; none for scattered data (no lineage).
    pub spec: SpecRef,
    pub deps: Ids,
    pub dependents: Ids,
    /// Dependencies not in memory (while waiting).
    pub waiting_on: u32,
    /// Dependents that still need this task's data.
    pub waiters: u32,
    pub who_wants: Ids,
    pub who_has: Ids,
    pub nbytes: u64,
    pub priority: u64,
    pub prefix: u32,
    /// The duration estimate (µs) added to a worker's occupancy while processing.
    pub est_us: u32,
    pub suspicious: u8,
    pub retries: u8,
    /// Kept by a graph still arriving (see `graphs.rs`).
    pub pinned: bool,
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
    /// The scheduler's clock minus the worker's, in µs (see [`crate::stream`]).
    pub clock_offset_us: i64,
    /// Set while the worker retires (see `retire.rs`): it gets no new tasks and its values
    /// move to other workers before it closes.
    pub retiring: Option<crate::retire::Retiring>,
}

/// What the scheduler knows about one key prefix (one kind of task).
pub(crate) struct Prefix {
    pub name: std::sync::Arc<str>,
    pub duration_us: Option<f64>,
    pub nbytes: Option<f64>,
    /// Task records in each state ([`TaskState::index`]).
    pub counts: [u64; 7],
    /// Tasks finished since the scheduler started.
    pub done: u64,
    /// Tasks failed since the scheduler started.
    pub erred: u64,
}

/// The scheduler's whole state.
pub struct SchedulerState {
    pub(crate) config: SchedulerConfig,
    pub(crate) tasks: crate::slab::Slab<Task>,
    pub(crate) free_ids: Vec<TaskId>,
    /// Key → task id, hashing the key stored in the task (no second copy of each key).
    pub(crate) index: hashbrown::HashTable<TaskId>,
    pub(crate) workers: BTreeMap<WorkerId, Worker>,
    /// Connected clients (the tasks each wants are those listing it in `who_wants`).
    pub(crate) clients: FxHashSet<ClientId>,
    /// Interned key names (see `keys.rs`).
    pub(crate) names: Names,
    /// Encoded tasks (see `specs.rs`).
    pub(crate) specs: Specs,
    /// Why erred tasks failed: (the task that failed, its failure).
    pub(crate) errors: FxHashMap<TaskId, Box<(Key, WireFailure)>>,
    /// Graphs being streamed, by client and graph number.
    pub(crate) graphs: FxHashMap<(ClientId, u64), crate::graphs::OpenGraph>,
    pub(crate) prefixes: Vec<Prefix>,
    pub(crate) prefix_ids: FxHashMap<Box<str>, u32>,
    pub(crate) queued: BTreeSet<(u64, TaskId)>,
    pub(crate) no_worker: BTreeSet<(u64, TaskId)>,
    pub(crate) steals: FxHashMap<TaskId, (WorkerId, WorkerId)>,
    pub(crate) generation: u64,
    pub(crate) address: String,
    pub(crate) shutdown: bool,
    pub(crate) stats: Stats,
    /// Time zero of the task stream and the dashboard (set by the shell, or the first event).
    pub(crate) epoch: Option<Instant>,
    /// The latest time handlers were given, µs since the epoch.
    pub(crate) now_us: i64,
    pub(crate) stream: crate::stream::TaskStreamLog,
    /// Names of workers that left (for the task stream of their past work).
    pub(crate) past_workers: FxHashMap<WorkerId, String>,
    pub(crate) dashboard: Option<String>,
    /// Clients are told the scheduler journals their graphs (see `recovery.rs`).
    pub(crate) journaled: bool,
    /// Clients whose connection is gone, kept until the deadline for them to resume.
    pub(crate) detached: FxHashMap<ClientId, Instant>,
    /// After a restart: nothing is placed until the workers of before are back.
    pub(crate) recovering: Option<crate::recovery::Recovery>,
}

#[derive(Default, Clone)]
pub(crate) struct Stats {
    pub done: u64,
    pub erred: u64,
    pub stolen: u64,
    pub workers_lost: u64,
    pub workers_retired: u64,
    /// Values taken from a worker that kept them (`recovery.rs`), not counted in `done`.
    pub recovered: u64,
}

impl SchedulerState {
    /// An empty scheduler.
    pub fn new(config: SchedulerConfig) -> Self {
        SchedulerState {
            stream: crate::stream::TaskStreamLog::new(
                config.task_stream_length,
                config.task_stream_limit,
            ),
            epoch: None,
            now_us: 0,
            past_workers: FxHashMap::default(),
            dashboard: None,
            journaled: false,
            detached: FxHashMap::default(),
            recovering: None,
            config,
            tasks: crate::slab::Slab::new(),
            free_ids: Vec::new(),
            index: hashbrown::HashTable::new(),
            workers: BTreeMap::new(),
            clients: FxHashSet::default(),
            names: Names::default(),
            specs: Specs::default(),
            errors: FxHashMap::default(),
            graphs: FxHashMap::default(),
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

    /// Set the dashboard's address shown in snapshots (`http://host:port`).
    pub fn set_dashboard_address(&mut self, address: Option<String>) {
        self.dashboard = address;
    }

    /// Set time zero of the task stream (otherwise the first event's time).
    pub fn set_epoch(&mut self, epoch: Instant) {
        self.epoch = Some(epoch);
    }

    /// µs from the epoch to `now` (setting the epoch at `now` when it is not set).
    pub(crate) fn clock_us(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        let us = now.saturating_duration_since(epoch).as_micros() as i64;
        self.now_us = self.now_us.max(us);
        us
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

    /// The workers' names.
    pub fn worker_names(&self) -> Vec<String> {
        self.workers.values().map(|w| w.name.clone()).collect()
    }

    /// Whether `c` is a client (connected, or detached and able to resume).
    pub fn has_client(&self, c: ClientId) -> bool {
        self.clients.contains(&c)
    }

    /// The clients (connected or detached).
    pub fn client_ids(&self) -> Vec<ClientId> {
        self.clients.iter().copied().collect()
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
        let k = self.names.probe(key)?;
        let tasks = &self.tasks;
        self.index
            .find(hash_key(&k), |&id| {
                tasks.get(id).is_some_and(|t| t.key == k)
            })
            .copied()
    }

    /// The full key of task `id`.
    pub(crate) fn key(&self, id: TaskId) -> Key {
        self.names.key(&self.t(id).key)
    }

    pub(crate) fn unindex(&mut self, id: TaskId, key: &TaskKey) {
        if let Ok(e) = self.index.find_entry(hash_key(key), |&x| x == id) {
            e.remove();
        }
    }

    pub(crate) fn prefix_id(&mut self, key: &Key) -> u32 {
        prefix_id(&mut self.prefixes, &mut self.prefix_ids, key)
    }

    /// Move a task to another state, keeping the per-prefix counts true.
    pub(crate) fn set_state(&mut self, id: TaskId, new: TaskState) {
        let t = self.tm(id);
        let old = t.state;
        t.state = new;
        let p = t.prefix as usize;
        if old.index() != new.index() {
            let c = &mut self.prefixes[p].counts;
            c[old.index()] = c[old.index()].saturating_sub(1);
            c[new.index()] += 1;
        }
    }

    pub(crate) fn new_task(&mut self, key: &Key, spec: Option<&[u8]>, priority: u64) -> TaskId {
        let (prefixes, prefix_ids) = (&mut self.prefixes, &mut self.prefix_ids);
        let key = self
            .names
            .intern(key, |k| prefix_id(prefixes, prefix_ids, k));
        let prefix = self.names.prefix(&key);
        self.prefixes[prefix as usize].counts[TaskState::Released.index()] += 1;
        let hash = hash_key(&key);
        let task = Task {
            key,
            state: TaskState::Released,
            spec: spec.map_or(SpecRef::NONE, |s| self.specs.insert(s)),
            deps: Ids::new(),
            dependents: Ids::new(),
            waiting_on: 0,
            waiters: 0,
            who_wants: Ids::new(),
            who_has: Ids::new(),
            nbytes: 0,
            priority,
            prefix,
            est_us: 0,
            suspicious: 0,
            retries: 0,
            pinned: false,
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

    /// Drop the record of `id` (nothing may refer to it): its key, spec and error go too.
    pub(crate) fn remove_task(&mut self, id: TaskId) -> Option<Task> {
        let t = self.tasks.take(id)?;
        let c = &mut self.prefixes[t.prefix as usize].counts[t.state.index()];
        *c = c.saturating_sub(1);
        self.unindex(id, &t.key);
        self.names.release(&t.key);
        self.specs.remove(t.spec);
        self.errors.remove(&id);
        self.free_ids.push(id);
        Some(t)
    }
}

/// The id of `key`'s prefix, adding it when new.
fn prefix_id(prefixes: &mut Vec<Prefix>, ids: &mut FxHashMap<Box<str>, u32>, key: &Key) -> u32 {
    let p = key.prefix();
    if let Some(&id) = ids.get(p) {
        return id;
    }
    let id = prefixes.len() as u32;
    let name: std::sync::Arc<str> = p.into();
    prefixes.push(Prefix {
        name: std::sync::Arc::clone(&name),
        duration_us: None,
        nbytes: None,
        counts: [0; 7],
        done: 0,
        erred: 0,
    });
    ids.insert(name.as_ref().into(), id);
    id
}

fn hash_key(key: &TaskKey) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
}

#[cold]
fn unreachable_task(id: TaskId) -> ! {
    // Task ids come only from the scheduler's own index; a dangling one is a bug here, never
    // something a peer can cause.
    panic!("brisk-scheduler: internal error: task id {id} is not live")
}

impl SchedulerState {
    /// The bytes of each field of a task record (`size_of`, with padding in the total).
    pub fn record_fields() -> Vec<(&'static str, usize)> {
        use std::mem::size_of;
        vec![
            ("key", size_of::<TaskKey>()),
            ("state", size_of::<TaskState>()),
            ("spec", size_of::<SpecRef>()),
            ("deps", size_of::<Ids>()),
            ("dependents", size_of::<Ids>()),
            ("waiting_on+waiters", 8),
            ("who_wants", size_of::<Ids>()),
            ("who_has", size_of::<Ids>()),
            ("nbytes+priority", 16),
            ("prefix+est_us", 8),
            ("flags", 3),
            ("total", size_of::<Option<Task>>()),
        ]
    }

    /// Where the memory of the task records goes, by part, in bytes (an estimate from sizes and
    /// capacities, not a measurement: `examples/state_memory.rs` compares it with the RSS).
    pub fn memory_parts(&self) -> Vec<(&'static str, u64)> {
        let slots = self.tasks.capacity() as u64;
        let spilled: usize = self
            .tasks
            .iter()
            .map(|(_, t)| {
                t.deps.heap_bytes()
                    + t.dependents.heap_bytes()
                    + t.who_wants.heap_bytes()
                    + t.who_has.heap_bytes()
            })
            .sum();
        vec![
            ("record", slots * std::mem::size_of::<Option<Task>>() as u64),
            ("key_names", self.names.heap_bytes() as u64),
            ("spec", self.specs.heap_bytes() as u64),
            ("id_lists_spilled", spilled as u64),
            ("index", self.index.capacity() as u64 * 5),
            ("free_ids", self.free_ids.capacity() as u64 * 4),
            ("root_queue", self.queued.len() as u64 * 24),
        ]
    }
}
