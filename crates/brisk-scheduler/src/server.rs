//! The tokio shell around [`SchedulerState`]: accepts connections, runs handshakes, decodes
//! batches into events for one core task that owns the state, and writes each connection's
//! outgoing messages as one batch per wake-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use brisk_protocol::conn::{Connection, Listener, MessageWriter};
use brisk_protocol::frame::encode_message;
use brisk_protocol::launch::{LaunchOptions, RunningScheduler, SchedulerLauncher};
use brisk_protocol::messages::{
    ClusterInfo, FromClient, FromWorker, Role, ToClient, ToWorker, WorkerRegistration,
};
use brisk_protocol::{ClientId, ProtocolError, Security, WorkerId};
use rustc_hash::FxHashMap;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::client_line::{ClientLine, client_queue_limit};
use crate::state::{Comm, SchedulerConfig, SchedulerState};

/// How to run a scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Host to listen on.
    pub host: String,
    /// Port (0: any free port).
    pub port: u16,
    /// Token and TLS.
    pub security: Security,
    /// State-machine tunables.
    pub config: SchedulerConfig,
    /// Serve the live dashboard on this port (0: any free port; `None`: no dashboard).
    pub dashboard_port: Option<u16>,
    /// When the dashboard's port is taken, serve it on any free port instead of failing (what
    /// `brisk scheduler` does for its default port, 8787, as Dask does).
    pub dashboard_fallback: bool,
    /// How often the dashboard pushes an update to an open page.
    pub dashboard_interval: Duration,
    /// Threads of the I/O runtime (1: everything on the scheduler's own thread).
    pub threads: usize,
    /// Listen on a non-loopback host with no token and no TLS anyway (otherwise [`start`]
    /// refuses: anyone who could reach the port could read data and stop the cluster).
    pub insecure: bool,
    /// Journal the clients' work to this file and recover it from there when started again
    /// (see `journal.rs`); `None`: a restart starts empty.
    pub journal: Option<std::path::PathBuf>,
    /// With a journal: how long a client that lost its connection keeps its work for it to
    /// resume (and after a restart, how long the clients of before have to come back).
    pub resume_grace: Duration,
    /// After a restart: how long to wait for the workers of before (they hold the values
    /// computed then) before computing again what they held.
    pub recovery_wait: Duration,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            host: "127.0.0.1".into(),
            port: 8786,
            security: Security::none(),
            config: SchedulerConfig::default(),
            dashboard_port: None,
            dashboard_fallback: false,
            dashboard_interval: Duration::from_millis(250),
            threads: 1,
            insecure: false,
            journal: None,
            resume_grace: Duration::from_secs(60),
            recovery_wait: Duration::from_secs(10),
        }
    }
}

pub(crate) enum Event {
    WorkerJoined(
        WorkerId,
        WorkerRegistration,
        mpsc::UnboundedSender<Vec<ToWorker>>,
    ),
    Worker(WorkerId, Vec<FromWorker>),
    WorkerGone(WorkerId, String),
    /// A client connected (asking to resume the client it was); the reply is its id.
    ClientJoined(
        ClientId,
        ClientLine,
        Option<ClientId>,
        oneshot::Sender<ClientId>,
    ),
    Client(ClientId, Vec<FromClient>),
    ClientGone(ClientId),
    Snapshot(oneshot::Sender<ClusterInfo>),
    Dashboard(crate::dashboard::Request),
}

/// A running scheduler. Dropping the handle does not stop it; call [`SchedulerHandle::shutdown`].
pub struct SchedulerHandle {
    address: String,
    stop: watch::Sender<bool>,
    events: mpsc::UnboundedSender<Event>,
    stopped: Arc<AtomicBool>,
    thread: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
    dashboard: Option<String>,
}

impl SchedulerHandle {
    /// The address workers and clients connect to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The dashboard's address, when serving one.
    pub fn dashboard_address(&self) -> Option<&str> {
        self.dashboard.as_deref()
    }

    /// A snapshot of the cluster.
    pub fn snapshot(&self) -> Option<ClusterInfo> {
        let (tx, rx) = oneshot::channel();
        self.events.send(Event::Snapshot(tx)).ok()?;
        rx.blocking_recv().ok()
    }

    /// Stop serving and wait for the scheduler's thread.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }

