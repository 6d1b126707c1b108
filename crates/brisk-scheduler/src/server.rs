//! The tokio shell around [`crate::SchedulerState`]: its options, starting it (the listener,
//! the dashboard, the core task of `core_loop.rs` that owns the state, the connections of
//! `connections.rs` that feed it events and write its batches) and its handle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use brisk_protocol::conn::Listener;
use brisk_protocol::launch::{LaunchOptions, RunningScheduler, SchedulerLauncher};
use brisk_protocol::messages::{ClusterInfo, FromClient, FromWorker, ToWorker, WorkerRegistration};
use brisk_protocol::{ClientId, ProtocolError, Security, WorkerId};
use tokio::sync::{mpsc, oneshot, watch};

use crate::client_line::ClientLine;
use crate::state::SchedulerConfig;

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
                tokio::spawn(crate::connections::accept_loop(
                    listener,
                    first_id,
                    ev_tx2,
                    stop_rx.clone(),
                    Arc::new(crate::executables::Executables::new()),
                ));
                let core_options = crate::core_loop::CoreOptions {
                    address: addr2,
                    config: options.config,
                    epoch,
                    dashboard: shared,
                    dashboard_link: link,
                    journal,
                    resume_grace: options.resume_grace,
                    recovery_wait: options.recovery_wait,
                };
                crate::core_loop::core(core_options, ev_rx, stop_rx).await;
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
