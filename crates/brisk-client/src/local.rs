//! Local clusters: a scheduler inside this process and workers as subprocesses of this same
//! program (so every function it registers runs there too). Also the engine behind
//! `brisk::processes`.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use brisk_core::scheduler::SchedulerProvider;
use brisk_core::{ComputeOptions, Error, Graph, Key, Scheduler, Value};
use brisk_protocol::launch::{LaunchOptions, RunningScheduler, launch};
use brisk_protocol::{
    ENV_TOKEN, ENV_WORKER_MEMORY_LIMIT, ENV_WORKER_NAME, ENV_WORKER_NTHREADS, ENV_WORKER_OF,
    Security,
};
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
        }
    }
}

/// A local cluster: an in-process scheduler and worker subprocesses. Stopping it (drop)
/// kills the workers and stops the scheduler.
pub(crate) struct LocalCluster {
    scheduler: Box<dyn RunningScheduler>,
    children: Vec<Child>,
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        self.scheduler.shutdown();
    }
}

impl Client {
    /// Start a local cluster of `n` single-threaded worker processes (subprocesses of this
    /// program: its `main` must call `brisk::worker::main_if_worker()` first) and connect to
    /// it. The client becomes the default scheduler.
    pub fn local(n: usize) -> Result<Client, Error> {
        Client::local_with(LocalOptions::new(n))
    }

    /// Start a local cluster with options.
    pub fn local_with(options: LocalOptions) -> Result<Client, Error> {
        let fail = |message: String| -> Error { ClientError::LocalCluster { message }.into() };
        if std::env::var_os(ENV_WORKER_OF).is_some() {
            return Err(fail(
                "this process is itself a worker of a local cluster but runs the program's \
                 main: call `brisk::worker::main_if_worker()` as the first line of `main`"
                    .into(),
            ));
        }
        let program = match &options.program {
            Some(p) => p.clone(),
            None => {
                if !brisk_protocol::launch::is_worker_capable() {
                    return Err(fail(
                        "workers are copies of this program, so its `main` must call \
                         `brisk::worker::main_if_worker()` first (otherwise each copy would run \
                         the program again)"
                            .into(),
                    ));
                }
                std::env::current_exe()
                    .map_err(|e| fail(format!("cannot find this program's path: {e}")))?
            }
        };
        let token = brisk_core::tokenize("local").to_string();
        let security = Security::none().with_token(Some(token.clone()));
        let scheduler = launch(LaunchOptions {
            host: "127.0.0.1".into(),
            port: 0,
            security: security.clone(),
        })
        .map_err(ClientError::from)?;
        let address = scheduler.address();
        let mut cluster = LocalCluster {
            scheduler,
            children: Vec::new(),
        };
        for i in 0..options.n_workers {
            let child = Command::new(&program)
                .args(&options.args)
                .env(ENV_WORKER_OF, &address)
                .env(ENV_TOKEN, &token)
                .env(
                    ENV_WORKER_NTHREADS,
                    options.threads_per_worker.max(1).to_string(),
                )
                .env(ENV_WORKER_NAME, format!("local-{i}"))
                .env(ENV_WORKER_MEMORY_LIMIT, options.memory_limit.to_string())
                .stdin(Stdio::null())
                .spawn()
                .map_err(|e| fail(format!("cannot start {}: {e}", program.display())))?;
            cluster.children.push(child);
        }
        let client = Client::connect_with(
            &address,
            ClientOptions {
                security,
                set_as_default: false,
                name: format!("local-client-{}", std::process::id()),
            },
        )?;
        let start = Instant::now();
        loop {
            let info = client.scheduler_info()?;
            if info.workers.len() >= options.n_workers {
                break;
            }
            for c in &mut cluster.children {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(fail(format!(
                        "a worker process exited ({status}) before joining; does `main` call \
                         `brisk::worker::main_if_worker()` first?"
                    )));
                }
            }
            if start.elapsed() > options.startup_timeout {
                return Err(fail(format!(
                    "only {} of {} workers joined within {:?}; does `main` call \
                     `brisk::worker::main_if_worker()` first?",
                    info.workers.len(),
                    options.n_workers,
                    options.startup_timeout
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        *client.inner.cluster.lock() = Some(cluster);
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
            .map(|c| c.children.iter().map(Child::id).collect())
            .unwrap_or_default()
    }

    /// Kill local worker `i` with SIGKILL (for failure drills); returns whether it existed.
    pub fn kill_local_worker(&self, i: usize) -> bool {
        let mut g = self.inner.cluster.lock();
        let Some(c) = g.as_mut().and_then(|c| c.children.get_mut(i)) else {
            return false;
        };
        let ok = c.kill().is_ok();
        let _ = c.wait();
        ok
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
