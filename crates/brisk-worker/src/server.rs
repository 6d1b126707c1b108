//! The tokio shell around [`WorkerState`]: the scheduler connection (register, heartbeats,
//! reconnect after a blip), the peer server that hands values to other workers and clients,
//! fetches of inputs from peers, the thread pool, the memory monitor, and clean shutdown on
//! SIGINT/SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brisk_core::Key;
use brisk_protocol::conn::{Connection, Listener, connect};
use brisk_protocol::messages::{
    FromWorker, PeerReply, PeerRequest, Role, ToWorker, WorkerMetrics, WorkerRegistration,
};
use brisk_protocol::peer::PeerPool;
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{Address, Security, WorkerId};
use tokio::sync::mpsc;

use crate::error::WorkerError;
use crate::metrics::{CpuMeter, Traffic, rss_bytes};
use crate::pool::{Done, Pool, PoolShared};
use crate::state::{Execute, MemoryPolicy, WorkerComm, WorkerState};
use crate::store::DataStore;

/// How to run a worker.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The scheduler's address (`tcp://host:8786`).
    pub scheduler: String,
    /// Threads that run tasks.
    pub nthreads: usize,
    /// Memory limit in bytes (0: none).
    pub memory_limit: u64,
    /// A name for logs (default: `worker-<pid>`).
    pub name: Option<String>,
    /// Where spilled values go (default: the system's temporary directory).
    pub local_directory: Option<PathBuf>,
    /// Token and TLS.
    pub security: Security,
    /// Host to listen on for peers (empty: 127.0.0.1 when the scheduler is on this machine,
    /// otherwise the address this machine reaches the scheduler from; never every interface
    /// unless asked).
    pub listen_host: String,
    /// Host others reach this worker at (default: the address used to reach the scheduler).
    pub contact_host: Option<String>,
    /// Port for peers (0: any free port; a fixed one for container port mappings and TCP
    /// liveness probes).
    pub listen_port: u16,
    /// Give up when the scheduler is unreachable this long (0: exit as soon as it is lost).
    pub death_timeout: Duration,
    /// Spill values past this fraction of the memory limit (managed bytes), down to it.
    pub spill_fraction: f64,
    /// Spill values also when the process's own memory (the worker and its task executors,
    /// less what it used when it started: memory the work holds outside the store counts
    /// too) passes this fraction of the limit, down to `spill_fraction` (Dask's
    /// `distributed.worker.memory.spill`, 0.7). Pausing uses the same measure.
    pub process_spill_fraction: f64,
    /// Stop starting tasks past this fraction of the memory limit.
    pub pause_fraction: f64,
    /// Results up to this size go to a waiting client with the finish message.
    pub inline_result_limit: u64,
    /// On SIGTERM/SIGINT, wait this long for the scheduler to move this worker's values to
    /// other workers and close it (graceful retirement) before exiting anyway; a second signal
    /// exits at once. Zero: exit at once.
    pub retire_timeout: Duration,
    /// Listen on a non-loopback host with no token and no TLS anyway (otherwise [`run`]
    /// refuses: anyone who could reach the peer port could read this worker's data).
    pub insecure: bool,
    /// Retire and exit this long after starting, as on SIGTERM (its values move to other
    /// workers first): a batch job's walltime minus a margin, so the job never ends with data
    /// in it (`--lifetime`, as in `dask worker`). `None`: live until told otherwise.
    pub lifetime: Option<Duration>,
}

impl WorkerOptions {
    /// Defaults for a worker of the scheduler at `scheduler`.
    pub fn new(scheduler: impl Into<String>) -> Self {
        WorkerOptions {
            scheduler: scheduler.into(),
            nthreads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_limit: 0,
            name: None,
            local_directory: None,
            security: Security::none(),
            listen_host: String::new(),
            contact_host: None,
            listen_port: 0,
            death_timeout: Duration::from_secs(60),
            spill_fraction: 0.6,
            process_spill_fraction: 0.7,
            pause_fraction: 0.8,
            inline_result_limit: 64 * 1024,
            retire_timeout: Duration::from_secs(30),
            insecure: false,
            lifetime: None,
        }
    }
}

