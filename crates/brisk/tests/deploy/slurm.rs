//! Slurm clusters on a real single-node Slurm (`slurmd.rs`): the talk's array example with
//! `adapt(1, 3)` growing under load and shrinking to 1 when idle; a worker whose walltime
//! nears is replaced and hands its values over (nothing lost); refused submissions and bad
//! options are clear errors; `brisk slurm` runs a cluster that a client reaches through the
//! scheduler file.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use brisk::array::{self as da, ReduceOpts};
use brisk::deploy::{AdaptOptions, Cluster, SlurmCluster, SlurmOptions};
use brisk::{Client, ClientOptions, Collection, LocalScheduler};

use crate::slurmd::Slurm;
use crate::{slow_inc, wait_info};

/// Options for a cluster on `slurm`: workers are this test binary (so `slow_inc` runs there),
/// the scheduler on 127.0.0.1.
fn options(slurm: &Slurm) -> anyhow::Result<SlurmOptions> {
    let mut o = SlurmOptions::new();
    o.slurm_env = slurm.env();
    o.worker_program = Some(std::env::current_exe()?.display().to_string());
    o.state_directory = Some(slurm.dir.path().join("brisk"));
    o.scheduler_listen = "127.0.0.1".into();
    o.dashboard_port = Some(0);
    o.walltime = "10".into();
    Ok(o)
}

