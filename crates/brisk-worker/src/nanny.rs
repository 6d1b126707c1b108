//! The nanny (`brisk worker --nanny`): a small supervising process that runs the worker as
//! its child and restarts it when it crashes or when its memory — the worker process and the
//! processes it started (task executors of uploaded programs) — passes
//! [`NannyOptions::terminate_fraction`] of its memory limit, like dask.distributed's nanny.
//!
//! A worker's own memory policy (spill past 60 %, pause past 80 %) bounds the values it
//! manages; it cannot bound what a running task allocates, nor a leak. The nanny is the last
//! line: it kills the worker (SIGKILL: a process over its limit cannot be trusted to retire),
//! the scheduler sees the worker lost and recomputes or fails its tasks as after a crash (a
//! task that kills workers three times is reported as such), and a fresh worker with the
//! same name joins. A worker that exits by itself with status 0 (closed by the scheduler,
//! retired) ends the nanny too; SIGTERM/SIGINT to the nanny is passed to the worker (which
//! retires gracefully) and the nanny exits with it. Restarts are bounded
//! ([`NannyOptions::max_restarts`] within [`NannyOptions::restart_window`]): a worker that
//! cannot stay up is an error, not a loop.
//!
//! Memory is read from `/proc` (Linux): the resident set of the child and, through
//! `/proc/<pid>/task/<tid>/children`, of its descendants.

use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How the nanny supervises.
#[derive(Debug, Clone)]
pub struct NannyOptions {
    /// The worker's memory limit in bytes (0: no memory check).
    pub memory_limit: u64,
    /// Restart past this fraction of the limit (Dask's default: 0.95).
    pub terminate_fraction: f64,
    /// How often memory is read.
    pub interval: Duration,
    /// At most this many restarts within [`NannyOptions::restart_window`].
    pub max_restarts: usize,
    /// See [`NannyOptions::max_restarts`].
    pub restart_window: Duration,
}

impl NannyOptions {
    /// Restart past 95 % of `memory_limit`, at most 10 times in 5 minutes.
    pub fn new(memory_limit: u64) -> Self {
        NannyOptions {
            memory_limit,
            terminate_fraction: 0.95,
            interval: Duration::from_millis(100),
            max_restarts: 10,
            restart_window: Duration::from_secs(300),
        }
    }
}

/// Resident bytes of process `pid` (0 when it is gone); pages of 4 KiB (x86-64 and most
/// aarch64 Linux).
fn rss(pid: u32) -> u64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
        return 0;
    };
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Resident bytes of process `pid` that are its own (resident minus shared: no code or
/// mapped files), 0 when it is gone.
fn anon_rss(pid: u32) -> u64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
        return 0;
    };
    let mut f = text
        .split_whitespace()
        .skip(1)
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let (resident, shared) = (f.next().unwrap_or(0), f.next().unwrap_or(0));
    resident.saturating_sub(shared) * 4096
}

/// Resident bytes of `pid` and its descendants.
pub fn tree_rss(pid: u32) -> u64 {
    tree_sum(pid, rss)
}

/// The memory `pid` and its descendants hold of their own (resident, not shared: the heap,
/// stacks, values — not code pages, which fault in as code runs): what the worker's
/// process-memory thresholds measure.
pub fn tree_anon_rss(pid: u32) -> u64 {
    tree_sum(pid, anon_rss)
}

fn tree_sum(pid: u32, rss: fn(u32) -> u64) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        seen += 1;
        if seen > 10_000 {
            break;
        }
        total += rss(p);
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                    stack.extend(
                        children
                            .split_whitespace()
                            .filter_map(|c| c.parse::<u32>().ok()),
                    );
                }
            }
        }
    }
    total
}

fn signal(pid: u32, sig: i32) {
    #[cfg(unix)]
    {
        // kill(1) rather than libc, so this module needs no unsafe code.
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status();
    }
}

