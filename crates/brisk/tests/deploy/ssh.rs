//! SSH clusters through two throwaway sshds on 127.0.0.1 (two "hosts": two ports).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use brisk::deploy::{Cluster, SshCluster, SshOptions};
use brisk::{Client, ClientOptions};

use crate::sshd::{Keys, Sshd};
use crate::stock;

fn brisk_bin() -> &'static str {
    env!("CARGO_BIN_EXE_brisk")
}

fn options(keys: &Keys, hosts: &[&Sshd]) -> SshOptions {
    let mut o = SshOptions::new(hosts.iter().map(|h| h.host()));
    o.identity = Some(keys.user_key.clone());
    o.ssh_options = keys.client_options();
    o.remote_brisk = brisk_bin().to_string();
    o.scheduler_port = 0;
    o.scheduler_listen = "127.0.0.1".into();
    o.worker_listen = "127.0.0.1".into();
    o.dashboard_port = Some(0);
    o.nthreads = Some(1);
    o.startup_timeout = Duration::from_secs(60);
    o
}

pub(crate) fn ssh_cluster_runs_a_computation() -> anyhow::Result<()> {
    if !crate::sshd::available("ssh_cluster_runs_a_computation")? {
        return Ok(());
    }
    let keys = Keys::new()?;
    let a = Sshd::start(&keys, "a")?;
    let b = Sshd::start(&keys, "b")?;
    let mut o = options(&keys, &[&a, &b]);
    o.workers_per_host = 2;
    let cluster = SshCluster::start(o)?;
    let address = cluster.scheduler_address();
    ensure!(address.starts_with("tcp://127.0.0.1:"), "{address}");
    let dash = cluster.dashboard_link().context("a dashboard")?;
    ensure!(
        dash.starts_with("http://127.0.0.1:") && dash.ends_with("/status"),
        "{dash}"
    );
    ensure!(
        cluster.worker_names().len() == 2,
        "{:?}",
        cluster.worker_names()
    );
    // Without the cluster's token a client is turned away.
    let e = Client::connect_with(
        &address,
        ClientOptions {
            security: brisk::distributed::protocol::Security::none(),
            set_as_default: false,
            name: "intruder".into(),
        },
    );
    ensure!(e.is_err(), "a client without the token must be rejected");
    let client = Client::new(&cluster)?;
    let xs = client.map(stock::inc, 0..200i64)?;
    let pairs = xs
        .chunks(2)
        .map(|p| client.submit(stock::add, (&p[0], &p[1])))
        .collect::<Result<Vec<_>, _>>()?;
    let sums: Vec<i64> = client.gather(&pairs)?;
    ensure!(sums.iter().sum::<i64>() == (1..=200).sum::<i64>());
    let info = client.scheduler_info()?;
    ensure!(info.workers.len() == 2, "{info:?}");
    ensure!(
        info.workers
            .iter()
            .all(|w| w.metrics.tasks_done > 0 || w.has_what > 0),
        "both SSH workers took part: {info:?}"
    );
    // Growing starts another worker over SSH; shrinking retires two without losing a key.
    cluster.scale(3)?;
    ensure!(client.scheduler_info()?.workers.len() == 3);
    let done = client.scheduler_info()?.tasks_done;
    cluster.scale(1)?;
    let info = client.scheduler_info()?;
    ensure!(
        info.workers.len() == 1 && info.workers_lost == 0,
        "{info:?}"
    );
    let back: Vec<i64> = client.gather(&xs)?;
    ensure!(back == (1..=200).collect::<Vec<_>>());
    ensure!(
        client.scheduler_info()?.tasks_done == done,
        "nothing was recomputed"
    );
    let pids = cluster.worker_pids();
    client.close();
    cluster.close()?;
    // Everything stopped: the scheduler's port is closed, the ssh clients are gone.
    let port: u16 = address.rsplit(':').next().unwrap_or("0").parse()?;
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        ensure!(
            t.elapsed() < Duration::from_secs(10),
            "the scheduler still listens"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in pids {
        ensure!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z "),
            "ssh client {pid} still runs"
        );
    }
    drop((a, b));
    Ok(())
}