fn wait_until(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let t = Instant::now();
    while !cond()? {
        ensure!(t.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

pub(crate) fn slurm_adapt_runs_the_talks_array_example() -> anyhow::Result<()> {
    if !crate::slurmd::available("slurm_adapt_runs_the_talks_array_example")? {
        return Ok(());
    }
    let slurm = Slurm::start()?;
    let cluster = SlurmCluster::start(options(&slurm)?)?;
    let script = cluster.job_script();
    for line in [
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --time=10",
        "export BRISK_TOKEN_FILE=",
    ] {
        ensure!(script.contains(line), "{line:?} missing from\n{script}");
    }
    let token = cluster.security().token.context("a token")?;
    ensure!(!script.contains(&token), "the token is in the job script");
    cluster.adapt_with(AdaptOptions {
        interval: Duration::from_millis(300),
        wait_count: 3,
        max_pending: Some(3),
        ..AdaptOptions::new(1, 3)
    });
    let client = Client::new(&cluster)?;
    wait_info(
        &client,
        "the first job's worker joining",
        Duration::from_secs(60),
        |i| i.workers.len() == 1,
    )
    .map_err(|e| e.context(slurm.logs()))?;

    // Load: 60 tasks of 150 ms on one thread, and the talk's array example beside them.
    let xs = client.map(slow_inc, 0..60i64)?;
    let x = da::RandomState::new(42).random([2000, 2000], [250, 250])?;
    let y = (&x + &x.t()).mean_with(&ReduceOpts::axis(0))?;
    let remote = y.compute()?;
    let local = brisk::with_scheduler(Arc::new(LocalScheduler::threaded()), || y.compute())?;
    let worst = remote
        .iter()
        .zip(local.iter())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    ensure!(
        worst <= 1e-12,
        "cluster and local results differ by {worst}"
    );
    let mut most = 1;
    wait_until("growing to 3 workers", Duration::from_secs(60), || {
        most = most.max(client.scheduler_info()?.workers.len());
        Ok(most >= 3)
    })
    .map_err(|e| e.context(format!("jobs: {:?}{}", slurm.jobs(), slurm.logs())))?;
    let vals: Vec<i64> = client.gather(&xs)?;
    ensure!(vals == (1..=60).collect::<Vec<_>>());

    // Idle: back to one worker and one job, keeping the values the futures hold.
    let info = wait_info(
        &client,
        "shrink to 1 worker",
        Duration::from_secs(60),
        |i| i.workers.len() == 1,
    )?;
    ensure!(info.workers_lost == 0, "{info:?}");
    wait_until("one live job left", Duration::from_secs(30), || {
        Ok(slurm.live_jobs()? == 1 && cluster.worker_names().len() == 1)
    })
    .map_err(|e| e.context(format!("jobs: {:?}", slurm.jobs())))?;
    let again: Vec<i64> = client.gather(&xs)?;
    ensure!(again == vals);
    client.close();
    cluster.close()?;
    wait_until(
        "every job ended after close",
        Duration::from_secs(30),
        || Ok(slurm.live_jobs()? == 0),
    )?;
    Ok(())
}

pub(crate) fn slurm_worker_near_walltime_is_replaced() -> anyhow::Result<()> {
    if !crate::slurmd::available("slurm_worker_near_walltime_is_replaced")? {
        return Ok(());
    }
    let slurm = Slurm::start()?;
    let mut o = options(&slurm)?;
    // One minute of walltime, retiring 45 s early: a 15 s life, replaced 10 s before it ends.
    o.walltime = "1".into();
    o.lifetime_margin = Duration::from_secs(45);
    o.replace_ahead = Duration::from_secs(10);
    let cluster = SlurmCluster::start(o)?;
    cluster.scale(1)?;
    let client = Client::new(&cluster)?;
    let first = wait_info(&client, "the first worker", Duration::from_secs(60), |i| {
        i.workers.len() == 1
    })?
    .workers[0]
        .name
        .clone();
    let t0 = Instant::now();
    let held = client.map(crate::big, 0..8i64)?;
    let want: Vec<Vec<f64>> = (0..8).map(crate::big).collect();
    // Its replacement joins while it still runs, then it retires and its job ends.
    let two = wait_info(
        &client,
        "a replacement beside the first",
        Duration::from_secs(40),
        |i| i.workers.len() == 2,
    )?;
    ensure!(
        two.workers.iter().any(|w| w.name == first),
        "the first worker left before its replacement joined: {two:?}"
    );
    // (Its replacements live 15 s too, so they are replaced in turn: the count stays 1-2.)
    let after = wait_info(
        &client,
        "the first worker gone",
        Duration::from_secs(60),
        |i| !i.workers.is_empty() && i.workers.iter().all(|w| w.name != first),
    )?;
    ensure!(
        t0.elapsed() < Duration::from_secs(50),
        "the first worker outlived its lifetime ({:?})",
        t0.elapsed()
    );
    ensure!(after.workers_lost == 0, "a worker was lost: {after:?}");
    let got: Vec<Vec<f64>> = client.gather(&held)?;
    ensure!(got == want, "values changed across the replacement");
    // The count is kept: one job runs.
    ensure!(slurm.live_jobs()? >= 1, "{:?}", slurm.jobs());
    client.close();
    cluster.close()?;
    Ok(())
}

pub(crate) fn slurm_errors_are_clear() -> anyhow::Result<()> {
    if !crate::slurmd::available("slurm_errors_are_clear")? {
        return Ok(());
    }
    let slurm = Slurm::start()?;
    // A partition that does not exist: sbatch's reason, naming the worker.
    let mut o = options(&slurm)?;
    o.partition = Some("nosuchpartition".into());
    let cluster = SlurmCluster::start(o)?;
    let e = cluster.scale(1).expect_err("a refused job").to_string();
    ensure!(
        e.contains("sbatch refused the job")
            && e.contains("slurm-0")
            && e.to_lowercase().contains("partition"),
        "{e}"
    );
    cluster.close()?;
    // Bad options, before anything is submitted.
    for (what, f) in [
        (
            "walltime",
            Box::new(|o: &mut SlurmOptions| o.walltime = "soon".into())
                as Box<dyn Fn(&mut SlurmOptions)>,
        ),
        (
            "walltime",
            Box::new(|o: &mut SlurmOptions| {
                o.walltime = "1".into();
                o.lifetime_margin = Duration::from_secs(60);
            }),
        ),
        (
            "memory",
            Box::new(|o: &mut SlurmOptions| o.memory = Some("lots".into())),
        ),
        ("cores", Box::new(|o: &mut SlurmOptions| o.cores = 0)),
        (
            "job_extra",
            Box::new(|o: &mut SlurmOptions| o.job_extra = vec!["--qos=a\n#SBATCH --x".into()]),
        ),
    ] {
        let mut o = options(&slurm)?;
        f(&mut o);
        let e = match SlurmCluster::start(o) {
            Ok(_) => bail!("{what}: accepted"),
            Err(e) => e.to_string(),
        };
        ensure!(e.contains(what), "{what}: {e}");
    }
    // No sbatch on this path: says what to install.
    let mut o = options(&slurm)?;
    o.sbatch = "/nonexistent/sbatch".into();
    let cluster = SlurmCluster::start(o)?;
    let e = cluster.scale(1).expect_err("no sbatch").to_string();
    ensure!(
        e.contains("/nonexistent/sbatch") && e.contains("Slurm"),
        "{e}"
    );
    ensure!(slurm.live_jobs()? == 0, "{:?}", slurm.jobs());
    Ok(())
}

pub(crate) fn brisk_slurm_command() -> anyhow::Result<()> {
    if !crate::slurmd::available("brisk_slurm_command")? {
        return Ok(());
    }
    let slurm = Slurm::start()?;
    let brisk = env!("CARGO_BIN_EXE_brisk");
    let state = slurm.dir.path().join("cli");
    let common = |c: &mut Command| {
        c.arg("slurm")
            .args(["--scheduler-listen", "127.0.0.1", "--dashboard-port", "0"])
            .args(["--walltime", "5", "--cores", "1", "--memory", "1GB"])
            .arg("--state-directory")
            .arg(&state)
            .env("SLURM_CONF", slurm.env()[0].1.clone());
    };
    // The job script, without submitting anything.
    let mut c = Command::new(brisk);
    common(&mut c);
    let out = c
        .args(["--print-job-script", "--job-extra=--comment=brisk-test"])
        .output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8_lossy(&out.stdout);
    for line in [
        "#SBATCH --mem=954M",
        "#SBATCH --comment=brisk-test",
        "--lifetime 240",
        "--memory-limit 1000000000",
    ] {
        ensure!(script.contains(line), "{line:?} missing from\n{script}");
    }
    ensure!(
        slurm.live_jobs()? == 0,
        "--print-job-script submitted a job"
    );

    // A cluster of two jobs until SIGTERM; a client finds it through the scheduler file.
    let file = slurm.dir.path().join("scheduler.json");
    let mut c = Command::new(brisk);
    common(&mut c);
    let mut child = c
        .args(["--workers", "2", "--scheduler-file"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let t = Instant::now();
    while !lines.iter().any(|l: &String| l.starts_with("Ctrl-C")) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => lines.push(l),
            Err(_) => {
                if let Some(st) = child.try_wait()? {
                    bail!("brisk slurm exited ({st}): {lines:?}");
                }
                if t.elapsed() > Duration::from_secs(30) {
                    let _ = child.kill();
                    bail!("brisk slurm did not start: {lines:?}");
                }
            }
        }
    }
    let run = || -> anyhow::Result<()> {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
        let address = v["address"].as_str().context("address")?;
        let token_file = v["token_file"].as_str().context("token_file")?;
        let token = std::fs::read_to_string(token_file)?.trim().to_string();
        let client = Client::connect_with(
            address,
            ClientOptions {
                security: brisk::distributed::protocol::Security::none().with_token(Some(token)),
                set_as_default: false,
                ..ClientOptions::default()
            },
        )?;
        wait_info(&client, "two workers", Duration::from_secs(60), |i| {
            i.workers.len() == 2
        })?;
        let f = client.submit(crate::stock::add, (20i64, 22i64))?;
        ensure!(f.result()? == 42);
        client.close();
        Ok(())
    };
    let r = run();
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let t = Instant::now();
    let st = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if t.elapsed() > Duration::from_secs(40) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    r.map_err(|e| e.context(format!("output: {lines:?}{}", slurm.logs())))?;
    ensure!(
        st.is_some_and(|s| s.success()),
        "brisk slurm on SIGTERM: {st:?}"
    );
    wait_until("its jobs ended", Duration::from_secs(30), || {
        Ok(slurm.live_jobs()? == 0)
    })?;
    ensure!(!file.exists(), "the scheduler file is left behind");
    Ok(())
}
