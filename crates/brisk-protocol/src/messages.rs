//! The messages of the distributed runtime. Every frame carries a batch (`Vec<_>`) of one of
//! these enums, so that thousands of small updates share one write and one wake-up.
//!
//! | connection | first message | then |
//! |---|---|---|
//! | worker → scheduler | [`Hello`] with [`Role::Worker`], [`FromWorker::Register`] | [`FromWorker`] ⇄ [`ToWorker`] |
//! | client → scheduler | [`Hello`] with [`Role::Client`] | [`FromClient`] ⇄ [`ToClient`] |
//! | peer (worker or client) → worker | [`Hello`] with [`Role::Peer`] | [`PeerRequest`] ⇄ [`PeerReply`] |

use brisk_core::Key;
use serde::{Deserialize, Serialize};

use crate::Payload;
use crate::spec::WireFailure;

/// A worker's id, given by the scheduler when it registers.
pub type WorkerId = u32;
/// A client's id, given by the scheduler when it connects.
pub type ClientId = u32;

/// Who is connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// A worker joining the scheduler.
    Worker,
    /// A client of the scheduler.
    Client,
    /// A worker or client fetching data from a worker.
    Peer,
}

/// The first framed message of every connection, from the side that connected.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    /// Who is connecting.
    pub role: Role,
    /// The shared token, when the cluster uses one.
    pub token: Option<String>,
    /// A name for logs.
    pub name: String,
    /// The Brisk version of the connecting program.
    pub brisk_version: String,
    /// A client reconnecting after losing its scheduler: the id it had, so that a scheduler
    /// that kept its work (a journal, see `brisk scheduler --journal`) gives it back.
    pub resume: Option<ClientId>,
}

/// The answer to a [`Hello`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum HelloReply {
    /// Accepted.
    Welcome {
        /// The server's name for logs.
        server: String,
    },
    /// Refused, with the reason.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// A value in transit: its codec tag and encoded bytes (a raw frame).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncodedValue {
    /// The registered type tag ([`brisk_core::codec`]).
    pub tag: String,
    /// The encoded bytes.
    pub bytes: Payload,
}

/// What a worker tells the scheduler about itself when it joins.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerRegistration {
    /// A name for logs and the dashboard.
    pub name: String,
    /// Threads that run tasks.
    pub nthreads: u32,
    /// The memory limit in bytes (0: none).
    pub memory_limit: u64,
    /// Where peers fetch data from this worker.
    pub peer_address: String,
    /// The operating-system process id.
    pub pid: u32,
    /// The worker's clock when it sent this (µs since it started; see [`TaskTiming`]).
    pub clock_us: u64,
}

/// A dependency of a task sent to a worker: where its data lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DepInfo {
    /// The dependency's key.
    pub key: Key,
    /// Its size in bytes.
    pub nbytes: u64,
    /// The workers holding it.
    pub who_has: Vec<WorkerId>,
}

/// A task for a worker to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComputeTask {
    /// The task's key.
    pub key: Key,
    /// The encoded task ([`crate::spec`]).
    pub spec: Payload,
    /// Lower runs first.
    pub priority: u64,
    /// The dependencies, in the task's slot order.
    pub deps: Vec<DepInfo>,
    /// Attach the encoded result to the finish message when it is small (a client waits).
    pub send_result: bool,
}

/// Scheduler → worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToWorker {
    /// Registration accepted.
    Registered {
        /// The worker's id.
        id: WorkerId,
        /// How often to send heartbeats.
        heartbeat_ms: u64,
    },
    /// Peer addresses (sent on registration and when workers join or leave).
    Peers {
        /// New workers and their peer addresses.
        added: Vec<(WorkerId, String)>,
        /// Workers that left.
        removed: Vec<WorkerId>,
    },
    /// Run a task.
    Compute(ComputeTask),
    /// Forget these keys: drop their data, cancel their tasks.
    Free {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Give this task back if it has not started (work stealing).
    Steal {
        /// The task.
        key: Key,
    },
    /// Store a value sent by a client (`scatter`).
    Store {
        /// Its key.
        key: Key,
        /// The value.
        value: EncodedValue,
    },
    /// Fetch these keys from worker `from` and keep them (copies of the values of a retiring
    /// worker); answered with one [`FromWorker::Stored`] per key that arrived.
    Acquire {
        /// The keys.
        keys: Vec<Key>,
        /// The worker that holds them.
        from: WorkerId,
    },
    /// Shut down.
    Close {
        /// Why.
        reason: String,
    },
}