/// Run a worker until the scheduler closes it, it cannot reach the scheduler for
/// `death_timeout`, or the process gets SIGINT/SIGTERM.
pub fn run(options: WorkerOptions) -> Result<(), WorkerError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| brisk_protocol::ProtocolError::io("cannot start the worker's runtime", e))?;
    rt.block_on(run_async(options))
}

enum Exit {
    Closed,
    Lost(String),
    Signal,
}

async fn run_async(options: WorkerOptions) -> Result<(), WorkerError> {
    let end_of_life = options.lifetime.map(|d| tokio::time::Instant::now() + d);
    let address = Address::parse(&options.scheduler)?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| format!("worker-{}", std::process::id()));
    let dir = options
        .local_directory
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("brisk-worker-{}", std::process::id()));
    let baseline = crate::nanny::tree_anon_rss(std::process::id());
    let store = Arc::new(DataStore::new(
        options.memory_limit,
        options.spill_fraction,
        dir,
    ));
    let listen_host = match options.listen_host.trim() {
        "" if brisk_protocol::credentials::is_loopback_host(&address.host) => "127.0.0.1".into(),
        "" => local_ip_towards(&address).unwrap_or_else(|| "127.0.0.1".into()),
        h => h.to_string(),
    };
    brisk_protocol::credentials::check_listen(
        "the worker's peer port",
        &listen_host,
        &options.security,
        options.insecure,
    )?;
    let listener = Listener::bind(&listen_host, options.listen_port, &options.security).await?;
    let port = listener.address().port;
    let traffic = Arc::new(Traffic::default());
    tokio::spawn(serve_peers(
        listener,
        Arc::clone(&store),
        name.clone(),
        Arc::clone(&traffic),
    ));
    let peers = Arc::new(PeerPool::new(options.security.clone(), name.clone()));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let shared = Arc::new(PoolShared {
        store: Arc::clone(&store),
        epoch: Instant::now(),
        running: std::sync::atomic::AtomicU32::new(0),
        inline_limit: options.inline_result_limit,
        programs: Arc::new(crate::programs::Programs::new(
            &options.scheduler,
            options.security.clone(),
            &options
                .local_directory
                .clone()
                .unwrap_or_else(std::env::temp_dir),
            options.nthreads,
        )),
    });
    let pool = Pool::new(options.nthreads, Arc::clone(&shared), done_tx)
        .map_err(|e| brisk_protocol::ProtocolError::io("cannot start worker threads", e))?;
    let mut cpu = CpuMeter::new();
    let mut lost_since: Option<Instant> = None;
    loop {
        let conn = connect(&address, &options.security, Role::Worker, &name).await;
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                if matches!(
                    e,
                    brisk_protocol::ProtocolError::Rejected { .. }
                        | brisk_protocol::ProtocolError::VersionMismatch { .. }
                        | brisk_protocol::ProtocolError::NotBrisk { .. }
                        | brisk_protocol::ProtocolError::SecurityMismatch { .. }
                        | brisk_protocol::ProtocolError::Tls { .. }
                ) {
                    return Err(e.into());
                }
                let since = *lost_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= options.death_timeout {
                    store.clear();
                    return Err(WorkerError::SchedulerGone {
                        address: address.to_string(),
                        seconds: options.death_timeout.as_secs(),
                        last: e.to_string(),
                    });
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = stop_requested(end_of_life) => return Ok(()),
                }
                continue;
            }
        };
        let contact = match &options.contact_host {
            Some(h) => h.clone(),
            // Listening on one address: that is where peers reach this worker.
            None if listen_host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| !ip.is_unspecified()) =>
            {
                listen_host.clone()
            }
            None if address.host == "localhost" || address.host.starts_with("127.") => {
                "127.0.0.1".into()
            }
            None => local_ip_towards(&address).unwrap_or_else(|| "127.0.0.1".into()),
        };
        let scheme = if options.security.tls.is_some() {
            "tls"
        } else {
            "tcp"
        };
        let peer_address = if contact.contains(':') && !contact.starts_with('[') {
            format!("{scheme}://[{contact}]:{port}")
        } else {
            format!("{scheme}://{contact}:{port}")
        };
        let reg = WorkerRegistration {
            name: name.clone(),
            nthreads: options.nthreads as u32,
            memory_limit: options.memory_limit,
            peer_address: peer_address.clone(),
            pid: std::process::id(),
            clock_us: shared.epoch.elapsed().as_micros() as u64,
        };
        let session = Session {
            end_of_life,
            options: &options,
            store: &store,
            pool: &pool,
            shared: &shared,
            peers: &peers,
            traffic: &traffic,
            baseline,
        };
        let exit = session.serve(conn, reg, &mut done_rx, &mut cpu).await;
        // Values are kept across a lost connection (offered to the scheduler it reaches next:
        // the same one after a blip, or one restarted from its journal), dropped on the way out.
        if !matches!(exit, Exit::Lost(_)) || options.death_timeout.is_zero() {
            store.clear();
        }
        match exit {
            Exit::Closed => {
                tracing::info!(worker = %name, "closed by the scheduler");
                return Ok(());
            }
            Exit::Signal => {
                tracing::info!(worker = %name, "stopping on a signal");
                return Ok(());
            }
            Exit::Lost(why) => {
                if options.death_timeout.is_zero() {
                    // Told to exit as soon as the scheduler is lost.
                    tracing::info!(worker = %name, reason = %why, "lost the scheduler; exiting");
                    return Ok(());
                }
                tracing::warn!(worker = %name, reason = %why, "lost the scheduler; reconnecting");
                lost_since = Some(Instant::now());
            }
        }
    }
}