    /// Block until the scheduler stops (a client asked for shutdown, or [`Self::shutdown`]).
    pub fn wait(&self) {
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }

    /// Whether the scheduler has stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

impl RunningScheduler for SchedulerHandle {
    fn address(&self) -> String {
        self.address.clone()
    }
    fn shutdown(&self) {
        SchedulerHandle::shutdown(self);
    }
    fn dashboard_address(&self) -> Option<String> {
        self.dashboard.clone()
    }
}

inventory::submit! {
    SchedulerLauncher {
        start: |o: LaunchOptions| {
            let h = start(SchedulerOptions {
                host: o.host,
                port: o.port,
                security: o.security,
                dashboard_port: o.dashboard_port,
                dashboard_fallback: true,
                ..SchedulerOptions::default()
            })?;
            Ok(Box::new(h) as Box<dyn RunningScheduler>)
        },
    }
}

/// Start a scheduler on its own thread; returns once it listens.
///
/// Refuses ([`ProtocolError::Insecure`]) to listen on a host reachable from other machines
/// without a token or TLS unless `options.insecure`. The dashboard listens on the same host and
/// asks for the same credential: the token (cookie, `?token=` link or header), and it is
/// served over HTTPS when the cluster uses TLS.
pub fn start(options: SchedulerOptions) -> Result<SchedulerHandle, ProtocolError> {
    brisk_protocol::credentials::check_listen(
        "the scheduler",
        &options.host,
        &options.security,
        options.insecure,
    )?;
    // One thread (the default) runs the state machine and every connection without any
    // cross-thread wake-ups, like Dask's scheduler; more threads spread encoding.
    let rt = if options.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .thread_name("brisk-scheduler")
            .enable_all()
            .build()
    }
    .map_err(|e| ProtocolError::io("cannot start the scheduler's runtime", e))?;
    let listener = rt.block_on(Listener::bind(
        &options.host,
        options.port,
        &options.security,
    ))?;
    let address = listener.address().to_string();
    let journal = match &options.journal {
        Some(path) => Some(crate::journal::Journal::open(path)?),
        None => None,
    };
    // Ids of connections continue after those of the journal's clients.
    let first_id = journal
        .as_ref()
        .and_then(|(_, r)| {
            r.entries
                .iter()
                .filter_map(|e| match e {
                    crate::journal::Entry::ClientJoined(c) => Some(*c),
                    _ => None,
                })
                .max()
        })
        .map_or(1, |m| m.saturating_add(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let epoch = Instant::now();
    let dashboard = match options.dashboard_port {
        Some(port) => Some(start_dashboard(
            &options,
            port,
            &listener.address().host,
            epoch,
            ev_tx.clone(),
        )?),
        None => None,
    };
    let stopped = Arc::new(AtomicBool::new(false));
    let stopped2 = Arc::clone(&stopped);
    let ev_tx2 = ev_tx.clone();
    let addr2 = address.clone();
    let dash_addr = dashboard.as_ref().map(|d| d.link.clone());
    let thread = std::thread::Builder::new()
        .name("brisk-scheduler".into())
        .spawn(move || {
            // Mark the scheduler stopped however the core ends (an internal error panics).
            struct Stopped(Arc<AtomicBool>);
            impl Drop for Stopped {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let _stopped = Stopped(stopped2);
            let (shared, server, link) = match dashboard {
                Some(d) => (Some(d.shared), Some(d.server), Some(d.link)),
                None => (None, None, None),
            };
            rt.block_on(async move {
                tokio::spawn(accept_loop(
                    listener,
                    first_id,
                    ev_tx2,
                    stop_rx.clone(),
                    Arc::new(crate::executables::Executables::new()),
                ));
                let core_options = CoreOptions {
                    address: addr2,
                    config: options.config,
                    epoch,
                    dashboard: shared,
                    dashboard_link: link,
                    journal,
                    resume_grace: options.resume_grace,
                    recovery_wait: options.recovery_wait,
                };
                core(core_options, ev_rx, stop_rx).await;
            });
            drop(server);
            rt.shutdown_timeout(Duration::from_millis(200));
        })
        .map_err(|e| ProtocolError::io("cannot start the scheduler's thread", e))?;
    tracing::info!(address = %address, "scheduler listening");
    Ok(SchedulerHandle {
        address,
        stop: stop_tx,
        events: ev_tx,
        stopped,
        thread: parking_lot::Mutex::new(Some(thread)),
        dashboard: dash_addr,
    })
}

#[derive(Default)]
struct ShellComm {
    workers: FxHashMap<WorkerId, Vec<ToWorker>>,
    clients: FxHashMap<ClientId, Vec<ToClient>>,
}

impl Comm for ShellComm {
    fn send_worker(&mut self, w: WorkerId, msg: ToWorker) {
        self.workers.entry(w).or_default().push(msg);
    }
    fn send_client(&mut self, c: ClientId, msg: ToClient) {
        self.clients.entry(c).or_default().push(msg);
    }
}

struct CoreOptions {
    address: String,
    config: SchedulerConfig,
    epoch: Instant,
    dashboard: Option<Arc<crate::dashboard::Shared>>,
    dashboard_link: Option<String>,
    journal: Option<(crate::journal::Journal, crate::journal::Replay)>,
    resume_grace: Duration,
    recovery_wait: Duration,
}

/// The dashboard's server and the copy of the state it reads.
struct Dashboard {
    server: brisk_dashboard::server::Running,
    shared: Arc<crate::dashboard::Shared>,
    link: String,
}

fn start_dashboard(
    options: &SchedulerOptions,
    port: u16,
    shown_host: &str,
    epoch: Instant,
    events: mpsc::UnboundedSender<Event>,
) -> Result<Dashboard, ProtocolError> {
    let shared = crate::dashboard::Shared::new(epoch);
    let source = || -> Arc<dyn brisk_dashboard::Source> {
        Arc::new(crate::dashboard::SchedulerSource::new(
            Arc::clone(&shared),
            events.clone(),
            options.dashboard_interval,
        ))
    };
    let at = |p: u16| {
        let h = options.host.trim_start_matches('[').trim_end_matches(']');
        if h.contains(':') {
            format!("[{h}]:{p}")
        } else {
            format!("{h}:{p}")
        }
    };
    let access = brisk_dashboard::server::Access {
        token: options.security.token.clone(),
        tls: match options.security.tls {
            Some(_) => Some(options.security.https_config()?),
            None => None,
        },
    };
    let server = match brisk_dashboard::server::Running::start_with(
        &at(port),
        source(),
        options.dashboard_interval,
        access.clone(),
    ) {
        Ok(s) => s,
        Err(brisk_dashboard::DashboardError::Bind { source: e, .. })
            if options.dashboard_fallback
                && port != 0
                && e.kind() == std::io::ErrorKind::AddrInUse =>
        {
            let s = brisk_dashboard::server::Running::start_with(
                &at(0),
                source(),
                options.dashboard_interval,
                access,
            )
            .map_err(|e| {
                ProtocolError::io("cannot serve the dashboard", std::io::Error::other(e))
            })?;
            tracing::warn!(
                port,
                instead = s.addr().port(),
                "the dashboard's port is taken; serving it on another"
            );
            s
        }
        Err(e) => {
            return Err(ProtocolError::io(
                format!("cannot serve the dashboard on port {port}"),
                std::io::Error::other(e),
            ));
        }
    };
    let scheme = if server.is_https() { "https" } else { "http" };
    let link = format!("{scheme}://{shown_host}:{}", server.addr().port());
    tracing::info!(dashboard = %link, "dashboard listening");
    Ok(Dashboard {
        server,
        shared,
        link,
    })
}

/// A gap between ticks longer than this means the scheduler itself stalled.
const STALL: Duration = Duration::from_secs(1);

async fn core(
    options: CoreOptions,
    mut events: mpsc::UnboundedReceiver<Event>,
    mut stop: watch::Receiver<bool>,
) {
    let mut state = SchedulerState::new(options.config);
    state.set_address(options.address);
    state.set_epoch(options.epoch);
    state.set_dashboard_address(options.dashboard_link);
    let mut journal = options.journal.map(|(mut j, replay)| {
        replay_journal(
            &mut state,
            &mut j,
            replay,
            &options.resume_grace,
            options.recovery_wait,
        );
        j
    });
    let resume_grace = options.resume_grace;
    let dash = options.dashboard;
    // Task spans are logged while a page is open (or a client records).
    state.set_task_stream_watched(false);
    let window = state.config().task_stream_length;
    let mut early_mark = u64::MAX;
    let mut comm = ShellComm::default();
    let mut worker_tx: FxHashMap<WorkerId, mpsc::UnboundedSender<Vec<ToWorker>>> =
        FxHashMap::default();
    let mut client_tx: FxHashMap<ClientId, ClientLine> = FxHashMap::default();
    // Clients whose journaled messages were written in this round: they hear the count.
    let mut acks: Vec<ClientId> = Vec::new();
    // Workers joined or left: the journal's list of them follows.
    let mut workers_changed = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_tick = Instant::now();
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                workers_changed |= matches!(ev, Event::WorkerJoined(..) | Event::WorkerGone(..));
                let mut core = Core { state: &mut state, comm: &mut comm, worker_tx: &mut worker_tx, client_tx: &mut client_tx, dash: dash.as_deref(), journal: journal.as_mut(), acks: &mut acks, resume_grace, workers_changed: &mut workers_changed };
                core.handle(ev, Instant::now());
                let mut n = 0;
                while n < 4096 {
                    match events.try_recv() {
                        // Each event gets its own time: heartbeats set the workers' clock offsets.
                        Ok(ev) => {
                            if matches!(ev, Event::WorkerJoined(..) | Event::WorkerGone(..)) {
                                core.workers_changed();
                            }
                            core.handle(ev, Instant::now())
                        }
                        Err(_) => break,
                    }
                    n += 1;
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                // Ticks come every 100 ms: a long gap means this process did not run (SIGSTOP,
                // a stalled machine, a long handler), not that the workers fell silent.
                let gap = now.saturating_duration_since(last_tick);
                last_tick = now;
                if gap > STALL {
                    tracing::info!(
                        seconds = gap.as_secs_f64(),
                        "the scheduler did not tick for a while (stopped, or busy); the workers' \
                         silence meanwhile does not count against them"
                    );
                    state.scheduler_stalled(gap, now);
                }
                state.set_task_stream_watched(dash.as_ref().is_some_and(|d| d.page_open(now)));
                state.tick(now, &mut comm);
                let expired = state.expire_detached(now, &mut comm);
                if let Some(j) = journal.as_mut() {
                    for c in expired {
                        j.append(&crate::journal::Entry::ClientLeft(c));
                    }
                    if j.len() > JOURNAL_COMPACT_BYTES && state.num_tasks() == 0 {
                        j.compact();
                    }
                }
            }
            _ = stop.changed() => break,
        }
        if let Some(j) = journal.as_mut() {
            // Written before anyone hears of it.
            j.flush();
            for c in acks.drain(..) {
                if let Some(&upto) = j.received.get(&c) {
                    comm.send_client(c, ToClient::Journaled { upto });
                }
            }
        }
        for (w, msgs) in comm.workers.drain() {
            if let Some(tx) = worker_tx.get(&w) {
                let _ = tx.send(msgs);
            }
        }
        let mut unread = Vec::new();
        for (c, msgs) in comm.clients.drain() {
            if let Some(line) = client_tx.get(&c) {
                let n = msgs.len();
                let queued = line.queued.fetch_add(n, Ordering::Relaxed) + n;
                if queued > client_queue_limit() {
                    unread.push((c, queued));
                } else {
                    let _ = line.tx.send(msgs);
                }
            }
        }
        for (c, queued) in unread {
            // Dropping its line closes the connection; its keys are released now.
            tracing::warn!(
                client = c,
                queued,
                "a client does not read its messages; disconnecting it"
            );
            if let Some(line) = client_tx.remove(&c) {
                let _ = line.kick.send(true);
            }
            state.remove_client(c, &mut comm);
        }
        // A page is open and tasks finish fast: sample their spans before the log turns over.
        if let Some(d) = &dash
            && state.task_stream_cursor() >= early_mark
        {
            let now = Instant::now();
            if d.page_open(now) {
                d.publish_spans(&state, now);
            }
            early_mark = d.early_mark(window);
        } else if let Some(d) = &dash
            && early_mark == u64::MAX
        {
            early_mark = d.early_mark(window);
        }
        // Workers the state machine removed (no heartbeat) lose their connection.
        if worker_tx.len() != state.num_workers() {
            let live = state.worker_ids();
            worker_tx.retain(|w, _| live.contains(w));
        }
        if workers_changed
            || journal
                .as_ref()
                .is_some_and(|j| j.num_workers() != state.num_workers())
        {
            workers_changed = false;
            if let Some(j) = journal.as_mut() {
                j.set_workers(state.worker_names());
                j.flush();
            }
        }
        if state.shutdown_requested() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            break;
        }
    }
    tracing::info!("scheduler stopped");
}

