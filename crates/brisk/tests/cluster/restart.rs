//! The scheduler survives its own restart (`brisk scheduler --journal`): killed with -9 in the
//! middle of a 100k-task map and of the talk's array example, started again on the same port
//! with the same journal, it gets the right answers to the same client — which reconnects by
//! itself — recomputing only what was lost: the workers offer the values they kept.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use brisk::array::{self as da, ReduceOpts};
use brisk::{Collection, LocalScheduler};

use crate::{Proc, brisk_bin, connect, start_self_worker};

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `brisk scheduler` (no dashboard) on a fixed port, once it listens.
pub(crate) fn scheduler_on_port(port: u16, extra: &[&str]) -> anyhow::Result<Proc> {
    let p = Proc(
        Command::new(brisk_bin())
            .args([
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .arg("--no-dashboard")
            .args(extra)
            .env_remove("BRISK_TOKEN")
            .stdin(Stdio::null())
            .spawn()?,
    );
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        ensure!(
            t.elapsed() < Duration::from_secs(20),
            "the scheduler does not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(p)
}

/// `brisk scheduler --journal` on a fixed port (a restart must come back on the same one).
pub(crate) fn journaled_scheduler(
    port: u16,
    journal: &Path,
    extra: &[&str],
) -> anyhow::Result<Proc> {
    let journal = journal.to_string_lossy();
    let mut args = vec!["--journal", &journal, "--recovery-wait", "20"];
    args.extend_from_slice(extra);
    scheduler_on_port(port, &args)
}

pub(crate) fn kill_9(p: &mut Proc) {
    let _ = p.0.kill();
    let _ = p.0.wait();
}

/// Tasks run by the workers since they last registered (their counters restart then).
fn run_since_registration(client: &brisk::Client) -> anyhow::Result<u64> {
    Ok(client
        .scheduler_info()?
        .workers
        .iter()
        .map(|w| w.metrics.tasks_done)
        .sum())
}

/// Waits (30 s at most) until the scheduler holds no task and no worker a key; the snapshot then.
pub(crate) fn nothing_held(
    client: &brisk::Client,
) -> anyhow::Result<brisk::distributed::protocol::messages::ClusterInfo> {
    let t = Instant::now();
    loop {
        let i = client.scheduler_info()?;
        let held: u64 = i.tasks_by_state.iter().map(|(_, n)| *n).sum();
        let stored: u64 = i
            .workers
            .iter()
            .map(|w| u64::from(w.metrics.stored_keys))
            .sum();
        if held == 0 && stored == 0 {
            return Ok(i);
        }
        ensure!(
            t.elapsed() < Duration::from_secs(30),
            "still held: {:?}, {stored} keys on workers",
            i.tasks_by_state
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn a_restarted_scheduler_finishes_a_100k_map() -> anyhow::Result<()> {
    let mut cluster = Journaled::start("restart")?;
    let client = cluster.client.clone();
    let n = 100_000i64;
    let xs = client.map(crate::inc_after_20us, 0..n)?;
    // Kill it once a fifth is done.
    let t = Instant::now();
    let done_before = loop {
        let d = client.scheduler_info()?.tasks_done;
        if d >= n as u64 / 5 {
            break d;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(120),
            "only {d} tasks done"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let t_restart = Instant::now();
    cluster.restart()?;
    ensure!(
        done_before < n as u64,
        "the map ended before the kill: nothing to test"
    );
    let got: Vec<i64> = client.gather(&xs).context("the map after the restart")?;
    let recovery = t_restart.elapsed();
    ensure!(got == (1..=n).collect::<Vec<_>>(), "wrong values");
    let info = client.scheduler_info()?;
    let (run_after, recovered) = (info.tasks_done, info.tasks_recovered);
    println!(
        "restart mid-map: {done_before} of {n} tasks done at the kill; {recovered} values \
         recovered from the workers and {run_after} tasks run after the restart (workers: {}); \
         all values {:.1} s after it",
        run_since_registration(&client)?,
        recovery.as_secs_f64()
    );
    ensure!(
        recovered >= done_before,
        "only {recovered} values recovered although {done_before} were done before the kill"
    );
    ensure!(
        run_after + recovered == n as u64,
        "{run_after} tasks run and {recovered} recovered for {n} keys"
    );
    drop(xs);
    nothing_held(&client)?;
    Ok(())
}

/// A journaling scheduler on a port of its own and two workers of this program named
/// `{name}-0`, `{name}-1`, with a client that has seen them.
struct Journaled {
    _dir: tempfile::TempDir,
    journal: std::path::PathBuf,
    port: u16,
    sched: Proc,
    _workers: Vec<Proc>,
    client: brisk::Client,
}

impl Journaled {
    fn start(name: &str) -> anyhow::Result<Journaled> {
        let dir = tempfile::tempdir()?;
        let journal = dir.path().join("scheduler.journal");
        let port = free_port()?;
        let address = format!("tcp://127.0.0.1:{port}");
        let sched = journaled_scheduler(port, &journal, &[])?;
        let workers: Vec<Proc> = (0..2)
            .map(|i| start_self_worker(&address, &format!("{name}-{i}"), None))
            .collect::<anyhow::Result<_>>()?;
        let client = connect(&address, None)?;
        client.wait_for_workers(2, Duration::from_secs(20))?;
        Ok(Journaled {
            _dir: dir,
            journal,
            port,
            sched,
            _workers: workers,
            client,
        })
    }

    /// kill -9 the scheduler and start it again from its journal 300 ms later.
    fn restart(&mut self) -> anyhow::Result<()> {
        kill_9(&mut self.sched);
        std::thread::sleep(Duration::from_millis(300));
        self.sched = journaled_scheduler(self.port, &self.journal, &[])?;
        Ok(())
    }
}

pub(crate) fn a_restarted_scheduler_finishes_the_talks_array_example() -> anyhow::Result<()> {
    let mut journaled = Journaled::start("array")?;
    let client = journaled.client.clone();
    let cluster: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());
    // x - x.mean(axis=1, keepdims=True), big enough to be killed in the middle.
    let x = da::RandomState::new(11).normal(0.0, 1.0, [4000, 6000], [500, 500])?;
    let centered = &x - &x.mean_with(&ReduceOpts::axis(1).keepdims(true))?;
    let job = {
        let cluster = Arc::clone(&cluster);
        let centered = centered.clone();
        std::thread::spawn(move || brisk::with_scheduler(cluster, || centered.compute()))
    };
    let t = Instant::now();
    loop {
        let d = client.scheduler_info()?.tasks_done;
        if d >= 60 {
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(120),
            "only {d} tasks done"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    ensure!(!job.is_finished(), "the job ended before the kill");
    journaled.restart()?;
    let remote = job
        .join()
        .map_err(|_| anyhow::anyhow!("the array thread panicked"))?
        .context("the array after the restart")?;
    let local = brisk::with_scheduler(Arc::new(LocalScheduler::threaded()), || centered.compute())?;
    ensure!(remote.shape() == local.shape());
    let worst = remote
        .iter()
        .zip(local.iter())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    ensure!(worst == 0.0, "cluster and local arrays differ by {worst}");
    nothing_held(&client)?;
    Ok(())
}

/// Every wait ends: a scheduler started again without its journal cannot give the work back,
/// and one that never comes back is given up after the client's reconnect timeout — either
/// way the futures fail with an error that says so, and the client goes on with the new one.
pub(crate) fn lost_work_after_a_restart_is_an_error_not_a_hang() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("scheduler.journal");
    let port = free_port()?;
    let address = format!("tcp://127.0.0.1:{port}");
    let mut sched = journaled_scheduler(port, &journal, &[])?;
    let _worker = start_self_worker(&address, "lost-0", None)?;
    let client = connect(&address, None)?;
    client.wait_for_workers(1, Duration::from_secs(20))?;
    // 40 s of work on one thread: not done when the scheduler dies.
    let stuck = client.map(crate::slow_inc, 0..2000i64)?;
    let slow = stuck.last().context("futures")?.clone();
    std::thread::sleep(Duration::from_millis(200));
    kill_9(&mut sched);
    // Back without a journal: the client's work is gone, and it is told so.
    let plain = scheduler_on_port(port, &[])?;
    let t = Instant::now();
    let err = slow
        .result()
        .err()
        .context("a result with no scheduler to compute it")?;
    ensure!(
        err.to_string().contains("no longer has this client's work"),
        "{err}"
    );
    ensure!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    // The client is connected to the new scheduler and works on.
    client
        .wait_for_workers(1, Duration::from_secs(20))
        .context("workers of the new scheduler")?;
    let v = client
        .submit(crate::inc, (41,))
        .context("submit to the new scheduler")?
        .result()
        .context("a result from the new scheduler")?;
    ensure!(v == 42);
    drop(stuck);
    drop(plain);
    // A journaling scheduler that never comes back: bounded by the reconnect timeout.
    let mut sched = journaled_scheduler(port, &dir.path().join("second.journal"), &[])?;
    let client = connect(&address, None).context("a second client")?;
    client.set_reconnect_timeout(Duration::from_secs(2));
    client
        .wait_for_workers(1, Duration::from_secs(20))
        .context("the second client's workers")?;
    let many = client
        .map(crate::slow_inc, 10_000..12_000i64)
        .context("the second client's map")?;
    let pending = many.last().context("futures")?.clone();
    std::thread::sleep(Duration::from_millis(100));
    kill_9(&mut sched);
    let t = Instant::now();
    let err = pending
        .result()
        .err()
        .context("a result from a scheduler that is gone")?;
    let waited = t.elapsed();
    ensure!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(20),
        "gave up after {waited:?}: {err}"
    );
    Ok(())
}