/// Worker → scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromWorker {
    /// The first message: who the worker is.
    Register(WorkerRegistration),
    /// Values this worker already holds when it registers (it kept them while it reconnected:
    /// the scheduler restarted, or the connection blipped), with their sizes. The scheduler
    /// takes the ones it still has records for and frees the rest.
    Holds {
        /// Keys and sizes.
        keys: Vec<(Key, u64)>,
    },
    /// A task finished and its value is in the worker's memory.
    Finished {
        /// The task.
        key: Key,
        /// The value's size.
        nbytes: u64,
        /// When and on which thread it ran (`None`: it did not run, the value was here).
        timing: Option<TaskTiming>,
        /// The encoded value, when asked for and small.
        value: Option<EncodedValue>,
    },
    /// A task failed.
    Erred {
        /// The task.
        key: Key,
        /// Why, with the original message.
        failure: WireFailure,
        /// When and on which thread it ran (`None`: it never started).
        timing: Option<TaskTiming>,
    },
    /// The answer to a [`ToWorker::Steal`].
    StealReply {
        /// The task.
        key: Key,
        /// `true`: the worker dropped the task and will not run it.
        accepted: bool,
    },
    /// A dependency could not be fetched from the worker said to hold it.
    Missing {
        /// The dependency.
        key: Key,
        /// The worker that did not deliver it.
        holder: WorkerId,
    },
    /// A scattered value is stored.
    Stored {
        /// Its key.
        key: Key,
        /// Its size.
        nbytes: u64,
    },
    /// Still alive; how things are.
    Heartbeat(WorkerMetrics),
    /// Memory use crossed the pause threshold (`true`) or fell back under it (`false`).
    Paused(bool),
    /// The worker was asked to stop (SIGTERM, SIGINT): retire it gracefully (its values move
    /// to other workers) and then close it.
    Retire,
}

/// When and where a task ran on its worker: µs on the worker's own clock (time since the worker
/// started), which the scheduler maps onto its clock with the `clock_us` of registrations and
/// heartbeats (the task stream of the dashboard and of performance reports).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskTiming {
    /// Start, µs on the worker's clock.
    pub start_us: u64,
    /// End, µs on the worker's clock.
    pub stop_us: u64,
    /// The worker thread that ran it.
    pub thread: u32,
}

impl TaskTiming {
    /// How long the task ran, in µs.
    pub fn duration_us(&self) -> u64 {
        self.stop_us.saturating_sub(self.start_us)
    }
}

/// A worker's state in numbers, for the scheduler, the dashboard and tests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkerMetrics {
    /// Bytes of values held in memory.
    pub managed_bytes: u64,
    /// Bytes of values spilled to disk.
    pub spilled_bytes: u64,
    /// The most bytes held in memory at once.
    pub peak_managed_bytes: u64,
    /// Resident memory of the process, when known.
    pub rss_bytes: u64,
    /// Tasks running now.
    pub executing: u32,
    /// Tasks ready to run.
    pub ready: u32,
    /// Values held (memory and disk).
    pub stored_keys: u32,
    /// Tasks finished since the worker started.
    pub tasks_done: u64,
    /// Values spilled to disk since the worker started.
    pub spill_count: u64,
    /// Threads running a task right now.
    pub running: u32,
    /// CPU use of the worker process since the previous heartbeat, in percent of one core.
    pub cpu_percent: f64,
    /// Bytes of values received (fetched from peers, scattered by clients) since it started.
    pub bytes_in: u64,
    /// Bytes of values sent to peers and clients since it started.
    pub bytes_out: u64,
    /// The worker's clock when it sent this (µs since it started; see [`TaskTiming`]).
    pub clock_us: u64,
}

/// A new task from a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTask {
    /// Its key.
    pub key: Key,
    /// Its dependencies in slot order.
    pub deps: Vec<Key>,
    /// Its position in the graph's static order (lower first).
    pub priority: u32,
    /// The encoded task.
    pub spec: Payload,
    /// How many times to retry a failure.
    pub retries: u8,
}