/// A journal this large is compacted once no task is left.
const JOURNAL_COMPACT_BYTES: u64 = 1 << 20;

/// Rebuild the state from a journal: the clients and their graphs, with no worker; the
/// clients get `resume_grace` to come back and the workers `recovery_wait`.
fn replay_journal(
    state: &mut SchedulerState,
    journal: &mut crate::journal::Journal,
    replay: crate::journal::Replay,
    resume_grace: &Duration,
    recovery_wait: Duration,
) {
    use crate::journal::Entry;
    state.set_journaled(true);
    let now = Instant::now();
    let n = replay.entries.len();
    if replay.torn {
        tracing::warn!("the journal's last entry was cut short (killed mid-write); it is dropped");
    }
    let expected = journal.workers();
    let mut null = ShellComm::default();
    let started = Instant::now();
    let fresh = replay.entries.len() <= 1;
    if fresh {
        return;
    }
    // Nothing is placed while replaying (there is no worker yet).
    state.begin_recovery(expected.iter().cloned(), now + recovery_wait);
    for e in replay.entries {
        match e {
            Entry::ClientJoined(c) => {
                if !state.has_client(c) {
                    state.add_client(c, &mut null);
                }
            }
            Entry::Client(c, msgs) => {
                for m in msgs {
                    state.handle_client(c, m, &mut null);
                }
            }
            Entry::ClientLeft(c) => state.remove_client(c, &mut null),
            Entry::Start { .. }
            | Entry::Received(..)
            | Entry::WorkerJoined(_)
            | Entry::WorkerLeft(_) => {}
        }
        null.clients.clear();
        null.workers.clear();
    }
    for c in state.client_ids() {
        state.detach_client(c, now + *resume_grace);
    }
    tracing::info!(
        entries = n,
        clients = state.client_ids().len(),
        tasks = state.num_tasks(),
        workers_expected = expected.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "replayed the journal"
    );
    if expected.is_empty() {
        state.end_recovery(&mut null);
    }
}