fn local_ip_towards(address: &Address) -> Option<String> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect(address.host_port()).ok()?;
    Some(s.local_addr().ok()?.ip().to_string())
}

/// SIGINT/SIGTERM, or the end of the worker's lifetime.
async fn stop_requested(end_of_life: Option<tokio::time::Instant>) {
    match end_of_life {
        Some(end) => {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = tokio::time::sleep_until(end) => {
                    tracing::info!("this worker's lifetime is over");
                }
            }
        }
        None => shutdown_signal().await,
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

struct Session<'a> {
    /// The process's memory when the worker started (not the work's).
    baseline: u64,
    /// When the worker's `lifetime` ends.
    end_of_life: Option<tokio::time::Instant>,
    options: &'a WorkerOptions,
    store: &'a Arc<DataStore>,
    pool: &'a Pool,
    shared: &'a Arc<PoolShared>,
    peers: &'a Arc<PeerPool>,
    traffic: &'a Arc<Traffic>,
}

#[derive(Default)]
struct ShellComm {
    out: Vec<FromWorker>,
    exec: Vec<Execute>,
    fetch: Vec<(WorkerId, Vec<Key>)>,
    release: Vec<Key>,
}

impl WorkerComm for ShellComm {
    fn send(&mut self, msg: FromWorker) {
        self.out.push(msg);
    }
    fn execute(&mut self, job: Execute) {
        self.exec.push(job);
    }
    fn fetch(&mut self, from: WorkerId, keys: Vec<Key>) {
        self.fetch.push((from, keys));
    }
    fn release(&mut self, key: Key) {
        self.release.push(key);
    }
}

type Fetched = (WorkerId, Vec<Key>, Vec<(Key, u64)>);

