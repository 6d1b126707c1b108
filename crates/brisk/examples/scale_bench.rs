//! The distributed runtime at scale: a `brisk scheduler` process (its dashboard on), 2
//! single-threaded worker processes and this client, on this machine.
//!
//! `cargo run --release -p brisk --example scale_bench -- --case map|tree --tasks N [--kill]`
//!
//! - `map`: `client.map(noop, 0..N)` with every future held, every value gathered and checked;
//! - `tree`: a binary tree reduction of about `N` tasks (N/2 leaves), its sum checked.
//!
//! It measures the submission time (until the last piece of the graph is handed to the
//! connection), the end-to-end time and tasks/s, the scheduler process's RSS growth per held
//! task record once everything is done (and its peak, `VmHWM`), the client's and the workers'
//! RSS, and how long the dashboard's pages take to load with every record still held (a real
//! HTTP request each). Then the futures are dropped and it checks that the scheduler releases
//! every record. `--kill` kills one worker with SIGKILL a third of the way through (the map
//! must still give every right value). A guard stops the run if the processes together pass
//! `SCALE_MEM_LIMIT` bytes (default 7.5 GB).
//!
//! Prints `BRISK case=<case>_<N> seconds=... tasks=... tasks_per_s=... submit_s=...
//! sched_bytes_per_task=... sched_peak_bytes_per_task=... client_bytes_per_task=...
//! dashboard_max_ms=...`. Without arguments: a quick smoke run (10,000 tasks).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use brisk::{Func, Value};

mod bench_cluster;
use bench_cluster::{BenchCluster, brisk_bin, tree};

fn noop(x: i64) -> i64 {
    x
}
fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}
brisk::register!(noop, inc, add);