/// What the core's event handler works on.
struct Core<'a> {
    state: &'a mut SchedulerState,
    comm: &'a mut ShellComm,
    worker_tx: &'a mut FxHashMap<WorkerId, mpsc::UnboundedSender<Vec<ToWorker>>>,
    client_tx: &'a mut FxHashMap<ClientId, ClientLine>,
    dash: Option<&'a crate::dashboard::Shared>,
    journal: Option<&'a mut crate::journal::Journal>,
    acks: &'a mut Vec<ClientId>,
    resume_grace: Duration,
    workers_changed: &'a mut bool,
}

impl Core<'_> {
    fn workers_changed(&mut self) {
        *self.workers_changed = true;
    }

    fn handle(&mut self, ev: Event, now: Instant) {
        let Core {
            state,
            comm,
            worker_tx,
            client_tx,
            dash,
            journal,
            acks,
            resume_grace,
            workers_changed: _,
        } = self;
        let comm = &mut **comm;
        match ev {
            Event::WorkerJoined(id, reg, tx) => {
                worker_tx.insert(id, tx);
                state.add_worker(id, reg, now, comm);
            }
            Event::Worker(id, msgs) => {
                for m in msgs {
                    state.handle_worker(id, m, now, comm);
                }
            }
            Event::WorkerGone(id, reason) => {
                worker_tx.remove(&id);
                state.remove_worker(id, &reason, comm);
            }
            Event::ClientJoined(id, line, resume, reply) => {
                let resumed = resume.filter(|&old| {
                    journal.is_some() && state.is_detached(old) && !client_tx.contains_key(&old)
                });
                match (resumed, journal.as_deref_mut()) {
                    (Some(old), Some(j)) => {
                        client_tx.insert(old, line);
                        let received = j.received.get(&old).copied().unwrap_or(0);
                        state.resume_client(old, received, comm);
                        let _ = reply.send(old);
                    }
                    (_, j) => {
                        if let Some(j) = j {
                            j.append(&crate::journal::Entry::ClientJoined(id));
                        }
                        client_tx.insert(id, line);
                        state.add_client(id, comm);
                        let _ = reply.send(id);
                    }
                }
            }
            Event::Client(id, msgs) => {
                if let Some(j) = journal.as_deref_mut()
                    && j.client(id, &msgs) > 0
                {
                    acks.push(id);
                }
                let mut goodbye = false;
                for m in msgs {
                    goodbye |= matches!(m, FromClient::Goodbye);
                    state.handle_client(id, m, comm);
                }
                if goodbye {
                    if let Some(j) = journal.as_deref_mut() {
                        j.append(&crate::journal::Entry::ClientLeft(id));
                    }
                    comm.clients.remove(&id);
                    state.remove_client(id, comm);
                }
            }
            Event::ClientGone(id) => {
                client_tx.remove(&id);
                comm.clients.remove(&id);
                match journal.as_deref_mut() {
                    // Its work waits for it to come back.
                    Some(_) if state.has_client(id) => {
                        state.detach_client(id, Instant::now() + *resume_grace);
                    }
                    _ => state.remove_client(id, comm),
                }
            }
            Event::Snapshot(tx) => {
                let _ = tx.send(state.snapshot());
            }
            Event::Dashboard(req) => {
                if let Some(d) = dash {
                    // A page is open: log task spans from now on.
                    state.set_task_stream_watched(true);
                    crate::dashboard::answer(state, d, req, now);
                }
            }
        }
    }
}