/// Why the nanny stopped.
#[derive(Debug)]
pub enum NannyExit {
    /// The worker exited with this status by itself or after a signal to the nanny.
    Worker(ExitStatus),
    /// The worker kept failing.
    GaveUp(String),
}

/// Run `make()`'s command as the worker, restarting it as described in the module docs, until
/// it exits by itself with status 0, the nanny gets SIGTERM/SIGINT, or it fails too often.
pub fn supervise(make: impl Fn() -> Command, options: &NannyOptions) -> std::io::Result<NannyExit> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("brisk-nanny-signals".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    #[cfg(unix)]
                    if let Ok(mut term) =
                        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                    }
                    #[cfg(not(unix))]
                    let _ = tokio::signal::ctrl_c().await;
                });
                stop.store(true, Ordering::SeqCst);
            })?;
    }
    let limit = (options.memory_limit as f64 * options.terminate_fraction) as u64;
    let mut restarts: Vec<Instant> = Vec::new();
    loop {
        let mut child = make().spawn()?;
        let pid = child.id();
        tracing::info!(pid, "nanny started the worker");
        let mut told = false;
        let why = loop {
            if let Some(st) = child.try_wait()? {
                if st.success() || stop.load(Ordering::SeqCst) {
                    return Ok(NannyExit::Worker(st));
                }
                break format!("it exited ({st})");
            }
            if stop.load(Ordering::SeqCst) && !told {
                // Pass the signal on: the worker retires gracefully and exits.
                signal(pid, 15);
                told = true;
            }
            if limit > 0 && !told {
                let used = tree_rss(pid);
                if used > limit {
                    let _ = child.kill();
                    let _ = child.wait();
                    break format!(
                        "it used {used} bytes, past {:.0} % of its memory limit of {} bytes",
                        options.terminate_fraction * 100.0,
                        options.memory_limit
                    );
                }
            }
            std::thread::sleep(options.interval);
        };
        let now = Instant::now();
        restarts.retain(|t| now.duration_since(*t) < options.restart_window);
        if restarts.len() >= options.max_restarts {
            return Ok(NannyExit::GaveUp(format!(
                "the worker failed {} times within {} s; the last time {why}",
                restarts.len() + 1,
                options.restart_window.as_secs()
            )));
        }
        restarts.push(now);
        tracing::warn!(pid, reason = %why, "nanny: restarting the worker");
        // Back off a little when it keeps failing.
        std::thread::sleep(Duration::from_millis(200 * restarts.len() as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_memory() {
        let me = tree_rss(std::process::id());
        assert!(me > 1 << 20, "{me}");
        assert_eq!(tree_rss(u32::MAX - 7), 0);
    }

    #[test]
    fn restarts_a_failing_worker_a_bounded_number_of_times() {
        let o = NannyOptions {
            max_restarts: 2,
            restart_window: Duration::from_secs(60),
            ..NannyOptions::new(0)
        };
        let r = supervise(
            || {
                let mut c = Command::new("sh");
                c.args(["-c", "exit 7"]);
                c
            },
            &o,
        )
        .expect("runs");
        match r {
            NannyExit::GaveUp(m) => {
                assert!(m.contains("3 times") && m.contains("exit status: 7"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        // A clean exit ends supervision.
        let r = supervise(|| Command::new("true"), &o).expect("runs");
        assert!(matches!(r, NannyExit::Worker(st) if st.success()));
    }

    #[test]
    fn restarts_past_the_memory_limit() {
        // A "worker" that holds ~60 MB; limit 20 MB: killed, restarted, until the bound.
        let o = NannyOptions {
            max_restarts: 1,
            restart_window: Duration::from_secs(60),
            ..NannyOptions::new(20 << 20)
        };
        let t = Instant::now();
        let r = supervise(
            || {
                let mut c = Command::new("python3");
                c.args(["-c", "import time; b = bytearray(60 << 20); time.sleep(30)"]);
                c
            },
            &o,
        )
        .expect("runs");
        match r {
            NannyExit::GaveUp(m) => assert!(m.contains("memory limit"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    }
}