/// (RSS, peak RSS) of a process, bytes.
fn mem(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// GET a path (HTTP/1.0); milliseconds until the whole answer arrived.
fn get_ms(hostport: &str, path: &str) -> anyhow::Result<f64> {
    let t = Instant::now();
    let mut s = TcpStream::connect(hostport)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let text = String::from_utf8_lossy(&out[..out.len().min(200)]).to_string();
    ensure!(text.split(' ').nth(1) == Some("200"), "GET {path}: {text}");
    Ok(ms)
}

fn main() -> anyhow::Result<()> {
    brisk::worker::main_if_worker();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let case = arg("--case").unwrap_or_else(|| "map".into());
    let n: usize = arg("--tasks")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let kill = args.iter().any(|a| a == "--kill");
    let limit: u64 = std::env::var("SCALE_MEM_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7_500_000_000);

    let mut cluster = BenchCluster::start(&brisk_bin(), 2, true)?;
    let dash = cluster.dashboard.trim_start_matches("http://").to_string();
    let sched = cluster.scheduler.0.id();
    let mut pids = vec![sched, std::process::id()];
    pids.extend(cluster.worker_pids());
    // The guard: every process of the run together under the limit.
    let stop = Arc::new(AtomicBool::new(false));
    let over = Arc::new(AtomicBool::new(false));
    let guard = {
        let (stop, over, pids) = (stop.clone(), over.clone(), pids.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let total: u64 = pids.iter().map(|&p| mem(p).0).sum();
                if total > limit {
                    eprintln!("scale_bench: the processes use {total} bytes > {limit}; stopping");
                    over.store(true, Ordering::Relaxed);
                    // `exit` runs no destructors: stop the cluster's processes here.
                    for &p in pids.iter().filter(|&&p| p != std::process::id()) {
                        let _ = std::process::Command::new("kill")
                            .args(["-9", &p.to_string()])
                            .status();
                    }
                    std::process::exit(3);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let client = cluster.client.clone();
    client.gather(&client.map(noop, 0..100i64)?)?;
    std::thread::sleep(Duration::from_millis(300));
    let (s0, _) = mem(sched);
    let (c0, _) = mem(std::process::id());
    let t = Instant::now();
    type Check = Box<dyn Fn(&[brisk::Future<Value>]) -> anyhow::Result<()>>;
    let (held_futures, submit_s, check): (Vec<brisk::Future<Value>>, f64, Check) =
        match case.as_str() {
            "map" => {
                let futs = client.map(noop, (0..n as i64).map(|i| i * 3 + 1))?;
                let submit = t.elapsed().as_secs_f64();
                let futs: Vec<brisk::Future<Value>> = futs.iter().map(|f| f.erase()).collect();
                // The values are checked below, after the dashboard's pages.
                let check = Box::new(|_: &[brisk::Future<Value>]| Ok(()));
                (futs, submit, check)
            }
            "tree" => {
                let (g, root) = tree(n / 2, Func::new(inc), Func::new(add));
                let futs = client.submit_graph(&g, &[root], false)?;
                drop(g);
                let submit = t.elapsed().as_secs_f64();
                let leaves = (n / 2) as i64;
                let check = Box::new(move |futs: &[brisk::Future<Value>]| -> anyhow::Result<()> {
                    let v = futs[0].result()?;
                    let want: i64 = (1..=leaves).sum();
                    ensure!(v.get::<i64>()? == want, "tree sum {v:?} != {want}");
                    Ok(())
                });
                (futs, submit, check)
            }
            other => anyhow::bail!("unknown case {other} (map or tree)"),
        };
    if kill {
        let t0 = Instant::now();
        loop {
            let done = client.scheduler_info()?.tasks_done;
            if done as usize >= n / 3 {
                break;
            }
            ensure!(
                t0.elapsed() < Duration::from_secs(600),
                "no progress before the kill"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        cluster.kill_worker(0);
        eprintln!("scale_bench: killed a worker with SIGKILL");
    }
    client.wait(&held_futures);
    let seconds = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let (s1, s_peak) = mem(sched);
    let (c1, _) = mem(std::process::id());
    let info = client.scheduler_info()?;
    let held: u64 = info.tasks_by_state.iter().map(|(_, c)| c).sum();
    let workers_rss: u64 = cluster.worker_pids().iter().map(|&p| mem(p).0).sum();
    // The dashboard's pages with every record still held.
    let mut dash_ms: f64 = 0.0;
    for p in [
        "/status",
        "/api/snapshot?since=0",
        "/api/graph?max=500",
        "/metrics",
        "/api/task?key=leaf",
    ] {
        let ms = match get_ms(&dash, p) {
            Ok(ms) => ms,
            // No task of that name in a map: a 404 is the right answer, still timed.
            Err(_) if p.starts_with("/api/task") => continue,
            Err(e) => return Err(e).with_context(|| format!("dashboard page {p}")),
        };
        dash_ms = dash_ms.max(ms);
    }
    // Right values.
    if case == "map" {
        let got: Vec<i64> = client
            .gather(&held_futures)?
            .iter()
            .map(|v| v.get::<i64>())
            .collect::<Result<_, _>>()?;
        ensure!(got.len() == n, "{} values for {n} tasks", got.len());
        for (i, v) in got.iter().enumerate() {
            ensure!(*v == i as i64 * 3 + 1, "value {i} is {v}");
        }
    }
    check(&held_futures)?;
    drop(held_futures);
    // Everything released.
    let t_rel = Instant::now();
    loop {
        let left: u64 = client
            .scheduler_info()?
            .tasks_by_state
            .iter()
            .map(|(_, c)| c)
            .sum();
        if left == 0 {
            break;
        }
        ensure!(
            t_rel.elapsed() < Duration::from_secs(300),
            "{left} records still held"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let release_s = t_rel.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = guard.join();
    ensure!(!over.load(Ordering::Relaxed), "memory guard");
    let per = |a: u64, b: u64, k: u64| a.saturating_sub(b) as f64 / k.max(1) as f64;
    println!(
        "BRISK case={case}_{n} seconds={seconds:.3} tasks={n} tasks_per_s={:.0} submit_s={submit_s:.3} \
         held={held} sched_bytes_per_task={:.0} sched_peak_bytes_per_task={:.0} \
         client_bytes_per_task={:.0} workers_rss_mb={:.0} dashboard_max_ms={dash_ms:.1} \
         release_s={release_s:.2} killed={kill}",
        n as f64 / seconds,
        per(s1, s0, held),
        per(s_peak, s0, held),
        per(c1, c0, n as u64),
        workers_rss as f64 / 1e6,
    );
    client.shutdown();
    Ok(())
}