/// Client → scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromClient {
    /// Add tasks and say which keys this client wants.
    UpdateGraph {
        /// New tasks (tasks the cluster already knows are kept as they are).
        tasks: Vec<NewTask>,
        /// Keys this client holds futures for.
        wanted: Vec<Key>,
    },
    /// One piece of a graph sent in several messages (so that no message grows with the
    /// graph). Pieces of one `graph` number arrive in order; the scheduler starts on what it
    /// has as it arrives and checks the whole graph (missing keys, cycles) at the `last` piece.
    /// A one-message graph is an [`FromClient::UpdateGraph`].
    GraphPiece {
        /// The graph's number, unique on this connection.
        graph: u64,
        /// New tasks; dependencies come before their dependents (a task whose dependency has
        /// not arrived yet waits for it, and errs if the graph ends without it).
        tasks: Vec<NewTask>,
        /// Keys this client holds futures for (of this piece or an earlier one).
        wanted: Vec<Key>,
        /// The graph is complete.
        last: bool,
    },
    /// This client no longer needs these keys.
    Release {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Put known values into the cluster.
    Scatter {
        /// Keys and values.
        items: Vec<(Key, EncodedValue)>,
    },
    /// Ask for a snapshot of the cluster.
    Info {
        /// Echoed in the reply.
        request: u64,
    },
    /// Ask for the task stream (when and where tasks ran) from position `since` on; the
    /// reply's `cursor` is where to continue. `keep: true` makes the scheduler keep every
    /// span from `since` on (not just its recent window) until this client asks again with
    /// `keep: false` or disconnects: this is how a performance report records a whole
    /// computation.
    TaskStream {
        /// Echoed in the reply.
        request: u64,
        /// First position wanted (`u64::MAX`: none, only the current cursor).
        since: u64,
        /// Keep recording from `since` for this client.
        keep: bool,
    },
    /// Retire these workers (by name or peer address) gracefully: no new tasks go to them,
    /// their running tasks finish, every value only they hold is copied to another worker, and
    /// then they close. Progress shows in [`ClusterInfo`] ([`WorkerSummary::retiring`],
    /// [`ClusterInfo::workers_retired`]); a worker that cannot retire (no other worker to take
    /// its values) stays with `retiring: false`.
    RetireWorkers {
        /// Names or peer addresses.
        workers: Vec<String>,
    },
    /// Ask every worker to close and the scheduler to stop.
    Shutdown,
    /// The client is closing on purpose: a scheduler that keeps the work of clients that
    /// lost their connection (`--journal`) releases this one's at once instead.
    Goodbye,
    /// Store a chunk of a program (see [`crate::executable`]): chunks of one `hash` arrive
    /// in order from `offset` 0; an empty chunk at offset 0 asks how much is stored. The
    /// scheduler checks the content against `hash` when `total` bytes are in. Answered by
    /// [`ToClient::Executable`] (handled by the connection, not the scheduler's state).
    PutExecutable {
        /// Echoed in the reply.
        request: u64,
        /// The program's [`crate::executable::hash`].
        hash: String,
        /// Where this chunk starts.
        offset: u64,
        /// The program's size.
        total: u64,
        /// The bytes.
        data: Payload,
    },
    /// Read a chunk of a stored program (workers fetch programs this way).
    GetExecutable {
        /// Echoed in the reply.
        request: u64,
        /// The program.
        hash: String,
        /// From here.
        offset: u64,
        /// At most this many bytes.
        len: u64,
    },
}

impl FromClient {
    /// Whether the message changes what the scheduler must remember for the client (graphs,
    /// releases, scattered values): a journaling scheduler writes these down and counts them,
    /// and a reconnecting client sends again the ones not yet counted.
    pub fn is_journaled(&self) -> bool {
        matches!(
            self,
            FromClient::UpdateGraph { .. }
                | FromClient::GraphPiece { .. }
                | FromClient::Release { .. }
                | FromClient::Scatter { .. }
        )
    }
}