impl Session<'_> {
    async fn serve(
        &self,
        conn: Connection,
        reg: WorkerRegistration,
        done_rx: &mut mpsc::UnboundedReceiver<Done>,
        cpu: &mut CpuMeter,
    ) -> Exit {
        let Connection {
            mut reader,
            mut writer,
            ..
        } = conn;
        let name = reg.name.clone();
        // Tasks that ended while no scheduler heard them: their values are in the store
        // (reported below with the rest); their reports are moot.
        while done_rx.try_recv().is_ok() {}
        let kept = self.store.held();
        let mut state = WorkerState::new(self.options.nthreads as u32);
        for (k, n) in &kept {
            state.held(k.clone(), *n);
        }
        if !kept.is_empty() {
            tracing::info!(worker = %name, values = kept.len(), "offering the values kept while reconnecting");
        }
        if let Err(e) = writer
            .send_msg(&vec![
                FromWorker::Register(reg),
                FromWorker::Holds { keys: kept },
            ])
            .await
        {
            return Exit::Lost(e.to_string());
        }
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<FromWorker>>();
        let writer_task = tokio::spawn(async move {
            while let Some(mut batch) = out_rx.recv().await {
                // Bounded frames: at most ~10k reports each, however fast tasks finish.
                while batch.len() < 10_000
                    && let Ok(more) = out_rx.try_recv()
                {
                    batch.extend(more);
                }
                if writer.send_msg(&batch).await.is_err() {
                    break;
                }
            }
            writer.shutdown().await;
        });
        let (in_tx, mut in_rx) = mpsc::unbounded_channel::<Result<Vec<ToWorker>, String>>();
        let reader_task = tokio::spawn(async move {
            loop {
                let r = reader.recv_msg::<Vec<ToWorker>>().await;
                let stop = r.is_err();
                if in_tx.send(r.map_err(|e| e.to_string())).is_err() || stop {
                    break;
                }
            }
        });
        let (fetch_tx, mut fetch_rx) = mpsc::unbounded_channel::<Fetched>();
        let (acquired_tx, mut acquired_rx) = mpsc::unbounded_channel::<crate::acquire::Acquired>();
        if self.options.memory_limit > 0 {
            state.set_memory_policy(Some(MemoryPolicy {
                limit: self.options.memory_limit,
                pause_fraction: self.options.pause_fraction,
            }));
        }
        let mut comm = ShellComm::default();
        let mut heartbeat = tokio::time::interval(Duration::from_millis(500));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut registered = false;
        // The process's memory beyond its baseline, measured every 100 ms when there is a limit.
        let limit = self.options.memory_limit;
        let mut monitor = tokio::time::interval(Duration::from_millis(100));
        monitor.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut process_used = 0u64;
        let mut process_memory = crate::process_memory::ProcessMemory::default();
        let mut nothing_to_spill = false;
        let signal = stop_requested(self.end_of_life);
        tokio::pin!(signal);
        // Set on the first signal: exit when the scheduler has not closed us by then.
        let mut retire_deadline: Option<tokio::time::Instant> = None;
        let exit = loop {
            tokio::select! {
                msg = in_rx.recv() => {
                    let msgs = match msg {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => break Exit::Lost(e),
                        None => break Exit::Lost("connection closed".into()),
                    };
                    let mut close = false;
                    let mut batch = Vec::with_capacity(msgs.len());
                    for m in msgs {
                        match m {
                            ToWorker::Registered { id, heartbeat_ms } => {
                                batch.push(ToWorker::Registered { id, heartbeat_ms });
                                registered = true;
                                tracing::info!(worker = %name, id, "registered with the scheduler");
                                heartbeat = tokio::time::interval(Duration::from_millis(heartbeat_ms.max(10)));
                                heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                            }
                            ToWorker::Close { reason } => {
                                tracing::info!(worker = %name, reason = %reason, "scheduler asks to close");
                                close = true;
                            }
                            ToWorker::Acquire { keys, from } => match state.peer_address(from) {
                                Some(addr) => crate::acquire::spawn(
                                    Arc::clone(self.peers),
                                    Arc::clone(self.store),
                                    Arc::clone(self.traffic),
                                    addr.to_string(),
                                    keys,
                                    acquired_tx.clone(),
                                ),
                                None => tracing::warn!(worker = %name, from, "asked to copy values of an unknown worker"),
                            },
                            ToWorker::Store { key, value } => {
                                self.traffic.received(value.bytes.len() as u64);
                                match self.store.put_encoded(key.clone(), &value) {
                                    Ok(n) => state.stored(key, n, &mut comm),
                                    Err(e) => {
                                        // Tell the scheduler, so the client's scatter fails
                                        // with the reason instead of waiting forever.
                                        tracing::warn!(error = %e, "cannot store a scattered value");
                                        comm.send(FromWorker::Erred {
                                            failure: WireFailure::msg(
                                                "error",
                                                format!("scatter: worker {name} cannot store {e}"),
                                            ),
                                            key,
                                            timing: None,
                                        });
                                    }
                                }
                            }
                            other => batch.push(other),
                        }
                    }
                    state.handle_batch(batch, &mut comm);
                    if close {
                        break Exit::Closed;
                    }
                }
                done = done_rx.recv() => {
                    let Some((key, outcome, timing)) = done else { break Exit::Lost("pool stopped".into()) };
                    state.task_done(&key, outcome, timing, &mut comm);
                    while let Ok((key, outcome, timing)) = done_rx.try_recv() {
                        state.task_done(&key, outcome, timing, &mut comm);
                    }
                }
                f = fetch_rx.recv() => {
                    if let Some((from, asked, got)) = f {
                        state.fetched(from, &asked, &got, &mut comm);
                    }
                }
                _ = heartbeat.tick() => {
                    if registered {
                        let s = self.store.stats();
                        let (bytes_in, bytes_out) = self.traffic.totals();
                        let mut m = WorkerMetrics {
                            managed_bytes: s.managed,
                            spilled_bytes: s.spilled,
                            peak_managed_bytes: s.peak,
                            rss_bytes: rss_bytes(),
                            stored_keys: s.keys as u32,
                            spill_count: s.spill_count,
                            running: self.shared.running.load(std::sync::atomic::Ordering::Relaxed),
                            cpu_percent: cpu.percent(),
                            bytes_in,
                            bytes_out,
                            clock_us: self.shared.epoch.elapsed().as_micros() as u64,
                            ..WorkerMetrics::default()
                        };
                        state.fill_metrics(&mut m);
                        comm.send(FromWorker::Heartbeat(m));
                    }
                }
                _ = monitor.tick(), if limit > 0 => {
                    let measure = || crate::nanny::tree_anon_rss(std::process::id())
                        .saturating_sub(self.baseline);
                    process_used = measure();
                    nothing_to_spill = false;
                    let spill_at = (limit as f64 * self.options.process_spill_fraction) as u64;
                    if process_used > spill_at {
                        // Freed memory the allocator kept is not the work's: give it back first.
                        crate::process_memory::trim_heap();
                        process_used = measure();
                    }
                    if process_used > spill_at {
                        let target = (limit as f64 * self.options.spill_fraction) as u64;
                        let n = self.store.spill_bytes(process_used - target);
                        nothing_to_spill = n == 0;
                        if n > 0 {
                            tracing::info!(
                                worker = %name, process = process_used, spilled = n,
                                "process memory past the spill threshold: spilled values to disk"
                            );
                        } else {
                            tracing::debug!(
                                worker = %name, process = process_used,
                                managed = self.store.stats().managed,
                                "process memory past the spill threshold and nothing left to spill (memory held outside the store)"
                            );
                        }
                    }
                }
                a = acquired_rx.recv() => {
                    for (key, n) in a.unwrap_or_default() {
                        state.stored(key, n, &mut comm);
                    }
                }
                _ = &mut signal, if retire_deadline.is_none() => {
                    if !registered || self.options.retire_timeout.is_zero() {
                        break Exit::Signal;
                    }
                    tracing::info!(worker = %name, "stopping: asking the scheduler to retire this worker first");
                    comm.send(FromWorker::Retire);
                    retire_deadline = Some(tokio::time::Instant::now() + self.options.retire_timeout);
                }
                _ = shutdown_signal(), if retire_deadline.is_some() => break Exit::Signal,
                _ = tokio::time::sleep_until(retire_deadline.unwrap_or_else(tokio::time::Instant::now)), if retire_deadline.is_some() => {
                    tracing::warn!(worker = %name, "the scheduler did not retire this worker in time; exiting");
                    break Exit::Signal;
                }
            }
            let managed = self.store.stats().managed;
            let seen = if limit > 0 {
                process_memory.measure(
                    std::time::Instant::now(),
                    crate::process_memory::Seen {
                        process: process_used,
                        managed,
                        paused: state.is_paused(),
                        executing: state.executing(),
                        nothing_to_spill,
                        pause_bytes: (limit as f64 * self.options.pause_fraction) as u64,
                    },
                )
            } else {
                managed
            };
            state.memory_observed(seen, &mut comm);
            self.flush(&mut state, &mut comm, &out_tx, &fetch_tx);
        };
        drop(out_tx);
        reader_task.abort();
        let _ = tokio::time::timeout(Duration::from_secs(1), writer_task).await;
        exit
    }

    fn flush(
        &self,
        state: &mut WorkerState,
        comm: &mut ShellComm,
        out: &mpsc::UnboundedSender<Vec<FromWorker>>,
        fetched: &mpsc::UnboundedSender<Fetched>,
    ) {
        for k in comm.release.drain(..) {
            self.store.remove(&k);
        }
        for job in comm.exec.drain(..) {
            self.pool.submit(job);
        }
        for (from, keys) in comm.fetch.drain(..) {
            let Some(addr) = state.peer_address(from).map(str::to_string) else {
                let _ = fetched.send((from, keys, vec![]));
                continue;
            };
            let peers = Arc::clone(self.peers);
            let store = Arc::clone(self.store);
            let traffic = Arc::clone(self.traffic);
            let tx = fetched.clone();
            tokio::spawn(async move {
                let got = match peers.get_data(&addr, keys.clone()).await {
                    Ok(items) => {
                        let mut got = Vec::new();
                        for (k, v) in items {
                            let Some(v) = v else { continue };
                            traffic.received(v.bytes.len() as u64);
                            match store.put_fetched(k.clone(), &v) {
                                Ok(n) => got.push((k, n)),
                                Err(e) => {
                                    tracing::warn!(error = %e, "cannot decode a fetched value")
                                }
                            }
                        }
                        got
                    }
                    Err(e) => {
                        tracing::warn!(peer = %addr, error = %e, "fetch from a peer failed");
                        peers.forget(&addr).await;
                        vec![]
                    }
                };
                let _ = tx.send((from, keys, got));
            });
        }
        if !comm.out.is_empty() {
            let _ = out.send(std::mem::take(&mut comm.out));
        }
    }
}

