//! What the dashboard shows: plain data that a scheduler (or a profiler, for reports) fills in.
//! The same structures are the JSON API.

use serde::{Deserialize, Serialize};

/// One worker row of the status page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkerRow {
    /// The worker's name.
    pub name: String,
    /// Where it listens.
    pub address: String,
    /// Threads it runs tasks on.
    pub nthreads: u32,
    /// CPU use in percent of one core (can exceed 100 with several threads).
    pub cpu_percent: f64,
    /// Bytes of task results it holds in memory.
    pub memory_managed: u64,
    /// Other memory of its process (resident minus managed).
    pub memory_unmanaged: u64,
    /// Bytes of results spilled to disk.
    pub memory_spilled: u64,
    /// Its memory limit in bytes (0 = none).
    pub memory_limit: u64,
    /// Tasks running now.
    pub running: u32,
    /// Tasks assigned and ready to run.
    pub ready: u32,
    /// Bytes received from peers and clients.
    pub bytes_in: u64,
    /// Bytes sent to peers and clients.
    pub bytes_out: u64,
    /// `running`, `paused`, `closing`, ….
    pub status: String,
}

/// Progress of all tasks sharing one key prefix (one operation).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PrefixRow {
    /// The key prefix, e.g. `"add"` for `add-3fa9…`.
    pub prefix: String,
    /// Tasks waiting for inputs (or queued as roots).
    pub waiting: u64,
    /// Tasks running or assigned to a worker.
    pub processing: u64,
    /// Results held in memory.
    pub memory: u64,
    /// Failed tasks.
    pub erred: u64,
    /// Tasks finished in all (in memory, or released after use).
    pub done: u64,
}

/// One executed task, for the task stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskSpan {
    /// The task's key, printed.
    pub key: String,
    /// Its key prefix (the stream's colour).
    pub prefix: String,
    /// The worker that ran it.
    pub worker: String,
    /// The worker's thread.
    pub thread: u32,
    /// Start, in seconds since the source's epoch.
    pub start: f64,
    /// End, in seconds since the source's epoch.
    pub stop: f64,
    /// Whether it succeeded.
    pub ok: bool,
}

/// Cluster-wide figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    /// Tasks the scheduler knows of.
    pub tasks: u64,
    /// Tasks finished since start.
    pub completed: u64,
    /// Tasks failed since start.
    pub erred: u64,
    /// Recent throughput.
    pub tasks_per_second: f64,
    /// Connected clients.
    pub clients: u32,
    /// Bytes of results in memory across workers.
    pub bytes_in_memory: u64,
}

/// Everything the status page needs at one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// Seconds since the source's epoch.
    pub time: f64,
    /// Pass this back as `since` to get only newer task spans.
    pub cursor: u64,
    /// Worker table.
    pub workers: Vec<WorkerRow>,
    /// Progress per prefix.
    pub prefixes: Vec<PrefixRow>,
    /// Task spans finished after `since` (sampled when there are very many).
    pub stream: Vec<TaskSpan>,
    /// Cluster-wide figures.
    pub totals: Totals,
}

/// One input of a task, for the task page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DependencyState {
    /// The input's key.
    pub key: String,
    /// Its state (`memory`, `processing`, `waiting`, …).
    pub state: String,
    /// Workers that hold it.
    pub workers: Vec<String>,
    /// Its size, when known.
    pub nbytes: Option<u64>,
}

/// Why a task is where it is: the task page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskDetail {
    /// The key.
    pub key: String,
    /// Its state.
    pub state: String,
    /// The worker running it or holding its result.
    pub worker: Option<String>,
    /// The worker it is queued on, if assigned but not started.
    pub queued_on: Option<String>,
    /// Its priority (lower runs first).
    pub priority: Option<i64>,
    /// Its result's size, when known.
    pub nbytes: Option<u64>,
    /// Its inputs and where they are.
    pub dependencies: Vec<DependencyState>,
    /// Keys waiting for it.
    pub dependents: Vec<String>,
    /// A sentence a person can read: why it waits, or what it did.
    pub explanation: String,
}

/// A small graph for the graph page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GraphView {
    /// Nodes: key, prefix, state.
    pub nodes: Vec<GraphNode>,
    /// Edges as (input, output) indices into `nodes`.
    pub edges: Vec<(u32, u32)>,
    /// Whether the graph was larger than the page shows.
    pub truncated: bool,
}

/// A node of [`GraphView`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GraphNode {
    /// The key.
    pub key: String,
    /// Its prefix.
    pub prefix: String,
    /// Its state.
    pub state: String,
}

/// What a live dashboard reads. The scheduler implements it; calls must be cheap (they run on
/// the dashboard's threads a few times per second per open page).
pub trait Source: Send + Sync + 'static {
    /// The current picture, with task spans newer than `since`.
    fn snapshot(&self, since: u64) -> Snapshot;
    /// One task, by its printed key.
    fn task(&self, key: &str) -> Option<TaskDetail>;
    /// The graph of current tasks, up to `max_nodes` nodes.
    fn graph(&self, max_nodes: usize) -> GraphView;
}
