//! What the live dashboard costs the scheduler: a `brisk scheduler` process (dashboard on), 2
//! single-threaded worker processes, and a client mapping no-op tasks as fast as it can, in
//! rounds with and without an open page. The "page" subscribes to the server-sent events
//! (`/api/events`, what the status page's `EventSource` reads) after loading the page and its
//! assets, and reads `/metrics` every 5 s as Prometheus would.
//!
//! The scheduler's CPU time comes from `/proc/<pid>/task/*/schedstat` (all its threads) around
//! each round. Two figures: `overhead_pct`, the scheduler's CPU per task with a page open
//! against without (medians; noisy on a shared machine, a few % either way), and
//! `dashboard_share_pct`, the part of the scheduler's CPU that the dashboard itself took while
//! the page was open: its own threads (`brisk-dashboard`: HTTP, SSE, JSON) plus the time the
//! scheduler's thread spent preparing its data (`brisk_dashboard_core_seconds_total` of
//! `/metrics`).
//!
//! `cargo run --release -p brisk --example dashboard_bench -- [--tasks N] [--rounds R]
//! [--no-page]`
//! prints `BRISK case=... ` lines per round and one
//! `RESULT case=dashboard_overhead ... overhead_pct=<%> dashboard_share_pct=<%>` line
//! (medians over the rounds).
//! Without arguments it runs a quick smoke version.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

mod bench_cluster;
use bench_cluster::{BenchCluster, brisk_bin};

fn noop(x: i64) -> i64 {
    x
}
brisk::register!(noop);

/// CPU nanoseconds of each thread of a process, by thread id, and whether it is one of the
/// dashboard's (`brisk-dashboard`: HTTP, SSE, JSON). From `/proc/<pid>/task/<tid>/schedstat`
/// (ns resolution; `/proc/<pid>/stat` counts 10 ms ticks).
fn thread_cpu(pid: u32) -> anyhow::Result<std::collections::HashMap<u32, (u64, bool)>> {
    let mut out = std::collections::HashMap::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let dir = e?.path();
        let Some(tid) = dir
            .file_name()
            .and_then(|n| n.to_str()?.parse::<u32>().ok())
        else {
            continue;
        };
        let (Ok(sched), Ok(comm)) = (
            std::fs::read_to_string(dir.join("schedstat")),
            std::fs::read_to_string(dir.join("comm")),
        ) else {
            continue; // the thread ended meanwhile
        };
        let ns: u64 = sched.split_whitespace().next().unwrap_or("0").parse()?;
        out.insert(tid, (ns, comm.starts_with("brisk-dashboa")));
    }
    Ok(out)
}

/// (whole process, dashboard threads) CPU seconds between two readings (threads that started
/// meanwhile count from zero).
fn cpu_between(
    a: &std::collections::HashMap<u32, (u64, bool)>,
    b: &std::collections::HashMap<u32, (u64, bool)>,
) -> (f64, f64) {
    let (mut total, mut dash) = (0u64, 0u64);
    for (tid, &(ns, is_dash)) in b {
        let d = ns.saturating_sub(a.get(tid).map_or(0, |x| x.0));
        total += d;
        if is_dash {
            dash += d;
        }
    }
    (total as f64 / 1e9, dash as f64 / 1e9)
}

/// GET a path (HTTP/1.0); the whole response.
fn get(hostport: &str, path: &str) -> anyhow::Result<String> {
    let mut s = TcpStream::connect(hostport)?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out).to_string();
    ensure!(
        text.split(' ').nth(1) == Some("200"),
        "GET {path}: {}",
        &text[..text.len().min(200)]
    );
    Ok(text)
}

/// The scheduler thread's time spent on the dashboard so far (from `/metrics`).
fn core_seconds(hostport: &str) -> anyhow::Result<f64> {
    let text = get(hostport, "/metrics")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("brisk_dashboard_core_seconds_total "))
        .context("no brisk_dashboard_core_seconds_total in /metrics")?;
    Ok(line.rsplit(' ').next().unwrap_or("nan").parse()?)
}

/// An open status page: loads it, then reads the pushed events until stopped.
struct Page {
    stop: Arc<AtomicBool>,
    events: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl Page {
    fn open(hostport: &str) -> anyhow::Result<Page> {
        for p in [
            "/status",
            "/static/app.js",
            "/static/style.css",
            "/static/uPlot.iife.min.js",
        ] {
            get(hostport, p).with_context(|| format!("loading {p}"))?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let (s2, e2, b2) = (stop.clone(), events.clone(), bytes.clone());
        let hp = hostport.to_string();
        let thread = std::thread::spawn(move || -> anyhow::Result<()> {
            let mut s = TcpStream::connect(&hp)?;
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
            s.write_all(
                format!(
                    "GET /api/events HTTP/1.1\r\nHost: {hp}\r\nAccept: text/event-stream\r\n\r\n"
                )
                .as_bytes(),
            )?;
            let mut buf = vec![0u8; 1 << 16];
            let mut tail: Vec<u8> = Vec::new();
            let mut last_metrics = Instant::now();
            while !s2.load(Ordering::Relaxed) {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        b2.fetch_add(n as u64, Ordering::Relaxed);
                        tail.extend_from_slice(&buf[..n]);
                        let found = tail.windows(6).filter(|w| w == b"data: ").count();
                        e2.fetch_add(found as u64, Ordering::Relaxed);
                        let keep = tail.len().min(5);
                        tail.drain(..tail.len() - keep);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) => return Err(e.into()),
                }
                if last_metrics.elapsed() >= Duration::from_secs(5) {
                    get(&hp, "/metrics")?;
                    last_metrics = Instant::now();
                }
            }
            Ok(())
        });
        Ok(Page {
            stop,
            events,
            bytes,
            thread: Some(thread),
        })
    }

