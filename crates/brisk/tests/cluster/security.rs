//! Secure by default, tried as an attacker on the same machine would: with real `brisk`
//! processes on 127.0.0.1, an anonymous process cannot read another client's value from a
//! worker, register a fake worker, stop the cluster or read the dashboard's API; tokens given
//! through the environment or a file never show in `ps`; a token the scheduler makes is saved
//! privately and printed once; listeners stay on the loopback unless told otherwise, and an
//! open listener without a credential is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use brisk::distributed::protocol::conn::connect as raw_connect;
use brisk::distributed::protocol::messages::Role;
use brisk::distributed::protocol::peer::PeerPool;
use brisk::distributed::protocol::{Address, Security};

use crate::{Proc, brisk_bin, connect, wait_exit};

/// A token nobody could guess or find elsewhere on the machine.
fn fresh_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("tok{}q{nanos}z", std::process::id())
}

/// A scheduler started with `args` and `env` (and no inherited token), its stderr in a file.
struct Sched {
    proc: Proc,
    address: String,
    file: serde_json::Value,
    stderr: PathBuf,
}

fn spawn_scheduler(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Sched> {
    let file = dir.join("scheduler.json");
    let stderr = dir.join("scheduler.err");
    let child = Command::new(brisk_bin())
        .args(["scheduler", "--port", "0", "--scheduler-file"])
        .arg(&file)
        .args(args)
        .env_remove("BRISK_TOKEN")
        .env_remove("BRISK_TOKEN_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()?;
    let proc = Proc(child);
    let t = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(a) = v["address"].as_str()
        {
            return Ok(Sched {
                address: a.to_string(),
                file: v,
                proc,
                stderr,
            });
        }
        ensure!(
            t.elapsed() < Duration::from_secs(20),
            "the scheduler did not start: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A stock `brisk worker` with `args`, no inherited token.
fn spawn_worker(args: &[&str]) -> anyhow::Result<Proc> {
    Ok(Proc(
        Command::new(brisk_bin())
            .arg("worker")
            .args(args)
            .args(["--nthreads", "1"])
            .env_remove("BRISK_TOKEN")
            .env_remove("BRISK_TOKEN_FILE")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    ))
}

/// Whether `secret` shows in any process's command line, as `ps` prints them (and as
/// `/proc/*/cmdline` holds them, which is where `ps` reads).
fn shows_in_ps(secret: &str) -> anyhow::Result<bool> {
    let out = Command::new("ps").args(["-eww", "-o", "args"]).output()?;
    ensure!(out.status.success(), "ps failed");
    let ps = String::from_utf8_lossy(&out.stdout);
    ensure!(ps.lines().count() > 3, "ps lists processes: {ps}");
    // The test itself must be able to see a token on a command line (or the check is void).
    let mut cmdlines = String::new();
    for e in std::fs::read_dir("/proc")?.flatten() {
        if let Ok(b) = std::fs::read(e.path().join("cmdline")) {
            cmdlines.push_str(&String::from_utf8_lossy(&b).replace('\0', " "));
            cmdlines.push('\n');
        }
    }
    Ok(ps.contains(secret) || cmdlines.contains(secret))
}

/// The local address a TCP port on this machine is listening on (`/proc/net/tcp`), e.g.
/// `0100007F` for 127.0.0.1 and `00000000` for every interface.
fn listening_ip(port: u16) -> anyhow::Result<String> {
    let text = std::fs::read_to_string("/proc/net/tcp")?;
    let want = format!(":{port:04X}");
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 3 && f[3] == "0A" && f[1].ends_with(&want) {
            return Ok(f[1].split(':').next().unwrap_or("").to_string());
        }
    }
    bail!("nothing listens on port {port}")
}

fn port_of(address: &str) -> anyhow::Result<u16> {
    address
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("no port in {address}"))
}

/// GET `url` with extra header lines; status and body.
fn http(url: &str, headers: &[String]) -> anyhow::Result<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (hostport, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = std::net::TcpStream::connect(hostport)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((
        code,
        out.split_once("\r\n\r\n")
            .map(|x| x.1)
            .unwrap_or("")
            .to_string(),
    ))
}

fn rt() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub(crate) fn anonymous_processes_are_shut_out() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let token = fresh_token();
    // The scheduler gets the token from the environment, the worker from a private file.
    let s = spawn_scheduler(
        dir.path(),
        &["--dashboard-port", "0"],
        &[("BRISK_TOKEN", &token)],
    )?;
    let token_file = dir.path().join("token");
    brisk::distributed::protocol::credentials::write_token_file(&token_file, &token)?;
    let _w = spawn_worker(&[
        &s.address,
        "--name",
        "guarded",
        "--token-file",
        &token_file.to_string_lossy(),
    ])?;
    let owner = connect(&s.address, Some(&token))?;
    owner.wait_for_workers(1, Duration::from_secs(20))?;
    let secret = owner.submit(crate::stock::inc, (41,))?;
    ensure!(secret.result()? == 42);
    let key = secret.key().clone();
    let info = owner.scheduler_info()?;
    let worker = info.workers.first().context("a worker")?.address.clone();

    // The token shows nowhere: not in `ps`, not in the scheduler's log.
    ensure!(
        !shows_in_ps(&token)?,
        "the token shows in ps (given by environment and file)"
    );
    let log = std::fs::read_to_string(&s.stderr)?;
    ensure!(
        !log.contains(&token),
        "a given token is never printed: {log}"
    );

    let rt = rt()?;
    // The owner (with the token) may read the value straight from the worker...
    let got = rt.block_on(
        PeerPool::new(Security::none().with_token(Some(token.clone())), "owner")
            .get_data(&worker, vec![key.clone()]),
    )?;
    ensure!(
        got.first().is_some_and(|(_, v)| v.is_some()),
        "the owner reads its value: {got:?}"
    );
    // ...an anonymous process, or one with a wrong token, may not.
    for (who, sec) in [
        ("anonymous", Security::none()),
        (
            "wrong token",
            Security::none().with_token(Some("guess".into())),
        ),
    ] {
        let r = rt.block_on(PeerPool::new(sec, "thief").get_data(&worker, vec![key.clone()]));
        let err = r
            .err()
            .with_context(|| format!("{who} read a value from a worker"))?;
        ensure!(
            err.to_string().contains("token"),
            "{who}: the refusal says why: {err}"
        );
    }
    // A worker's port takes fetches only: not even a token holder may speak to it as a
    // client or a worker (so nothing but its own scheduler connection can stop it).
    let waddr = Address::parse(&worker)?;
    let good = Security::none().with_token(Some(token.clone()));
    for role in [Role::Client, Role::Worker] {
        let r = rt.block_on(raw_connect(&waddr, &good, role, "intruder"));
        let err = r
            .err()
            .context("a worker's port accepted a non-peer role")?;
        ensure!(err.to_string().contains("not accepted"), "{err}");
    }

    // No fake worker: anonymous or wrong-token registrations are refused.
    let saddr = Address::parse(&s.address)?;
    for sec in [
        Security::none(),
        Security::none().with_token(Some("guess".into())),
    ] {
        let r = rt.block_on(raw_connect(&saddr, &sec, Role::Worker, "fake"));
        ensure!(r.is_err(), "a fake worker got in");
    }
    let mut fake = Proc(
        Command::new(std::env::current_exe()?)
            .env("BRISK_WORKER_OF", &s.address)
            .env("BRISK_WORKER_NTHREADS", "1")
            .env("BRISK_WORKER_NAME", "fake")
            .env_remove("BRISK_TOKEN")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let st = wait_exit(&mut fake.0, Duration::from_secs(20))?;
    ensure!(
        !st.success(),
        "a worker without the token exits with an error"
    );
    let names: Vec<String> = owner
        .scheduler_info()?
        .workers
        .into_iter()
        .map(|w| w.name)
        .collect();
    ensure!(names == vec!["guarded".to_string()], "{names:?}");

    // Nobody anonymous can stop the cluster: clients without the token do not get in.
    for t in [None, Some("guess")] {
        let err = connect(&s.address, t)
            .err()
            .context("an anonymous client got in")?;
        ensure!(err.to_string().contains("token"), "{err}");
    }
    let mut sched = s.proc;
    std::thread::sleep(Duration::from_millis(200));
    ensure!(sched.0.try_wait()?.is_none(), "the scheduler still runs");
    ensure!(owner.submit(crate::stock::inc, (1,))?.result()? == 2);

    // The dashboard shows nothing without the token.
    let dash = s.file["dashboard"]
        .as_str()
        .context("a dashboard")?
        .to_string();
    for path in [
        "/api/snapshot",
        "/api/events",
        "/api/graph",
        &format!("/api/task?key={key}"),
        "/metrics",
        "/status",
    ] {
        for h in [vec![], vec!["Authorization: Bearer guess".to_string()]] {
            let (code, body) = http(&format!("{dash}{path}"), &h)?;
            ensure!(code == 401, "{path} without the token: {code} {body}");
            ensure!(
                !body.contains("guarded") && !body.contains(&worker),
                "{path}: {body}"
            );
        }
    }
    let (code, body) = http(
        &format!("{dash}/api/snapshot"),
        &[format!("Authorization: Bearer {token}")],
    )?;
    ensure!(code == 200 && body.contains("guarded"), "{code} {body}");
    // The owner's dashboard link carries the token and logs a browser in with a cookie.
    let link = owner.dashboard_link().context("a dashboard link")?;
    ensure!(link == format!("{dash}/status?token={token}"), "{link}");
    let raw = crate::http_get(link)?;
    ensure!(
        raw.starts_with("HTTP/1.0 303") || raw.starts_with("HTTP/1.1 303"),
        "{raw}"
    );
    let cookie = raw
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .context("a cookie")?;
    let pair = cookie.split(';').next().unwrap_or("");
    let (code, body) = http(
        &format!("{dash}/api/snapshot"),
        &[format!("Cookie: {pair}")],
    )?;
    ensure!(code == 200 && body.contains("guarded"), "{code} {body}");

    // A performance report (a file people share) names the dashboard but not the token.
    owner.set_as_default();
    let report = dir.path().join("report.html");
    let v = brisk::diagnostics::performance_report(&report, || {
        owner.submit(crate::stock::inc, (2,))?.result()
    })??;
    ensure!(v == 3);
    let html = std::fs::read_to_string(&report)?;
    ensure!(html.contains(&dash), "the report names the dashboard");
    ensure!(!html.contains(&token), "a report must not carry the token");

    // The owner may stop it.
    owner.shutdown();
    let st = wait_exit(&mut sched.0, Duration::from_secs(20))?;
    ensure!(st.success(), "{st}");
    Ok(())
}

pub(crate) fn a_token_made_by_the_scheduler_is_private() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("private").join("cluster.token");
    let s = spawn_scheduler(
        dir.path(),
        &[
            "--token-file",
            &path.to_string_lossy(),
            "--dashboard-port",
            "0",
        ],
        &[],
    )?;
    let token = brisk::distributed::protocol::credentials::read_token_file(&path)?;
    ensure!(token.len() == 64, "a long random token: {token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
        ensure!(mode == 0o600, "the token file is private: {mode:o}");
    }
    ensure!(
        s.file["token_file"].as_str() == Some(&*path.to_string_lossy()),
        "the scheduler file names the token file: {}",
        s.file
    );
    // Printed once, with a dashboard link that logs in.
    let t = Instant::now();
    let log = loop {
        let log = std::fs::read_to_string(&s.stderr)?;
        if log.contains("dashboard at") || t.elapsed() > Duration::from_secs(10) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    ensure!(log.matches(&token).count() == 2, "{log}");
    ensure!(log.contains(&format!("/status?token={token}")), "{log}");
    // A worker finds the token through the scheduler file; clients need it.
    let _w = spawn_worker(&[
        "--scheduler-file",
        &dir.path().join("scheduler.json").to_string_lossy(),
    ])?;
    ensure!(connect(&s.address, None).is_err(), "no token, no entry");
    let client = connect(&s.address, Some(&token))?;
    client.wait_for_workers(1, Duration::from_secs(20))?;
    ensure!(client.submit(crate::stock::inc, (1,))?.result()? == 2);
    ensure!(!shows_in_ps(&token)?, "a made token shows in ps");
    // A second scheduler with the same file reads the token instead of making a new one.
    let dir2 = tempfile::tempdir()?;
    let s2 = spawn_scheduler(
        dir2.path(),
        &["--token-file", &path.to_string_lossy(), "--no-dashboard"],
        &[],
    )?;
    ensure!(
        brisk::distributed::protocol::credentials::read_token_file(&path)? == token,
        "the file keeps its token"
    );
    let log2 = std::fs::read_to_string(&s2.stderr)?;
    ensure!(
        !log2.contains(&token),
        "a token read from a file is not printed"
    );
    ensure!(connect(&s2.address, Some(&token)).is_ok());
    Ok(())
}

pub(crate) fn listeners_stay_on_the_loopback() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // No --host: the scheduler and its dashboard listen on 127.0.0.1 only.
    let s = spawn_scheduler(dir.path(), &["--dashboard-port", "0"], &[])?;
    ensure!(
        listening_ip(port_of(&s.address)?)? == "0100007F",
        "the scheduler listens on 127.0.0.1"
    );
    let dash = s.file["dashboard"].as_str().context("a dashboard")?;
    ensure!(
        listening_ip(port_of(dash)?)? == "0100007F",
        "the dashboard listens on 127.0.0.1"
    );
    // No --listen-host: a worker of a scheduler on this machine listens on 127.0.0.1 only.
    let _w = spawn_worker(&[&s.address, "--name", "local"])?;
    let client = connect(&s.address, None)?;
    client.wait_for_workers(1, Duration::from_secs(20))?;
    let peer = client.scheduler_info()?.workers[0].address.clone();
    ensure!(
        listening_ip(port_of(&peer)?)? == "0100007F",
        "the worker's peer port listens on 127.0.0.1 ({peer})"
    );
    // Asked to listen on every interface with no credential, a worker refuses before it
    // opens anything, and says how to fix it.
    let out = Command::new(brisk_bin())
        .args(["worker", &s.address, "--listen-host", "0.0.0.0"])
        .env_remove("BRISK_TOKEN")
        .env_remove("BRISK_TOKEN_FILE")
        .stdin(Stdio::null())
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "{err}");
    ensure!(
        err.contains("refusing to listen on 0.0.0.0")
            && err.contains("--token-file")
            && err.contains("--insecure"),
        "{err}"
    );
    ensure!(client.scheduler_info()?.workers.len() == 1);
    // So does an in-process scheduler asked for every interface (it checks before binding).
    let e = brisk::distributed::scheduler::start(brisk::distributed::scheduler::SchedulerOptions {
        host: "0.0.0.0".into(),
        port: 0,
        ..Default::default()
    })
    .err()
    .context("an open scheduler started")?;
    ensure!(e.to_string().contains("refusing to listen"), "{e}");
    Ok(())
}
