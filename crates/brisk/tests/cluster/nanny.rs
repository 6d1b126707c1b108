//! `brisk worker --nanny`: a stock worker whose task blows far past its memory limit is killed
//! and restarted by its nanny (the task fails as one that killed its workers, the cluster goes
//! on with a fresh worker of the same name), and SIGTERM to the nanny retires the worker.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use brisk::Collection;
use brisk::array as da;

use crate::{Proc, brisk_bin, connect, start_scheduler};

pub(crate) fn nanny_restarts_a_worker_past_its_memory_limit() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&[])?;
    let mut nanny = Proc(
        Command::new(brisk_bin())
            .args(["worker", &address, "--nanny", "--nthreads", "1"])
            .args(["--memory-limit", "300MB", "--name", "nannied"])
            .env_remove("BRISK_TOKEN")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let client = connect(&address, None)?;
    client.wait_for_workers(1, Duration::from_secs(20))?;
    let first = client.scheduler_info()?.workers[0].id;

    // One 12000 x 12000 chunk of random numbers: 1.15 GB in a task, on a worker limited to
    // 300 MB.
    let x = da::RandomState::new(1).random([12000, 12000], [12000, 12000])?;
    // (An expression of generated arrays streams; a scan materializes its chunk.)
    let total = x.cumsum(0)?.sum();
    let cluster: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());
    let t = Instant::now();
    let err = brisk::with_scheduler(cluster.clone(), || total.compute())
        .err()
        .context("a task past the memory limit cannot finish")?
        .to_string();
    ensure!(
        err.contains("workers"),
        "the error says it killed its workers: {err}"
    );
    ensure!(t.elapsed() < Duration::from_secs(120), "{:?}", t.elapsed());
    ensure!(
        nanny.0.try_wait()?.is_none(),
        "the nanny outlives the workers it restarts"
    );
    // A fresh worker of the same name serves the next work.
    let t = Instant::now();
    loop {
        let info = client.scheduler_info()?;
        if info.workers.len() == 1
            && info.workers[0].name == "nannied"
            && info.workers[0].id != first
        {
            ensure!(info.workers_lost >= 1, "{info:?}");
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(30),
            "no fresh worker: {info:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ensure!(client.submit(crate::stock::inc, (1i64,))?.result()? == 2);
    let small = da::ones::<f64>([100, 100], [50, 50])?;
    let got: f64 = brisk::with_scheduler(cluster, || small.sum().compute())?;
    ensure!(got == 10_000.0, "{got}");

    // SIGTERM to the nanny: the worker retires and both exit cleanly.
    let _ = Command::new("kill")
        .args(["-TERM", &nanny.0.id().to_string()])
        .status();
    let t = Instant::now();
    let st = loop {
        if let Some(st) = nanny.0.try_wait()? {
            break st;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(30),
            "the nanny did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    ensure!(st.success(), "nanny: {st}");
    let info = client.scheduler_info()?;
    ensure!(
        info.workers.is_empty() && info.workers_retired >= 1,
        "{info:?}"
    );
    client.close();
    Ok(())
}