async fn accept_loop(
    listener: Listener,
    first_id: u32,
    events: mpsc::UnboundedSender<Event>,
    mut stop: watch::Receiver<bool>,
    programs: Arc<crate::executables::Executables>,
) {
    let mut next_id: u32 = first_id.max(1);
    loop {
        let pending = tokio::select! {
            p = listener.accept() => p,
            _ = stop.changed() => return,
        };
        let pending = match pending {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = next_id;
        next_id = next_id.wrapping_add(1).max(1);
        let events = events.clone();
        let stop = stop.clone();
        let programs = Arc::clone(&programs);
        tokio::spawn(async move {
            let peer = pending.peer().to_string();
            match pending
                .handshake("scheduler", &[Role::Worker, Role::Client])
                .await
            {
                Ok(conn) => serve_connection(id, conn, events, stop, programs).await,
                // Closed before a byte: a port probe (a test waiting for the port, a load
                // balancer's health check), not an attack.
                Err(ProtocolError::Closed { .. }) => {
                    tracing::debug!(peer = %peer, "a connection closed before its handshake")
                }
                Err(e) => tracing::warn!(peer = %peer, error = %e, "rejected a connection"),
            }
        });
    }
}

async fn serve_connection(
    id: u32,
    conn: Connection,
    events: mpsc::UnboundedSender<Event>,
    stop: watch::Receiver<bool>,
    programs: Arc<crate::executables::Executables>,
) {
    let Connection {
        mut reader,
        writer,
        peer,
        hello,
    } = conn;
    let role = hello.as_ref().map(|h| h.role);
    match role {
        Some(Role::Worker) => {
            let first: Result<Vec<FromWorker>, _> = reader.recv_msg().await;
            let (reg, rest) = match first {
                Ok(mut v) if matches!(v.first(), Some(FromWorker::Register(_))) => {
                    let FromWorker::Register(reg) = v.remove(0) else {
                        return;
                    };
                    (reg, v)
                }
                Ok(_) => {
                    tracing::warn!(peer = %peer, "a worker connection did not register first");
                    return;
                }
                Err(e) => {
                    tracing::warn!(peer = %peer, error = %e, "a worker failed to register");
                    return;
                }
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let _ = events.send(Event::WorkerJoined(id, reg, tx));
            // What came with the registration (the values it holds) after it joined.
            if !rest.is_empty() {
                let _ = events.send(Event::Worker(id, rest));
            }
            tokio::spawn(write_loop(writer, rx, stop, None));
            let reason = loop {
                match reader.recv_msg::<Vec<FromWorker>>().await {
                    Ok(msgs) => {
                        if events.send(Event::Worker(id, msgs)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.is_disconnect() => break "connection closed".to_string(),
                    Err(e) => {
                        tracing::warn!(peer = %peer, error = %e, "bad message from a worker");
                        break e.to_string();
                    }
                }
            };
            let _ = events.send(Event::WorkerGone(id, reason));
        }
        Some(Role::Client) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let replies = tx.clone();
            let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let (kick, mut kicked) = watch::channel(false);
            let (id_tx, id_rx) = oneshot::channel();
            let _ = events.send(Event::ClientJoined(
                id,
                ClientLine {
                    tx,
                    queued: Arc::clone(&queued),
                    kick: Arc::new(kick),
                },
                hello.as_ref().and_then(|h| h.resume),
                id_tx,
            ));
            // A resumed client goes on under the id it had.
            let Ok(id) = id_rx.await else { return };
            // The writer stops on the scheduler's stop or on this client's kick.
            let (both_tx, both_rx) = watch::channel(false);
            {
                let mut stop = stop.clone();
                let mut kicked = kicked.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = kicked.changed() => {}
                    }
                    let _ = both_tx.send(true);
                });
            }
            tokio::spawn(write_loop(writer, rx, both_rx, Some(Arc::clone(&queued))));
            loop {
                let got = tokio::select! {
                    m = reader.recv_msg::<Vec<FromClient>>() => m,
                    _ = kicked.changed() => break,
                };
                match got {
                    Ok(mut msgs) => {
                        // Programs for the workers are files, answered here.
                        if msgs.iter().any(crate::executables::is_program_message) {
                            let (prog, rest): (Vec<_>, Vec<_>) = msgs
                                .into_iter()
                                .partition(crate::executables::is_program_message);
                            for m in prog {
                                let p = Arc::clone(&programs);
                                if let Ok(reply) = tokio::task::spawn_blocking(move || {
                                    crate::executables::program_reply(&p, m)
                                })
                                .await
                                {
                                    queued.fetch_add(1, Ordering::Relaxed);
                                    let _ = replies.send(vec![reply]);
                                }
                            }
                            msgs = rest;
                            if msgs.is_empty() {
                                continue;
                            }
                        }
                        if events.send(Event::Client(id, msgs)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        if !e.is_disconnect() {
                            tracing::warn!(peer = %peer, error = %e, "bad message from a client");
                        }
                        break;
                    }
                }
            }
            let _ = events.send(Event::ClientGone(id));
        }
        _ => {}
    }
}

async fn write_loop<T: Serialize>(
    mut writer: MessageWriter,
    mut rx: mpsc::UnboundedReceiver<Vec<T>>,
    mut stop: watch::Receiver<bool>,
    queued: Option<Arc<std::sync::atomic::AtomicUsize>>,
) {
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = stop.changed() => None,
        };
        let Some(mut batch) = batch else { break };
        while let Ok(more) = rx.try_recv() {
            batch.extend(more);
            if batch.len() > 20_000 {
                break;
            }
        }
        let raw = match encode_message(&batch) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a message");
                continue;
            }
        };
        if writer.send(&raw).await.is_err() {
            break;
        }
        if let Some(q) = &queued {
            q.fetch_sub(batch.len(), Ordering::Relaxed);
        }
    }
    writer.shutdown().await;
}

/// Run a scheduler until SIGINT/SIGTERM (or a client's shutdown request); `on_ready` gets the
/// handle once it listens (to print or write its address).
pub fn run_until_signal(
    options: SchedulerOptions,
    on_ready: impl FnOnce(&SchedulerHandle),
) -> Result<(), ProtocolError> {
    let handle = start(options)?;
    on_ready(&handle);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ProtocolError::io("cannot start a signal runtime", e))?;
    rt.block_on(async {
        #[cfg(unix)]
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| ProtocolError::io("cannot watch SIGTERM", e))?;
        loop {
            #[cfg(unix)]
            let sig = async {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            };
            #[cfg(not(unix))]
            let sig = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            tokio::select! {
                _ = sig => {
                    tracing::info!("scheduler stopping on a signal");
                    break;
                }
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    if handle.is_stopped() {
                        break;
                    }
                }
            }
        }
        Ok::<(), ProtocolError>(())
    })?;
    let _ = handle.stop.send(true);
    let thread = handle.thread.lock().take();
    if let Some(t) = thread
        && t.join().is_err()
    {
        return Err(ProtocolError::io(
            "the scheduler",
            std::io::Error::other("stopped on an internal error (see the log above)"),
        ));
    }
    Ok(())
}
