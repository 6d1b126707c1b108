//! Deployment with real processes on 127.0.0.1: the `Cluster` trait over a local cluster,
//! graceful retirement (`retire_workers`, SIGTERM, scaling down) that loses no key, adaptive
//! scaling, and SSH clusters through two throwaway `sshd`s (`sshd.rs`).
//!
//! This test binary is its own worker program (`main` calls `main_if_worker()` first).

// A test binary with its own `main` (harness = false): unwraps are assertions here.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use brisk::deploy::{AdaptOptions, Cluster, LocalCluster, LocalClusterOptions};
use brisk::{Client, LocalOptions};

mod kubernetes;
mod mpi;
mod slurm;
mod slurmd;
mod ssh;
mod sshd;

pub(crate) fn big(n: i64) -> Vec<f64> {
    vec![n as f64; 50_000]
}
pub(crate) fn total(v: Vec<f64>) -> f64 {
    v.iter().sum()
}
pub(crate) fn slow_inc(x: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(150));
    x + 1
}
brisk::register!(big, total, slow_inc);

/// The functions the stock `brisk` binary registers for its demo, under the same names: SSH
/// workers are stock `brisk worker`s.
pub(crate) mod stock {
    pub(crate) fn inc(x: i64) -> i64 {
        x + 1
    }
    pub(crate) fn add(x: i64, y: i64) -> i64 {
        x + y
    }
    brisk::register!(inc as "brisk::demo::inc", add as "brisk::demo::add");
}

type TestFn = fn() -> anyhow::Result<()>;

fn main() {
    brisk::worker::main_if_worker();
    if let Ok(out) = std::env::var(mpi::PROGRAM_ENV) {
        // Run by `brisk mpi` as rank 1's program (see mpi.rs).
        match mpi::program(&out) {
            Ok(code) => std::process::exit(code),
            Err(e) => {
                eprintln!("mpi program: {e:?}");
                std::process::exit(101);
            }
        }
    }
    let tests: &[(&'static str, TestFn)] = &[
        (
            "local_cluster_through_the_trait",
            local_cluster_through_the_trait,
        ),
        (
            "retire_workers_keeps_every_key",
            retire_workers_keeps_every_key,
        ),
        (
            "sigterm_retires_a_worker_gracefully",
            sigterm_retires_a_worker_gracefully,
        ),
        (
            "retiring_the_last_worker_is_refused",
            retiring_the_last_worker_is_refused,
        ),
        (
            "adapt_grows_under_load_and_shrinks_when_idle",
            adapt_grows_under_load_and_shrinks_when_idle,
        ),
        (
            "ssh_cluster_runs_a_computation",
            ssh::ssh_cluster_runs_a_computation,
        ),
        (
            "ssh_workers_run_your_own_program",
            ssh::ssh_workers_run_your_own_program,
        ),
        ("brisk_ssh_command", ssh::brisk_ssh_command),
        ("ssh_errors_are_clear", ssh::ssh_errors_are_clear),
        (
            "slurm_adapt_runs_the_talks_array_example",
            slurm::slurm_adapt_runs_the_talks_array_example,
        ),
        (
            "slurm_worker_near_walltime_is_replaced",
            slurm::slurm_worker_near_walltime_is_replaced,
        ),
        ("slurm_errors_are_clear", slurm::slurm_errors_are_clear),
        ("brisk_slurm_command", slurm::brisk_slurm_command),
        (
            "brisk_mpi_runs_a_program_on_its_ranks",
            mpi::brisk_mpi_runs_a_program_on_its_ranks,
        ),
        (
            "brisk_mpi_errors_are_clear",
            mpi::brisk_mpi_errors_are_clear,
        ),
        (
            "kubernetes_manifests_validate_offline",
            kubernetes::kubernetes_manifests_validate_offline,
        ),
        (
            "kubernetes_worker_command_runs",
            kubernetes::kubernetes_worker_command_runs,
        ),
    ];
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let limit = Duration::from_secs(240);
    let current: &'static std::sync::Mutex<Option<(&'static str, Instant)>> =
        Box::leak(Box::new(std::sync::Mutex::new(None)));
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            if let Ok(g) = current.lock()
                && let Some((name, since)) = *g
                && since.elapsed() > limit
            {
                println!("test {name} ... FAILED: still running after {limit:?} (hung)");
                std::process::exit(2);
            }
        }
    });
    let mut failed = 0;
    for &(name, f) in tests {
        if let Some(flt) = &filter
            && !name.contains(flt.as_str())
        {
            continue;
        }
        let t = Instant::now();
        if let Ok(mut g) = current.lock() {
            *g = Some((name, t));
        }
        match f() {
            Ok(()) => println!("test {name} ... ok ({:.1} s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED: {e:?}");
            }
        }
    }
    if failed > 0 {
        println!("{failed} test(s) failed");
        std::process::exit(1);
    }
}

