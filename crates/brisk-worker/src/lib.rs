//! # brisk-worker: runs a cluster's tasks
//!
//! A worker connects to the scheduler, runs the tasks it is given on a thread pool (functions
//! by registered name: the stock `brisk worker` knows every built-in kernel; a program of your
//! own becomes a worker for its registered functions with [`main_if_worker`]), keeps results
//! in a [`DataStore`] that spills to disk past a fraction of the memory limit and pauses past
//! another, and fetches inputs directly from peers.
//!
//! [`WorkerState`] is the pure state machine; [`server`] is its tokio shell.
//!
//! [`main_if_worker`] reads its settings from the environment (set by `Client::local`):
//!
//! | variable | meaning |
//! |---|---|
//! | `BRISK_WORKER_OF` | the scheduler's address; unset: not a worker, return at once |
//! | `BRISK_WORKER_NTHREADS` | threads (default: the cores) |
//! | `BRISK_WORKER_NAME` | a name for logs |
//! | `BRISK_WORKER_MEMORY_LIMIT` | `4GB`, bytes, … (default: none) |
//! | `BRISK_WORKER_LOCAL_DIRECTORY` | where spilled values go (default: the temp directory) |
//! | `BRISK_WORKER_LISTEN_HOST` | where to listen for peers (default `127.0.0.1`) |
//! | `BRISK_WORKER_LISTEN_PORT` | the port for peers (default: any free port) |
//! | `BRISK_WORKER_CONTACT_HOST` | the host peers reach it at (default: towards the scheduler) |
//! | `BRISK_WORKER_DEATH_TIMEOUT` | seconds to keep trying a lost scheduler (default 10) |
//! | `BRISK_WORKER_LIFETIME` | seconds after which to retire gracefully and exit (default: none) |
//! | `BRISK_TOKEN` (or `BRISK_TOKEN_FILE`), `BRISK_TLS_CA`, `BRISK_TLS_CERT`, `BRISK_TLS_KEY` | security |
//!
//! Such a worker rejoins its scheduler after a blip like a stock worker, and exits when it
//! cannot reach it for `BRISK_WORKER_DEATH_TIMEOUT` (default 10 s: its parent is gone), or
//! when the scheduler closes it. Deployers on other hosts (`brisk-deploy`'s SSH workers
//! running your program) set the last three.
//!
//! ```no_run
//! // First line of `main` of a program whose functions run on a local cluster: in a worker
//! // subprocess this runs the worker and exits; otherwise it returns at once.
//! brisk_worker::main_if_worker();
//! // ... the program itself ...
//! ```

mod acquire;
mod error;
mod executor;
mod metrics;
pub mod nanny;
mod pool;
mod process_memory;
mod programs;
pub mod server;
mod state;
mod store;

pub use error::WorkerError;
pub use server::{WorkerOptions, run};
pub use state::{Execute, MemoryPolicy, Outcome, WorkerComm, WorkerState, WorkerTaskState};
pub use store::{DataStore, StoreStats};

use brisk_protocol::{
    ENV_WORKER_MEMORY_LIMIT, ENV_WORKER_NAME, ENV_WORKER_NTHREADS, ENV_WORKER_OF,
};

/// How long a worker started by [`main_if_worker`] keeps trying to reach its scheduler.
pub const LOCAL_DEATH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Become a worker when this process was started as one (by `Client::local` or
/// `brisk::processes`), and exit when done; otherwise return at once. Call it first in
/// `main` of any program that starts a local cluster.
pub fn main_if_worker() {
    if std::env::var_os(brisk_protocol::executable::ENV_EXECUTOR).is_some_and(|v| v == "1") {
        // Started by a stock worker to run this program's tasks (see `programs.rs`).
        executor::serve();
    }
    let Ok(address) = std::env::var(ENV_WORKER_OF) else {
        brisk_protocol::launch::mark_worker_capable();
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BRISK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    exit_with_parent();
    let code = match options_from_env(address).and_then(run) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("brisk worker: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// A local cluster's worker (`BRISK_WORKER_PARENT` set to the pid that started it) exits as
/// soon as that process is gone: the program ended without closing its cluster (a default
/// client is never dropped), and the worker would otherwise linger for its reconnect timeout.
fn exit_with_parent() {
    #[cfg(unix)]
    {
        let Some(parent) = std::env::var(brisk_protocol::ENV_WORKER_PARENT)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        else {
            return;
        };
        if std::os::unix::process::parent_id() != parent {
            std::process::exit(0);
        }
        let _ = std::thread::Builder::new()
            .name("brisk-parent-watch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    if std::os::unix::process::parent_id() != parent {
                        // Reparented: the program that started this worker has exited.
                        std::process::exit(0);
                    }
                }
            });
    }
}

fn options_from_env(address: String) -> Result<WorkerOptions, WorkerError> {
    let mut o = WorkerOptions::new(address);
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    if let Some(n) = var(ENV_WORKER_NTHREADS) {
        o.nthreads =
            n.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or(WorkerError::BadOption {
                    name: ENV_WORKER_NTHREADS,
                    value: n,
                    reason: "expected a positive integer",
                })?;
    }
    if let Some(m) = var(ENV_WORKER_MEMORY_LIMIT) {
        o.memory_limit = brisk_core::bytes::parse_bytes(&m).ok_or(WorkerError::BadOption {
            name: ENV_WORKER_MEMORY_LIMIT,
            value: m,
            reason: "expected a size such as 4GB",
        })?;
    }
    o.name = var(ENV_WORKER_NAME);
    o.local_directory = var(brisk_protocol::ENV_WORKER_LOCAL_DIRECTORY).map(Into::into);
    o.security = brisk_protocol::Security::from_env()?;
    o.listen_host =
        var(brisk_protocol::ENV_WORKER_LISTEN_HOST).unwrap_or_else(|| "127.0.0.1".into());
    o.contact_host = var(brisk_protocol::ENV_WORKER_CONTACT_HOST);
    if let Some(p) = var(brisk_protocol::ENV_WORKER_LISTEN_PORT) {
        o.listen_port = p
            .trim()
            .parse::<u16>()
            .map_err(|_| WorkerError::BadOption {
                name: brisk_protocol::ENV_WORKER_LISTEN_PORT,
                value: p,
                reason: "expected a port number (0: any free port)",
            })?;
    }
    o.death_timeout = match var(brisk_protocol::ENV_WORKER_DEATH_TIMEOUT) {
        // Rejoin after a blip like a stock worker; a parent gone for good is noticed soon.
        None => LOCAL_DEATH_TIMEOUT,
        Some(t) => t
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(std::time::Duration::from_secs_f64)
            .ok_or(WorkerError::BadOption {
                name: brisk_protocol::ENV_WORKER_DEATH_TIMEOUT,
                value: t,
                reason: "expected a number of seconds >= 0",
            })?,
    };
    if let Some(t) = var(brisk_protocol::ENV_WORKER_LIFETIME) {
        let secs = t
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .ok_or(WorkerError::BadOption {
                name: brisk_protocol::ENV_WORKER_LIFETIME,
                value: t,
                reason: "expected a positive number of seconds",
            })?;
        o.lifetime = Some(std::time::Duration::from_secs_f64(secs));
    }
    Ok(o)
}
