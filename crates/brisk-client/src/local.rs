//! Local clusters: a scheduler inside this process and workers as subprocesses of this same
//! program (so every function it registers runs there too). Also the engine behind
//! `brisk::processes`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use brisk_core::scheduler::SchedulerProvider;
use brisk_core::{ComputeOptions, Error, Graph, Key, Scheduler, Value};
use brisk_deploy::{Cluster, LocalClusterOptions};
use parking_lot::Mutex;

use crate::client::{Client, ClientOptions};
use crate::error::ClientError;

/// How to start a local cluster.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Worker processes.
    pub n_workers: usize,
    /// Threads per worker.
    pub threads_per_worker: usize,
    /// Memory limit per worker in bytes (0: none).
    pub memory_limit: u64,
    /// Make the client the default scheduler.
    pub set_as_default: bool,
    /// The program to run as a worker (default: this program).
    pub program: Option<std::path::PathBuf>,
    /// Arguments for the worker program (default: none).
    pub args: Vec<String>,
    /// How long to wait for the workers to join.
    pub startup_timeout: Duration,
    /// Serve the live dashboard on this port (default 8787, as Dask; any free port when it
    /// is taken; 0: any free port; `None`: no dashboard). See [`Client::dashboard_link`].
    pub dashboard_port: Option<u16>,
}

impl LocalOptions {
    /// `n` workers with one thread each.
    pub fn new(n_workers: usize) -> Self {
        LocalOptions {
            n_workers,
            threads_per_worker: 1,
            memory_limit: 0,
            set_as_default: true,
            program: None,
            args: Vec::new(),
            startup_timeout: Duration::from_secs(30),
            dashboard_port: Some(8787),
        }
    }
}

/// The local cluster a client owns (`Client::local`): stopping it (drop) kills the workers
/// and stops the scheduler. The cluster itself is `brisk_deploy::LocalCluster`.
pub(crate) struct LocalCluster(pub(crate) brisk_deploy::LocalCluster);

impl Client {
    /// Start a local cluster of `n` single-threaded worker processes (subprocesses of this
    /// program: its `main` must call `brisk::worker::main_if_worker()` first) and connect to
    /// it. The client becomes the default scheduler.
    pub fn local(n: usize) -> Result<Client, Error> {
        Client::local_with(LocalOptions::new(n))
    }

    /// Start a local cluster with options (a [`brisk_deploy::LocalCluster`] that this client
    /// owns and stops when its last clone is dropped).
    pub fn local_with(options: LocalOptions) -> Result<Client, Error> {
        let cluster = brisk_deploy::LocalCluster::start(LocalClusterOptions {
            n_workers: options.n_workers,
            threads_per_worker: options.threads_per_worker,
            memory_limit: options.memory_limit,
            program: options.program.clone(),
            args: options.args.clone(),
            startup_timeout: options.startup_timeout,
            dashboard_port: options.dashboard_port,
        })
        .map_err(|e| ClientError::LocalCluster {
            message: e.to_string(),
        })?;
        let client = Client::connect_with(
            &cluster.scheduler_address(),
            ClientOptions {
                security: cluster.security(),
                set_as_default: false,
                name: format!("local-client-{}", std::process::id()),
            },
        )?;
        *client.inner.dashboard.lock() = cluster.dashboard_link();
        *client.inner.cluster.lock() = Some(LocalCluster(cluster));
        if options.set_as_default {
            client.set_as_default();
        }
        Ok(client)
    }

    /// The process ids of a local cluster's workers (empty for a remote cluster).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.inner
            .cluster
            .lock()
            .as_ref()
            .map(|c| c.0.worker_pids())
            .unwrap_or_default()
    }

    /// Kill local worker `i` with SIGKILL (for failure drills); returns whether it existed.
    pub fn kill_local_worker(&self, i: usize) -> bool {
        self.inner
            .cluster
            .lock()
            .as_ref()
            .is_some_and(|c| c.0.kill_worker(i))
    }

    /// The local cluster this client owns, for scaling it ([`Cluster::scale`],
    /// [`Cluster::adapt`]): `None` for a client of a cluster started elsewhere.
    pub fn with_local_cluster<R>(
        &self,
        f: impl FnOnce(&brisk_deploy::LocalCluster) -> R,
    ) -> Option<R> {
        self.inner.cluster.lock().as_ref().map(|c| f(&c.0))
    }
}

/// The multiprocessing scheduler: a process-wide local cluster with one single-threaded
/// worker per core, started on first use (`BRISK_SCHEDULER=processes`).
pub mod processes {
    use super::*;

    static CLUSTER: OnceLock<Mutex<Option<Client>>> = OnceLock::new();

    /// The process-wide local cluster, started on first use.
    pub fn cluster() -> Result<Client, Error> {
        let cell = CLUSTER.get_or_init(|| Mutex::new(None));
        let mut g = cell.lock();
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut o = LocalOptions::new(n);
        o.set_as_default = false;
        let c = Client::local_with(o)?;
        *g = Some(c.clone());
        Ok(c)
    }

    /// Compute one key of a graph in worker processes and read it as `T`.
    pub fn get<T: brisk_core::FromValue>(graph: &Graph, key: impl Into<Key>) -> Result<T, Error> {
        let key = key.into();
        let v = get_many(graph, std::slice::from_ref(&key))?
            .pop()
            .ok_or(Error::Cancelled)?;
        v.get::<T>()
            .map_err(|mismatch| Error::WrongType { key, mismatch })
    }

    /// Compute several keys in worker processes.
    pub fn get_many(graph: &Graph, keys: &[Key]) -> Result<Vec<Value>, Error> {
        cluster()?.get(graph, keys, &ComputeOptions::default())
    }

    struct Processes;

    impl Scheduler for Processes {
        fn name(&self) -> &str {
            "processes"
        }
        fn get(
            &self,
            graph: &Graph,
            keys: &[Key],
            options: &ComputeOptions,
        ) -> Result<Vec<Value>, Error> {
            cluster()?.get(graph, keys, options)
        }
    }

    inventory::submit! {
        SchedulerProvider {
            name: "processes",
            aliases: &["multiprocessing", "processes"],
            make: || Arc::new(Processes),
        }
    }
}
