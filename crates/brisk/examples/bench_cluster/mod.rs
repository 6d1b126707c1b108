//! What the cluster benchmark examples share: a `brisk scheduler` process and single-threaded
//! worker processes (this example's own executable, which turns into a worker through
//! `brisk::worker::main_if_worker`), on 127.0.0.1, killed when dropped.

// Each example uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use brisk::{Arg, Client, Func, Graph, Key, Task, Value};

/// A child process, killed and reaped when dropped.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `brisk` binary next to this example (or `BRISK_BIN`).
pub fn brisk_bin() -> PathBuf {
    std::env::var("BRISK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::current_exe()
                .ok()
                .and_then(|e| Some(e.parent()?.parent()?.join("brisk")))
                .unwrap_or_default()
        })
}

/// A scheduler process, its workers and a connected client.
pub struct BenchCluster {
    /// The client (not the default scheduler).
    pub client: Client,
    /// The scheduler's address.
    pub address: String,
    /// The dashboard's address (`http://…`; empty without a dashboard).
    pub dashboard: String,
    /// The scheduler process.
    pub scheduler: Proc,
    _workers: Vec<Proc>,
    _dir: tempfile::TempDir,
}

impl BenchCluster {
    /// The worker processes' ids (of those still running).
    pub fn worker_pids(&self) -> Vec<u32> {
        self._workers.iter().map(|w| w.0.id()).collect()
    }

    /// Kill worker `i` with SIGKILL.
    pub fn kill_worker(&mut self, i: usize) {
        if i < self._workers.len() {
            drop(self._workers.remove(i));
        }
    }

    /// Start `bin scheduler` (with a dashboard on a free port when `dashboard`) and `workers`
    /// single-threaded workers, then connect and wait for them.
    pub fn start(bin: &Path, workers: usize, dashboard: bool) -> anyhow::Result<BenchCluster> {
        let exe = std::env::current_exe()?;
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("s.json");
        let mut cmd = Command::new(bin);
        cmd.args(["scheduler", "--host", "127.0.0.1", "--port", "0"]);
        if dashboard {
            cmd.args(["--dashboard-port", "0"]);
        } else {
            cmd.arg("--no-dashboard");
        }
        let scheduler = Proc(
            cmd.arg("--scheduler-file")
                .arg(&file)
                .env("BRISK_LOG", "warn")
                .env_remove("BRISK_TOKEN")
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("cannot start {}", bin.display()))?,
        );
        let t = Instant::now();
        let (address, dash) = loop {
            if let Ok(s) = std::fs::read_to_string(&file)
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&s)
            {
                break (
                    v["address"].as_str().context("address")?.to_string(),
                    v["dashboard"].as_str().unwrap_or_default().to_string(),
                );
            }
            ensure!(t.elapsed() < Duration::from_secs(20), "no scheduler");
            std::thread::sleep(Duration::from_millis(20));
        };
        let procs: Vec<Proc> = (0..workers)
            .map(|i| {
                Command::new(&exe)
                    .env("BRISK_WORKER_OF", &address)
                    .env("BRISK_WORKER_NTHREADS", "1")
                    .env("BRISK_WORKER_NAME", format!("bench-{i}"))
                    .env("BRISK_LOG", "warn")
                    .env_remove("BRISK_TOKEN")
                    .spawn()
                    .map(Proc)
            })
            .collect::<Result<_, _>>()?;
        let client = Client::connect_with(
            &address,
            brisk::ClientOptions {
                security: Default::default(),
                set_as_default: false,
                name: "bench".into(),
            },
        )?;
        client.wait_for_workers(workers, Duration::from_secs(20))?;
        Ok(BenchCluster {
            client,
            address,
            dashboard: dash,
            scheduler,
            _workers: procs,
            _dir: dir,
        })
    }
}

/// A binary tree reduction over `inc(i)` for `i` in `0..n_leaves` (pairs summed by `add`, an
/// odd one out with 0): the graph and its root key.
pub fn tree(n_leaves: usize, inc: Func, add: Func) -> (Graph, Key) {
    let mut g = Graph::with_capacity(2 * n_leaves);
    let mut level: Vec<Key> = (0..n_leaves)
        .map(|i| {
            let k = Key::from(("leaf", i));
            let _ = g.insert(
                k.clone(),
                Task::new(inc.clone(), vec![Arg::Literal(Value::from(i as i64))]),
            );
            k
        })
        .collect();
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        let name = format!("add-{depth}");
        level = level
            .chunks(2)
            .enumerate()
            .map(|(i, p)| {
                let k = Key::from((name.as_str(), i));
                let b = p
                    .get(1)
                    .map_or(Arg::Literal(Value::from(0i64)), |k| Arg::Key(k.clone()));
                let _ = g.insert(
                    k.clone(),
                    Task::new(add.clone(), vec![Arg::Key(p[0].clone()), b]),
                );
                k
            })
            .collect();
    }
    (g, level[0].clone())
}
