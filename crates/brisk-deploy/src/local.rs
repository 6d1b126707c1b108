//! [`LocalCluster`]: a scheduler inside this process (through the launch seam of
//! `brisk-protocol`, which `brisk-scheduler` plugs into) and workers as subprocesses of a
//! program, by default this very program, so every function it registers runs there too (its
//! `main` calls `brisk::worker::main_if_worker()` first). `Client::local` is built on it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use brisk_protocol::Security;
use brisk_protocol::launch::{LaunchOptions, RunningScheduler, launch};
use parking_lot::Mutex;

use crate::adapt::{AdaptOptions, Adaptive};
use crate::cluster::Cluster;
use crate::env::{WORKER_OF, WorkerEnv, fresh_token};
use crate::error::DeployError;
use crate::pool::{Member, Pool, Proc, Spawner};

/// How to start a local cluster.
#[derive(Debug, Clone)]
pub struct LocalClusterOptions {
    /// Worker processes to start.
    pub n_workers: usize,
    /// Threads per worker.
    pub threads_per_worker: usize,
    /// Memory limit per worker in bytes (0: none).
    pub memory_limit: u64,
    /// The program to run as a worker (default: this program).
    pub program: Option<PathBuf>,
    /// Arguments for the worker program (default: none).
    pub args: Vec<String>,
    /// How long to wait for the workers to join.
    pub startup_timeout: Duration,
    /// Serve the live dashboard on this port (8787 by default, any free port when taken; 0:
    /// any free port; `None`: no dashboard).
    pub dashboard_port: Option<u16>,
}

impl LocalClusterOptions {
    /// `n` workers with one thread each.
    pub fn new(n_workers: usize) -> Self {
        LocalClusterOptions {
            n_workers,
            threads_per_worker: 1,
            memory_limit: 0,
            program: None,
            args: Vec::new(),
            startup_timeout: Duration::from_secs(30),
            dashboard_port: Some(8787),
        }
    }
}

struct LocalSpawner {
    program: PathBuf,
    args: Vec<String>,
    env: WorkerEnv,
}

impl Spawner for LocalSpawner {
    fn spawn(&self, _index: usize, name: &str) -> Result<Box<dyn Member>, DeployError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).stdin(Stdio::null());
        WorkerEnv {
            name: name.to_string(),
            ..self.env.clone()
        }
        .apply(&mut cmd);
        cmd.env(
            brisk_protocol::ENV_WORKER_PARENT,
            std::process::id().to_string(),
        );
        let child = cmd.spawn().map_err(|e| {
            DeployError::start(
                format!("worker {name}"),
                format!("cannot run {}: {e}", self.program.display()),
            )
        })?;
        Ok(Box::new(Proc {
            name: name.to_string(),
            place: "this machine".into(),
            child,
            stdin: None,
        }))
    }

    fn prefix(&self) -> &str {
        "local"
    }
}

/// A scheduler in this process and worker subprocesses. Dropping it (or [`Cluster::close`])
/// kills the workers and stops the scheduler.
pub struct LocalCluster {
    scheduler: Mutex<Option<Box<dyn RunningScheduler>>>,
    address: String,
    dashboard: Option<String>,
    security: Security,
    pool: Arc<Pool>,
    adaptive: Mutex<Option<Adaptive>>,
    /// Replaces workers that die.
    keeper: Mutex<Option<crate::pool::Keeper>>,
}

impl LocalCluster {
    /// Start a local cluster and wait for its workers.
    pub fn start(options: LocalClusterOptions) -> Result<LocalCluster, DeployError> {
        let fail = |message: &str| DeployError::start("a local cluster", message);
        if std::env::var_os(WORKER_OF).is_some() {
            return Err(fail(
                "this process is itself a worker of a local cluster but runs the program's \
                 main: call `brisk::worker::main_if_worker()` as the first line of `main`",
            ));
        }
        let program = match &options.program {
            Some(p) => p.clone(),
            None => {
                if !brisk_protocol::launch::is_worker_capable() {
                    return Err(fail(
                        "workers are copies of this program, so its `main` must call \
                         `brisk::worker::main_if_worker()` first (otherwise each copy would run \
                         the program again)",
                    ));
                }
                std::env::current_exe()
                    .map_err(|e| fail(&format!("cannot find this program's path: {e}")))?
            }
        };
        let security = Security::none().with_token(Some(fresh_token("local")));
        let scheduler = launch(LaunchOptions {
            host: "127.0.0.1".into(),
            port: 0,
            security: security.clone(),
            dashboard_port: options.dashboard_port,
        })?;
        let address = scheduler.address();
        let dashboard = scheduler.dashboard_address().map(|d| format!("{d}/status"));
        let spawner = LocalSpawner {
            program,
            args: options.args.clone(),
            env: WorkerEnv {
                scheduler: address.clone(),
                name: String::new(),
                nthreads: options.threads_per_worker.max(1),
                memory_limit: options.memory_limit,
                local_directory: None,
                security: security.clone(),
                listen_host: None,
                contact_host: None,
                death_timeout: None,
                lifetime: None,
            },
        };
        let pool = Pool::new(
            Box::new(spawner),
            &address,
            security.clone(),
            options.startup_timeout,
        );
        let pool = match pool {
            Ok(p) => Arc::new(p),
            Err(e) => {
                scheduler.shutdown();
                return Err(e);
            }
        };
        let cluster = LocalCluster {
            scheduler: Mutex::new(Some(scheduler)),
            address,
            dashboard,
            security,
            pool,
            adaptive: Mutex::new(None),
            keeper: Mutex::new(None),
        };
        cluster.pool.scale_to(options.n_workers)?;
        // Workers that die (crash, SIGKILL) are replaced; retired ones are not.
        *cluster.keeper.lock() = Some(cluster.pool.keep(Duration::from_millis(500)));
        Ok(cluster)
    }

    /// The process ids of the workers, in start order.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.pool.pids()
    }

    /// Adapt with every knob of [`AdaptOptions`] (see [`Cluster::adapt`]).
    pub fn adapt_with(&self, options: AdaptOptions) {
        let a = Adaptive::start(Arc::downgrade(&self.pool), options);
        *self.adaptive.lock() = Some(a);
    }

    /// Kill worker `i` (in start order) with SIGKILL, for failure drills; returns whether it
    /// existed.
    pub fn kill_worker(&self, i: usize) -> bool {
        self.pool.kill(i)
    }
}

impl Cluster for LocalCluster {
    fn scheduler_address(&self) -> String {
        self.address.clone()
    }

    fn security(&self) -> Security {
        self.security.clone()
    }

    fn dashboard_link(&self) -> Option<String> {
        self.dashboard.clone()
    }

    fn scale(&self, n: usize) -> Result<(), DeployError> {
        self.adaptive.lock().take();
        self.pool.scale_to(n)
    }

    fn adapt(&self, min: usize, max: usize) -> Result<(), DeployError> {
        self.adapt_with(AdaptOptions::new(min, max));
        Ok(())
    }

    fn worker_names(&self) -> Vec<String> {
        self.pool.names()
    }

    fn close(&self) -> Result<(), DeployError> {
        self.adaptive.lock().take();
        self.keeper.lock().take();
        // Killing is fine here: the whole cluster goes, and its values with it.
        self.pool.close(false, Duration::ZERO);
        if let Some(s) = self.scheduler.lock().take() {
            s.shutdown();
        }
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
