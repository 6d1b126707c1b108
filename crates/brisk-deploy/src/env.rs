//! The environment of a worker started by a deployer.
//!
//! A program of your own becomes a worker when it starts with `BRISK_WORKER_OF` set and its
//! `main` calls `brisk::worker::main_if_worker()` first; the stock `brisk worker` reads the
//! same variables (`BRISK_TOKEN`, `BRISK_TLS_*`). The names are defined once in
//! `brisk-protocol` (the worker and the security code read them there); [`WorkerEnv`] is the
//! one place deployers write them.

use std::process::Command;

use brisk_protocol::{
    ENV_TOKEN, ENV_WORKER_CONTACT_HOST, ENV_WORKER_DEATH_TIMEOUT, ENV_WORKER_LISTEN_HOST,
    ENV_WORKER_LOCAL_DIRECTORY, ENV_WORKER_MEMORY_LIMIT, ENV_WORKER_NAME, ENV_WORKER_NTHREADS,
    ENV_WORKER_OF, Security,
};

pub use brisk_protocol::{
    ENV_TOKEN as TOKEN, ENV_WORKER_LOCAL_DIRECTORY as WORKER_LOCAL_DIRECTORY,
    ENV_WORKER_MEMORY_LIMIT as WORKER_MEMORY_LIMIT, ENV_WORKER_NAME as WORKER_NAME,
    ENV_WORKER_NTHREADS as WORKER_NTHREADS, ENV_WORKER_OF as WORKER_OF,
};

/// What a worker process is told through its environment.
#[derive(Debug, Clone)]
pub struct WorkerEnv {
    /// The scheduler's address.
    pub scheduler: String,
    /// The worker's name.
    pub name: String,
    /// Threads.
    pub nthreads: usize,
    /// Memory limit in bytes (0: none).
    pub memory_limit: u64,
    /// Where spilled values go (default: the temporary directory).
    pub local_directory: Option<std::path::PathBuf>,
    /// Token (TLS files travel as `BRISK_TLS_*` when set).
    pub security: Security,
    /// Where to listen for peers (default, unset: `127.0.0.1`).
    pub listen_host: Option<String>,
    /// The host peers reach the worker at (default: towards the scheduler).
    pub contact_host: Option<String>,
    /// How long to keep trying a lost scheduler (default, unset: exit at once).
    pub death_timeout: Option<std::time::Duration>,
    /// Retire and exit after this long (default, unset: no limit).
    pub lifetime: Option<std::time::Duration>,
}

impl WorkerEnv {
    /// The variables, in a stable order.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            (ENV_WORKER_OF, self.scheduler.clone()),
            (ENV_WORKER_NAME, self.name.clone()),
            (ENV_WORKER_NTHREADS, self.nthreads.max(1).to_string()),
            (ENV_WORKER_MEMORY_LIMIT, self.memory_limit.to_string()),
        ];
        if let Some(d) = &self.local_directory {
            v.push((ENV_WORKER_LOCAL_DIRECTORY, d.display().to_string()));
        }
        if let Some(h) = &self.listen_host {
            v.push((ENV_WORKER_LISTEN_HOST, h.clone()));
        }
        if let Some(h) = &self.contact_host {
            v.push((ENV_WORKER_CONTACT_HOST, h.clone()));
        }
        if let Some(d) = self.death_timeout {
            v.push((ENV_WORKER_DEATH_TIMEOUT, d.as_secs_f64().to_string()));
        }
        if let Some(d) = self.lifetime {
            v.push((
                brisk_protocol::ENV_WORKER_LIFETIME,
                d.as_secs_f64().to_string(),
            ));
        }
        if let Some(t) = &self.security.token {
            v.push((ENV_TOKEN, t.clone()));
        }
        if let Some(tls) = &self.security.tls {
            v.push(("BRISK_TLS_CA", tls.ca.display().to_string()));
            v.push(("BRISK_TLS_CERT", tls.cert.display().to_string()));
            v.push(("BRISK_TLS_KEY", tls.key.display().to_string()));
        }
        v
    }

    /// The variables without the security ones (token, TLS files), which deployers pass
    /// through a safer channel than a command line.
    pub fn public_vars(&self) -> Vec<(&'static str, String)> {
        self.vars()
            .into_iter()
            .filter(|(k, _)| *k != ENV_TOKEN && !k.starts_with("BRISK_TLS_"))
            .collect()
    }

    /// Set the variables on `cmd`.
    pub fn apply(&self, cmd: &mut Command) {
        for (k, v) in self.vars() {
            cmd.env(k, v);
        }
    }
}

/// A fresh token for a cluster that this program starts: the prefix, then 256 bits from the
/// operating system's random source (`credentials::generate_token`). `tokenize` names are
/// seeded from the clock and the process id, so another user of the machine could guess them.
pub fn fresh_token(prefix: &str) -> String {
    match brisk_protocol::credentials::generate_token() {
        Ok(t) => format!("{prefix}-{t}"),
        // No random source at all: still unique, if guessable (and said so).
        Err(e) => {
            tracing::warn!(error = %e, "no random source for a cluster token");
            brisk_core::tokenize(prefix).to_string()
        }
    }
}