/// Wait (bounded) until `cond` holds on the scheduler's snapshot.
pub(crate) fn wait_info(
    client: &Client,
    what: &str,
    timeout: Duration,
    cond: impl Fn(&brisk::distributed::protocol::messages::ClusterInfo) -> bool,
) -> anyhow::Result<brisk::distributed::protocol::messages::ClusterInfo> {
    let t = Instant::now();
    loop {
        let info = client.scheduler_info()?;
        if cond(&info) {
            return Ok(info);
        }
        if t.elapsed() > timeout {
            bail!("{what}: not within {timeout:?}; last snapshot: {info:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn local_options(n: usize) -> LocalClusterOptions {
    let mut o = LocalClusterOptions::new(n);
    o.dashboard_port = None;
    o
}

fn local_cluster_through_the_trait() -> anyhow::Result<()> {
    let cluster = LocalCluster::start(local_options(2))?;
    ensure!(cluster.worker_names().len() == 2);
    ensure!(cluster.dashboard_link().is_none());
    let client = Client::new(&cluster)?;
    let xs = client.map(big, 0..8i64)?;
    let totals = xs
        .iter()
        .map(|x| client.submit(total, (x,)))
        .collect::<Result<Vec<_>, _>>()?;
    let sums: Vec<f64> = client.gather(&totals)?;
    ensure!(sums == (0..8).map(|i| i as f64 * 50_000.0).collect::<Vec<_>>());
    cluster.scale(3)?;
    ensure!(client.scheduler_info()?.workers.len() == 3);
    // Scaling down retires: the values the futures hold stay, nothing is recomputed.
    let done = client.scheduler_info()?.tasks_done;
    cluster.scale(1)?;
    let info = client.scheduler_info()?;
    ensure!(info.workers.len() == 1, "{info:?}");
    ensure!(cluster.worker_names().len() == 1);
    ensure!(
        info.workers_lost == 0 && info.workers_retired == 2,
        "{info:?}"
    );
    let back: Vec<Vec<f64>> = client.gather(&xs)?;
    ensure!(back.iter().enumerate().all(|(i, v)| v[0] == i as f64));
    ensure!(
        client.scheduler_info()?.tasks_done == done,
        "nothing was recomputed"
    );
    // Bad input is a clear error.
    let e = LocalCluster::start(LocalClusterOptions {
        program: Some("/nonexistent/brisk-worker".into()),
        ..local_options(1)
    })
    .err()
    .context("a missing program must fail")?;
    ensure!(e.to_string().contains("/nonexistent/brisk-worker"), "{e}");
    client.close();
    cluster.close()?;
    Ok(())
}

fn local_client(n: usize) -> anyhow::Result<Client> {
    let mut o = LocalOptions::new(n);
    o.dashboard_port = None;
    o.set_as_default = false;
    Ok(Client::local_with(o)?)
}

/// A worker holding at least one value only it has.
fn a_holder(info: &brisk::distributed::protocol::messages::ClusterInfo) -> anyhow::Result<String> {
    info.workers
        .iter()
        .filter(|w| w.has_what > 0)
        .max_by_key(|w| w.has_what)
        .map(|w| w.name.clone())
        .context("no worker holds a value")
}

fn retire_workers_keeps_every_key() -> anyhow::Result<()> {
    let client = local_client(3)?;
    let xs = client.map(big, 0..30i64)?;
    client.wait(&xs);
    let before = client.scheduler_info()?;
    let victim = a_holder(&before)?;
    let held = before
        .workers
        .iter()
        .find(|w| w.name == victim)
        .map_or(0, |w| w.has_what);
    client.retire_workers(&[victim.as_str()], Duration::from_secs(60))?;
    let after = client.scheduler_info()?;
    ensure!(after.workers.len() == 2, "{after:?}");
    ensure!(
        !after.workers.iter().any(|w| w.name == victim),
        "the retired worker left"
    );
    ensure!(
        after.workers_lost == 0,
        "a planned exit loses nothing: {after:?}"
    );
    ensure!(after.workers_retired == 1, "{after:?}");
    let kept: u32 = after.workers.iter().map(|w| w.has_what).sum();
    ensure!(
        kept >= 30,
        "every value survives ({held} moved from {victim}): {after:?}"
    );
    let back: Vec<Vec<f64>> = client.gather(&xs)?;
    ensure!(
        back.iter()
            .enumerate()
            .all(|(i, v)| v.len() == 50_000 && v[0] == i as f64)
    );
    ensure!(
        client.scheduler_info()?.tasks_done == before.tasks_done,
        "nothing was recomputed"
    );
    // Unknown names are named.
    let e = client
        .retire_workers(&["no-such-worker"], Duration::from_secs(5))
        .err()
        .context("an unknown worker must fail")?;
    ensure!(e.to_string().contains("no-such-worker"), "{e}");
    // The cluster still works.
    let s: f64 = client.submit(total, (&xs[3],))?.result()?;
    ensure!(s == 150_000.0);
    Ok(())
}

fn sigterm_retires_a_worker_gracefully() -> anyhow::Result<()> {
    let client = local_client(2)?;
    let xs = client.map(big, 0..20i64)?;
    client.wait(&xs);
    let before = client.scheduler_info()?;
    ensure!(
        before.workers.iter().all(|w| w.has_what > 0),
        "both hold values: {before:?}"
    );
    let pid = client.worker_pids()[0];
    let st = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    ensure!(st.success());
    let after = wait_info(&client, "the worker leaves", Duration::from_secs(30), |i| {
        i.workers.len() == 1
    })?;
    ensure!(
        after.workers_lost == 0 && after.workers_retired == 1,
        "{after:?}"
    );
    ensure!(
        after.workers[0].has_what >= 20,
        "the other worker holds everything: {after:?}"
    );
    let back: Vec<Vec<f64>> = client.gather(&xs)?;
    ensure!(back.iter().enumerate().all(|(i, v)| v[0] == i as f64));
    ensure!(
        client.scheduler_info()?.tasks_done == before.tasks_done,
        "nothing was recomputed"
    );
    // The process itself exited (its pid is gone or a zombie of our cluster).
    let t = Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(10),
            "the worker process exits: {stat}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn retiring_the_last_worker_is_refused() -> anyhow::Result<()> {
    let client = local_client(1)?;
    let x = client.submit(big, (7i64,))?;
    client.wait(std::slice::from_ref(&x));
    let name = client.scheduler_info()?.workers[0].name.clone();
    let e = client
        .retire_workers(&[name.as_str()], Duration::from_secs(10))
        .err()
        .context("the only worker cannot retire")?;
    ensure!(e.to_string().contains("no other worker"), "{e}");
    let info = client.scheduler_info()?;
    ensure!(
        info.workers.len() == 1 && !info.workers[0].retiring,
        "{info:?}"
    );
    // It keeps working, and new tasks go to it (the pause was lifted).
    ensure!(client.submit(total, (&x,))?.result()? == 350_000.0);
    ensure!(client.submit(slow_inc, (1i64,))?.result()? == 2);
    Ok(())
}

fn adapt_grows_under_load_and_shrinks_when_idle() -> anyhow::Result<()> {
    let cluster = LocalCluster::start(local_options(1))?;
    let client = Client::new(&cluster)?;
    cluster.adapt_with(AdaptOptions {
        interval: Duration::from_millis(200),
        wait_count: 3,
        ..AdaptOptions::new(1, 3)
    });
    let xs = client.map(slow_inc, 0..60i64)?;
    let t = Instant::now();
    let mut most = 1;
    while most < 3 {
        most = most.max(client.scheduler_info()?.workers.len());
        ensure!(
            t.elapsed() < Duration::from_secs(30),
            "grew only to {most} workers"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let vals: Vec<i64> = client.gather(&xs)?;
    ensure!(vals == (1..=60).collect::<Vec<_>>());
    // Idle: back to the minimum, keeping the values the futures hold.
    let info = wait_info(
        &client,
        "shrink to 1 worker",
        Duration::from_secs(30),
        |i| i.workers.len() == 1,
    )?;
    ensure!(info.workers_lost == 0, "{info:?}");
    // The retired processes leave the deployer's list once they have exited.
    let t = Instant::now();
    while cluster.worker_names().len() != 1 {
        ensure!(
            t.elapsed() < Duration::from_secs(15),
            "the deployer still lists {:?}",
            cluster.worker_names()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let again: Vec<i64> = client.gather(&xs)?;
    ensure!(again == vals);
    // scale() stops adapting.
    cluster.scale(2)?;
    std::thread::sleep(Duration::from_millis(1500));
    ensure!(
        client.scheduler_info()?.workers.len() == 2,
        "adaptivity stopped"
    );
    client.close();
    cluster.close()?;
    Ok(())
}