    /// Close the page; (events, bytes) it received.
    fn close(mut self) -> anyhow::Result<(u64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| anyhow::anyhow!("the page's thread panicked"))??;
        }
        Ok((
            self.events.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        ))
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn arg(args: &[String], name: &str) -> Option<i64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
}

fn main() -> anyhow::Result<()> {
    brisk::worker::main_if_worker();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = arg(&args, "--tasks").unwrap_or(2_000);
    let rounds = arg(&args, "--rounds").unwrap_or(1).max(1);
    // Only rounds without a page (to compare schedulers, e.g. an older `BRISK_BIN`).
    let no_page_only = args.iter().any(|a| a == "--no-page");

    let bin = brisk_bin();
    if args.is_empty() && !bin.exists() {
        // The smoke run (CI runs every example without arguments) needs the `brisk` binary.
        println!(
            "dashboard_bench: no {} (build the `brisk` binary first)",
            bin.display()
        );
        return Ok(());
    }
    let cluster = BenchCluster::start(&bin, 2, true)?;
    let client = &cluster.client;
    let hostport = cluster.dashboard.trim_start_matches("http://").to_string();
    client.gather(&client.map(noop, 0..1000i64)?)?;
    let pid = cluster.scheduler.0.id();

    // Alternate rounds without and with a page, so that the machine's load hits both alike.
    let mut per_task = [Vec::new(), Vec::new()];
    let mut dash_share = Vec::new();
    let mut rates = [Vec::new(), Vec::new()];
    let mut received = (0u64, 0u64);
    for round in 0..rounds {
        for (with_page, name) in [(false, "no_page"), (true, "page_open")] {
            if with_page && no_page_only {
                continue;
            }
            let page = if with_page {
                let p = Page::open(&hostport)?;
                // Let the page receive its opening snapshot first.
                std::thread::sleep(Duration::from_millis(600));
                Some(p)
            } else {
                None
            };
            let core0 = if with_page {
                core_seconds(&hostport)?
            } else {
                0.0
            };
            let cpu0 = thread_cpu(pid)?;
            let t = Instant::now();
            let base = 1_000_000 * (round + 1) + if with_page { 500_000 } else { 0 };
            let futs = client.map(noop, (0..n).map(|i| i * 7 + base * 1000))?;
            let got = client.gather(&futs)?;
            let wall = t.elapsed().as_secs_f64();
            let cpu1 = thread_cpu(pid)?;
            let core = if with_page {
                // The figure is as of the latest refresh: let one happen first.
                std::thread::sleep(Duration::from_millis(300));
                core_seconds(&hostport)? - core0
            } else {
                0.0
            };
            ensure!(got.len() == n as usize);
            drop(futs);
            let (cpu, dash) = cpu_between(&cpu0, &cpu1);
            if let Some(p) = page {
                let (ev, by) = p.close()?;
                ensure!(ev > 0, "the page received no events");
                received = (received.0 + ev, received.1 + by);
                dash_share.push((dash + core) / cpu.max(1e-9));
            }
            let i = usize::from(with_page);
            per_task[i].push(cpu / n as f64);
            rates[i].push(n as f64 / wall);
            println!(
                "BRISK case={name} round={round} tasks={n} seconds={wall:.3} tasks_per_s={:.0} \
                 scheduler_cpu_s={cpu:.3} dashboard_threads_cpu_s={dash:.4} \
                 dashboard_core_s={core:.4}",
                n as f64 / wall
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    client.shutdown();
    let off = median(&mut per_task[0]);
    let on = median(&mut per_task[1]);
    let overhead = (on - off) / off * 100.0;
    println!(
        "RESULT case=dashboard_overhead brisk_s={on:.9} dask_s=nan ratio=nan per=task \
         no_page_s={off:.9} overhead_pct={overhead:.1} dashboard_share_pct={:.2} \
         tasks_per_s_no_page={:.0} tasks_per_s_page={:.0} sse_events={} sse_bytes={} \
         rounds={rounds} tasks={n}",
        median(&mut dash_share) * 100.0,
        median(&mut rates[0]),
        median(&mut rates[1]),
        received.0,
        received.1
    );
    Ok(())
}