/// Scheduler → client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToClient {
    /// The client's id.
    Welcome {
        /// The id.
        id: ClientId,
        /// The scheduler journals this client's graphs ([`ToClient::Journaled`] follows
        /// them): after losing the connection the client reconnects and resumes.
        journal: bool,
        /// The connection resumed the client named in its [`Hello::resume`]: how many of
        /// its journaled messages ([`FromClient::is_journaled`]) the scheduler has; the client
        /// sends the rest again. `None` for a new client (a resume the scheduler could not
        /// honour included: its work is gone).
        resumed: Option<u64>,
    },
    /// The scheduler has journaled this client's first `upto` journaled messages: the client
    /// need not keep them to send again after a reconnect.
    Journaled {
        /// A count of messages since the client first connected.
        upto: u64,
    },
    /// Worker addresses, for gathering data directly.
    Workers {
        /// New workers: id, peer address, name.
        added: Vec<(WorkerId, String, String)>,
        /// Workers that left.
        removed: Vec<WorkerId>,
    },
    /// A wanted key is in memory.
    InMemory {
        /// The key.
        key: Key,
        /// Its size.
        nbytes: u64,
        /// Where it lives.
        who_has: Vec<WorkerId>,
        /// The value itself, when small.
        value: Option<EncodedValue>,
    },
    /// A wanted key failed (itself, or the task it depends on: `cause`).
    Erred {
        /// The key.
        key: Key,
        /// The task that failed.
        cause: Key,
        /// Why.
        failure: WireFailure,
    },
    /// A wanted key's value was lost with a worker; it is being recomputed.
    Lost {
        /// The key.
        key: Key,
    },
    /// The answer to [`FromClient::Info`].
    Info {
        /// The request number.
        request: u64,
        /// The snapshot.
        info: ClusterInfo,
    },
    /// The answer to [`FromClient::TaskStream`].
    TaskStream {
        /// The request number.
        request: u64,
        /// The spans.
        stream: TaskStream,
    },
    /// The answer to [`FromClient::PutExecutable`] and [`FromClient::GetExecutable`].
    Executable {
        /// The request number.
        request: u64,
        /// Bytes stored so far (put), or where `data` starts (get).
        offset: u64,
        /// The program's size (0 when unknown).
        total: u64,
        /// The chunk read (get; empty for put).
        data: Payload,
        /// What went wrong (a hash mismatch, chunks out of order, no such program).
        error: Option<String>,
    },
}

/// One task run, on the scheduler's clock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskSpan {
    /// The task.
    pub key: Key,
    /// The worker that ran it (its name).
    pub worker: String,
    /// The worker's thread.
    pub thread: u32,
    /// Start, seconds since the scheduler started.
    pub start: f64,
    /// End, seconds since the scheduler started.
    pub stop: f64,
    /// Whether it succeeded.
    pub ok: bool,
}

/// Task spans from the scheduler's task stream ([`FromClient::TaskStream`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskStream {
    /// Ask from here next time.
    pub cursor: u64,
    /// The scheduler's clock now (seconds since it started).
    pub time: f64,
    /// The spans, oldest first.
    pub spans: Vec<TaskSpan>,
    /// Spans after `since` that were no longer kept (the stream keeps a recent window unless
    /// someone records).
    pub dropped: u64,
}

/// One worker in a [`ClusterInfo`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkerSummary {
    /// Its id.
    pub id: WorkerId,
    /// Its name.
    pub name: String,
    /// Its peer address.
    pub address: String,
    /// Its threads.
    pub nthreads: u32,
    /// Its memory limit.
    pub memory_limit: u64,
    /// Whether it paused for memory.
    pub paused: bool,
    /// Tasks assigned to it.
    pub processing: u32,
    /// Keys it holds, as the scheduler knows.
    pub has_what: u32,
    /// Its latest metrics.
    pub metrics: WorkerMetrics,
    /// Whether it is retiring (its values move to other workers before it closes).
    #[serde(default)]
    pub retiring: bool,
}

/// A snapshot of the cluster: the seam for dashboards and tests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClusterInfo {
    /// The scheduler's address.
    pub address: String,
    /// The dashboard's address (`http://host:port`), when it serves one.
    pub dashboard: Option<String>,
    /// The workers.
    pub workers: Vec<WorkerSummary>,
    /// Connected clients.
    pub clients: u32,
    /// Tasks per state name.
    pub tasks_by_state: Vec<(String, u64)>,
    /// Tasks waiting in the root queue.
    pub queued: u64,
    /// Tasks finished since start.
    pub tasks_done: u64,
    /// Values a worker still held when it joined (after the scheduler restarted, or after its
    /// connection blipped) and that were taken instead of being computed again.
    pub tasks_recovered: u64,
    /// Tasks that failed since start.
    pub tasks_erred: u64,
    /// Tasks moved by work stealing since start.
    pub tasks_stolen: u64,
    /// Workers lost since start (not counting retired ones).
    pub workers_lost: u64,
    /// Workers retired gracefully since start (their values moved to other workers first).
    #[serde(default)]
    pub workers_retired: u64,
}

/// Peer → worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PeerRequest {
    /// Send these values.
    GetData {
        /// The keys.
        keys: Vec<Key>,
    },
}

/// Worker → peer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PeerReply {
    /// The values (`None`: not here).
    Data {
        /// Key and value.
        items: Vec<(Key, Option<EncodedValue>)>,
    },
    /// A value could not be encoded.
    Error {
        /// The key.
        key: Key,
        /// What went wrong.
        message: String,
    },
}