pub(crate) fn ssh_workers_run_your_own_program() -> anyhow::Result<()> {
    if !crate::sshd::available("ssh_workers_run_your_own_program")? {
        return Ok(());
    }
    let keys = Keys::new()?;
    let a = Sshd::start(&keys, "a")?;
    let b = Sshd::start(&keys, "b")?;
    let mut o = options(&keys, &[&a, &b]);
    // This test binary: its `main` calls `main_if_worker()` first and registers `big`,
    // `total` and `slow_inc`, which the stock `brisk worker` does not know.
    o.worker_program = Some(std::env::current_exe()?.display().to_string());
    o.workers_per_host = 2;
    o.memory_limit = Some("1GB".into());
    let cluster = SshCluster::start(o)?;
    let client = Client::new(&cluster)?;
    let xs = client.map(crate::big, 0..10i64)?;
    let totals = xs
        .iter()
        .map(|x| client.submit(crate::total, (x,)))
        .collect::<Result<Vec<_>, _>>()?;
    let sums: Vec<f64> = client.gather(&totals)?;
    ensure!(sums == (0..10).map(|i| i as f64 * 50_000.0).collect::<Vec<_>>());
    let info = client.scheduler_info()?;
    ensure!(
        info.workers.len() == 2
            && info
                .workers
                .iter()
                .all(|w| w.memory_limit == 1_000_000_000 || w.memory_limit == 1 << 30),
        "{info:?}"
    );
    client.close();
    cluster.close()?;
    // `auto` is a flag of `brisk worker`, not of the environment: refused before anything runs.
    let mut o = options(&keys, &[&a, &b]);
    o.worker_program = Some("/bin/true".into());
    o.memory_limit = Some("auto".into());
    let e = SshCluster::start(o).err().context("auto must be refused")?;
    ensure!(e.to_string().contains("auto"), "{e}");
    drop((a, b));
    Ok(())
}

pub(crate) fn brisk_ssh_command() -> anyhow::Result<()> {
    if !crate::sshd::available("brisk_ssh_command")? {
        return Ok(());
    }
    let keys = Keys::new()?;
    let a = Sshd::start(&keys, "a")?;
    let b = Sshd::start(&keys, "b")?;
    let mut cmd = Command::new(brisk_bin());
    cmd.args(["ssh", &a.host(), &b.host(), "-i"])
        .arg(&keys.user_key)
        .args([
            "--remote-brisk",
            brisk_bin(),
            "--scheduler-port",
            "0",
            "--scheduler-listen",
            "127.0.0.1",
            "--worker-listen",
            "127.0.0.1",
            "--no-dashboard",
            "--nthreads",
            "1",
            "--workers-per-host",
            "2",
        ]);
    for o in keys.client_options() {
        cmd.args(["-o", &o]);
    }
    let mut child = cmd
        .env_remove("BRISK_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let guard = Kill(child.id());
    let out = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut address, mut token) = (None, None);
    let t = Instant::now();
    while address.is_none() || token.is_none() {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if let Some(a) = line.strip_prefix("scheduler at ") {
                address = Some(a.to_string());
            } else if let Some(tk) = line.strip_prefix("token: ") {
                token = Some(tk.to_string());
            }
        }
        if let Some(st) = child.try_wait()? {
            bail!("brisk ssh exited early ({st})");
        }
        ensure!(
            t.elapsed() < Duration::from_secs(90),
            "brisk ssh printed no address/token"
        );
    }
    let (address, token) = (address.unwrap_or_default(), token.unwrap_or_default());
    let client = Client::connect_with(
        &address,
        ClientOptions {
            security: brisk::distributed::protocol::Security::none().with_token(Some(token)),
            set_as_default: false,
            name: "ssh-cli-test".into(),
        },
    )?;
    client.wait_for_workers(2, Duration::from_secs(30))?;
    let v: i64 = client.submit(stock::add, (40i64, 2i64))?.result()?;
    ensure!(v == 42);
    client.close();
    // SIGTERM stops the whole cluster and the command exits cleanly.
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    ensure!(st.success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(40),
            "brisk ssh did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::mem::forget(guard);
    ensure!(status.success(), "brisk ssh exits cleanly: {status}");
    let port: u16 = address.rsplit(':').next().unwrap_or("0").parse()?;
    ensure!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the remote scheduler stopped"
    );
    drop((a, b));
    Ok(())
}

pub(crate) fn ssh_errors_are_clear() -> anyhow::Result<()> {
    if !crate::sshd::available("ssh_errors_are_clear")? {
        return Ok(());
    }
    let keys = Keys::new()?;
    let a = Sshd::start(&keys, "a")?;
    // A binary that is not on the host.
    let mut o = options(&keys, &[&a]);
    o.remote_brisk = "/nonexistent/brisk".into();
    o.startup_timeout = Duration::from_secs(20);
    let e = SshCluster::start(o)
        .err()
        .context("a missing brisk must fail")?;
    ensure!(e.to_string().contains("not found"), "{e}");
    // A port where no sshd listens (BatchMode: no prompt, a clear error).
    let mut o = options(&keys, &[&a]);
    o.hosts = vec![format!("127.0.0.1:{}", crate::sshd::free_port()?)];
    o.startup_timeout = Duration::from_secs(20);
    let e = SshCluster::start(o).err().context("no sshd must fail")?;
    ensure!(e.to_string().contains("ssh could not connect"), "{e}");
    // A malformed host never reaches ssh.
    let e = SshCluster::start(SshOptions::new(["host:notaport"]))
        .err()
        .context("a bad host must fail")?;
    ensure!(e.to_string().contains("host:notaport"), "{e}");
    drop(a);
    Ok(())
}

/// Kills a process by PID when a test fails midway.
struct Kill(u32);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}