async fn serve_peers(
    listener: Listener,
    store: Arc<DataStore>,
    name: String,
    traffic: Arc<Traffic>,
) {
    loop {
        let Ok(pending) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let store = Arc::clone(&store);
        let name = name.clone();
        let traffic = Arc::clone(&traffic);
        tokio::spawn(async move {
            let peer = pending.peer().to_string();
            let mut conn = match pending.handshake(&name, &[Role::Peer]).await {
                Ok(c) => c,
                // A connection closed before saying anything is a port check (a TCP liveness
                // probe): not worth a warning.
                Err(e) if e.is_disconnect() => {
                    tracing::debug!(peer = %peer, error = %e, "a connection closed before its handshake");
                    return;
                }
                Err(e) => {
                    tracing::warn!(peer = %peer, error = %e, "rejected a peer connection");
                    return;
                }
            };
            loop {
                let reqs: Vec<PeerRequest> = match conn.reader.recv_msg().await {
                    Ok(r) => r,
                    Err(_) => return,
                };
                for PeerRequest::GetData { keys } in reqs {
                    let mut items = Vec::with_capacity(keys.len());
                    let mut error = None;
                    for k in keys {
                        match store.encoded(&k) {
                            Ok(v) => items.push((k, v)),
                            Err(e) => {
                                error = Some(PeerReply::Error {
                                    key: k,
                                    message: e.to_string(),
                                });
                                break;
                            }
                        }
                    }
                    let sent: u64 = items
                        .iter()
                        .filter_map(|(_, v)| v.as_ref().map(|v| v.bytes.len() as u64))
                        .sum();
                    traffic.sent(sent);
                    let reply = error.unwrap_or(PeerReply::Data { items });
                    if conn.writer.send_msg(&reply).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}
