//! [`SshCluster`]: the scheduler on the first host, workers on the others, each started
//! through the system `ssh` client (`BatchMode=yes`: keys or an agent, never a password
//! prompt), like `dask-ssh` / `SSHCluster`.
//!
//! Each remote process runs under a small POSIX `sh` wrapper that
//!
//! 1. reads the cluster's token from its standard input (so it never appears on a command
//!    line or in `ps`), exports it as `BRISK_TOKEN`;
//! 2. starts `brisk scheduler` or `brisk worker` in the background;
//! 3. watches its standard input: when it closes (this program closed it, died, or the SSH
//!    connection broke) the wrapper sends the process SIGTERM, which for a worker means a
//!    graceful retirement (its values move to other workers first);
//! 4. exits with the process.
//!
//! So nothing is left behind on the hosts when this program goes away, by any path.
//! The remote hosts need a POSIX `sh`, the `brisk` binary (on the `PATH` of a non-interactive
//! SSH session, or at [`SshOptions::remote_brisk`]) of the same version as this program, and
//! the scheduler's port reachable from the workers and from this machine.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use brisk_protocol::Security;
use parking_lot::Mutex;

use crate::adapt::{AdaptOptions, Adaptive};
use crate::cluster::Cluster;
use crate::command::{WorkerCommand, sh_quote};
use crate::env::{WorkerEnv, fresh_token};
use crate::error::DeployError;
use crate::pool::{Member, Pool, Proc, Spawner};

/// One SSH destination: `[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshHost {
    /// `user@host` or `host`, as given to `ssh`.
    pub destination: String,
    /// The host name alone (how this machine and the workers reach the scheduler).
    pub host: String,
    /// The SSH port, when not the default.
    pub port: Option<u16>,
}

impl SshHost {
    /// Parse `[user@]host[:port]` (`[v6-address]:port` for IPv6).
    pub fn parse(text: &str) -> Result<SshHost, DeployError> {
        let bad = |reason: &str| DeployError::BadOption {
            name: "host",
            value: text.to_string(),
            reason: reason.to_string(),
        };
        let t = text.trim();
        if t.is_empty() || t.contains(char::is_whitespace) || t.starts_with('-') {
            return Err(bad("expected [user@]host[:port]"));
        }
        let (user, rest) = match t.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u), r),
            Some(_) => return Err(bad("empty user before @")),
            None => (None, t),
        };
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            match after.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None if after.is_empty() => (h, None),
                None => return Err(bad("expected :port after ]")),
            }
        } else if rest.matches(':').count() == 1 {
            let (h, p) = rest.split_once(':').ok_or_else(|| bad("bad port"))?;
            (h, Some(p))
        } else {
            (rest, None)
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = match port {
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
            ),
            None => None,
        };
        let destination = match user {
            Some(u) => format!("{u}@{host}"),
            None => host.to_string(),
        };
        Ok(SshHost {
            destination,
            host: host.to_string(),
            port,
        })
    }
}

/// How to start a cluster over SSH.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// `[user@]host[:port]`: the scheduler runs on the first, workers on the others (on the
    /// first too when it is the only one).
    pub hosts: Vec<String>,
    /// Workers per worker host.
    pub workers_per_host: usize,
    /// The private key (`ssh -i`).
    pub identity: Option<PathBuf>,
    /// More `ssh` options, each passed as `-o OPTION` (e.g. `StrictHostKeyChecking=accept-new`).
    pub ssh_options: Vec<String>,
    /// The `ssh` program.
    pub ssh_program: PathBuf,
    /// The `brisk` binary on the hosts (default: `brisk`, found on the remote `PATH`).
    pub remote_brisk: String,
    /// Run workers as this program instead of the stock `brisk worker`: a program of your own
    /// whose `main` calls `brisk::worker::main_if_worker()` first, so your registered
    /// functions run on the cluster (it must be on the hosts). It gets the worker environment
    /// (`BRISK_WORKER_OF`, ...; the token through the wrapper).
    pub worker_program: Option<String>,
    /// Arguments for [`SshOptions::worker_program`].
    pub worker_program_args: Vec<String>,
    /// The scheduler's port (0: any free port).
    pub scheduler_port: u16,
    /// The address the scheduler listens on, on its host.
    pub scheduler_listen: String,
    /// The dashboard's port (`None`: no dashboard; 0: any free port).
    pub dashboard_port: Option<u16>,
    /// The address workers listen on for peers, on their hosts.
    pub worker_listen: String,
    /// Threads per worker (default: the host's cores).
    pub nthreads: Option<usize>,
    /// Memory limit per worker (`4GB`, `auto`; default: none).
    pub memory_limit: Option<String>,
    /// The shared token (default: a fresh one).
    pub token: Option<String>,
    /// How long the scheduler and the workers may take to start.
    pub startup_timeout: Duration,
}

impl SshOptions {
    /// One worker per host after the first, the defaults elsewhere.
    pub fn new(hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        SshOptions {
            hosts: hosts.into_iter().map(Into::into).collect(),
            workers_per_host: 1,
            identity: None,
            ssh_options: Vec::new(),
            ssh_program: "ssh".into(),
            remote_brisk: "brisk".into(),
            worker_program: None,
            worker_program_args: Vec::new(),
            scheduler_port: 8786,
            scheduler_listen: "0.0.0.0".into(),
            dashboard_port: Some(8787),
            worker_listen: "0.0.0.0".into(),
            nthreads: None,
            memory_limit: None,
            token: None,
            startup_timeout: Duration::from_secs(60),
        }
    }
}

/// The remote command: the wrapper of the module docs around `argv`.
fn remote_command(argv: &[String]) -> String {
    let cmd: Vec<String> = argv.iter().map(|a| sh_quote(a)).collect();
    let script = format!(
        "IFS= read -r BRISK_TOKEN || exit 97; export BRISK_TOKEN; exec 3<&0; \
         {} </dev/null 3<&- & pid=$!; \
         ( cat <&3 >/dev/null 2>&1; kill -TERM $pid 2>/dev/null ) >/dev/null 2>&1 & \
         exec 3<&-; wait $pid",
        cmd.join(" ")
    );
    format!("sh -c {}", sh_quote(&script))
}

#[derive(Clone)]
struct Ssh {
    program: PathBuf,
    identity: Option<PathBuf>,
    options: Vec<String>,
    token: String,
}

impl Ssh {
    /// Start `argv` on `host`; standard error goes to `stderr`.
    fn start(
        &self,
        host: &SshHost,
        argv: &[String],
        stderr: Stdio,
    ) -> Result<std::process::Child, String> {
        let mut cmd = Command::new(&self.program);
        cmd.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T"]);
        if let Some(i) = &self.identity {
            cmd.arg("-i").arg(i);
        }
        if let Some(p) = host.port {
            cmd.args(["-p", &p.to_string()]);
        }
        for o in &self.options {
            cmd.args(["-o", o]);
        }
        cmd.arg("--")
            .arg(&host.destination)
            .arg(remote_command(argv))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        let line = format!("{}\n", self.token);
        if let Some(stdin) = child.stdin.as_mut() {
            let _ = stdin.write_all(line.as_bytes());
            let _ = stdin.flush();
        }
        Ok(child)
    }
}

struct SshSpawner {
    ssh: Ssh,
    hosts: Vec<SshHost>,
    worker: WorkerCommand,
}

impl Spawner for SshSpawner {
    fn spawn(&self, index: usize, name: &str) -> Result<Box<dyn Member>, DeployError> {
        let host = &self.hosts[index % self.hosts.len()];
        let argv = self.worker.argv(name);
        let what = format!("worker {name} on {}", host.destination);
        let mut child = self
            .ssh
            .start(host, &argv, Stdio::inherit())
            .map_err(|m| DeployError::start(&what, m))?;
        let stdin = child.stdin.take();
        Ok(Box::new(Proc {
            name: name.to_string(),
            place: host.destination.clone(),
            child,
            stdin,
        }))
    }

    fn prefix(&self) -> &str {
        "ssh"
    }
}

/// A cluster on SSH hosts. Dropping it (or [`Cluster::close`]) stops every remote process.
pub struct SshCluster {
    scheduler: Mutex<Option<Proc>>,
    address: String,
    dashboard: Option<String>,
    security: Security,
    pool: Arc<Pool>,
    adaptive: Mutex<Option<Adaptive>>,
    /// Replaces workers that die.
    keeper: Mutex<Option<crate::pool::Keeper>>,
}

impl SshCluster {
    /// Start the scheduler on the first host and `workers_per_host` workers on each other
    /// host, and wait until they joined.
    pub fn start(o: SshOptions) -> Result<SshCluster, DeployError> {
        let hosts: Vec<SshHost> = o
            .hosts
            .iter()
            .map(|h| SshHost::parse(h))
            .collect::<Result<_, _>>()?;
        let Some(first) = hosts.first().cloned() else {
            return Err(DeployError::BadOption {
                name: "hosts",
                value: String::new(),
                reason: "give at least one host (the scheduler's; workers go on the others)".into(),
            });
        };
        // A worker program reads its memory limit from the environment: a size, not `auto`.
        let program_memory_limit = match (&o.worker_program, &o.memory_limit) {
            (Some(_), Some(m)) => {
                brisk_core::bytes::parse_bytes(m).ok_or_else(|| DeployError::BadOption {
                    name: "memory limit",
                    value: m.clone(),
                    reason: "a worker program takes a size such as 4GB (not auto)".into(),
                })?
            }
            _ => 0,
        };
        let token = o.token.clone().unwrap_or_else(|| fresh_token("ssh"));
        let ssh = Ssh {
            program: o.ssh_program.clone(),
            identity: o.identity.clone(),
            options: o.ssh_options.clone(),
            token: token.clone(),
        };
        let mut argv = vec![
            o.remote_brisk.clone(),
            "scheduler".into(),
            "--host".into(),
            o.scheduler_listen.clone(),
            "--port".into(),
            o.scheduler_port.to_string(),
        ];
        match o.dashboard_port {
            Some(p) => argv.extend(["--dashboard-port".into(), p.to_string()]),
            None => argv.push("--no-dashboard".into()),
        }
        let what = format!("the scheduler on {}", first.destination);
        let mut child = ssh
            .start(&first, &argv, Stdio::piped())
            .map_err(|m| DeployError::start(&what, m))?;
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel::<(Option<u16>, Option<u16>)>();
        if let Some(err) = child.stderr.take() {
            let label = first.destination.clone();
            let dash = o.dashboard_port.is_some();
            std::thread::spawn(move || forward_scheduler_log(err, &label, dash, &tx));
        }
        let mut sched = Proc {
            name: "scheduler".into(),
            place: first.destination.clone(),
            child,
            stdin,
        };
        let (port, dash) = match wait_scheduler(&rx, &mut sched, o.startup_timeout) {
            Ok(x) => x,
            Err(e) => {
                sched.reap(Duration::from_secs(2));
                return Err(e.with_what(&what));
            }
        };
        let address = format!("tcp://{}:{port}", url_host(&first.host));
        let dashboard = dash.map(|d| format!("http://{}:{d}/status", url_host(&first.host)));
        let worker_hosts = if hosts.len() > 1 {
            hosts[1..].to_vec()
        } else {
            hosts.clone()
        };
        let security = Security::none().with_token(Some(token));
        let worker = match &o.worker_program {
            None => {
                let mut argv = vec![
                    o.remote_brisk.clone(),
                    "worker".into(),
                    address.clone(),
                    "--listen-host".into(),
                    o.worker_listen.clone(),
                ];
                if let Some(n) = o.nthreads {
                    argv.extend(["--nthreads".into(), n.to_string()]);
                }
                if let Some(m) = &o.memory_limit {
                    argv.extend(["--memory-limit".into(), m.clone()]);
                }
                WorkerCommand::Stock(argv)
            }
            Some(program) => {
                WorkerCommand::Program {
                    program: program.clone(),
                    args: o.worker_program_args.clone(),
                    env: Box::new(WorkerEnv {
                        scheduler: address.clone(),
                        name: String::new(),
                        nthreads: o.nthreads.unwrap_or(1),
                        memory_limit: program_memory_limit,
                        local_directory: None,
                        security: security.clone(),
                        listen_host: Some(o.worker_listen.clone()),
                        contact_host: None,
                        // Remote workers ride out a scheduler restart, as `brisk worker` does.
                        death_timeout: Some(Duration::from_secs(60)),
                        lifetime: None,
                    }),
                    default_threads: o.nthreads.is_none(),
                }
            }
        };
        let n_workers = worker_hosts.len() * o.workers_per_host;
        let spawner = SshSpawner {
            ssh,
            hosts: worker_hosts,
            worker,
        };
        let pool = Pool::new(
            Box::new(spawner),
            &address,
            security.clone(),
            o.startup_timeout,
        )
        .map(Arc::new);
        let pool = match pool {
            Ok(p) => p,
            Err(e) => {
                sched.reap(Duration::from_secs(2));
                return Err(e);
            }
        };
        let cluster = SshCluster {
            scheduler: Mutex::new(Some(sched)),
            address,
            dashboard,
            security,
            pool,
            adaptive: Mutex::new(None),
            keeper: Mutex::new(None),
        };
        cluster.pool.scale_to(n_workers)?;
        // Workers that die (crash, SIGKILL) are replaced; retired ones are not.
        *cluster.keeper.lock() = Some(cluster.pool.keep(Duration::from_millis(500)));
        Ok(cluster)
    }

    /// Adapt with every knob of [`AdaptOptions`] (see [`Cluster::adapt`]).
    pub fn adapt_with(&self, options: AdaptOptions) {
        let a = Adaptive::start(Arc::downgrade(&self.pool), options);
        *self.adaptive.lock() = Some(a);
    }

    /// The local process ids of the `ssh` clients that run the workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.pool.pids()
    }
}

/// `host` as it goes into a URL (`[v6]`).
fn url_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

impl DeployError {
    fn with_what(self, what: &str) -> DeployError {
        match self {
            DeployError::Start { message, .. } => DeployError::start(what, message),
            other => other,
        }
    }
}

/// Echo the scheduler's log lines and report its port (and the dashboard's, when one is
/// expected) once printed.
fn forward_scheduler_log(
    err: std::process::ChildStderr,
    label: &str,
    expect_dashboard: bool,
    tx: &mpsc::Sender<(Option<u16>, Option<u16>)>,
) {
    let mut port = None;
    for line in BufReader::new(err).lines() {
        let Ok(line) = line else { break };
        eprintln!("[{label}] {line}");
        if let Some(rest) = line.strip_prefix("brisk scheduler at ") {
            port = last_port(rest);
            if !expect_dashboard {
                let _ = tx.send((port, None));
            }
        } else if let Some(rest) = line.strip_prefix("dashboard at ") {
            let _ = tx.send((port, last_port(rest.trim_end_matches("/status"))));
        }
    }
}

fn last_port(s: &str) -> Option<u16> {
    s.trim()
        .rsplit(':')
        .next()?
        .trim_end_matches('/')
        .parse()
        .ok()
}

fn wait_scheduler(
    rx: &mpsc::Receiver<(Option<u16>, Option<u16>)>,
    sched: &mut Proc,
    timeout: Duration,
) -> Result<(u16, Option<u16>), DeployError> {
    let start = std::time::Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok((Some(port), dash)) => return Ok((port, dash)),
            Ok((None, _)) => {
                return Err(DeployError::start(
                    "the scheduler",
                    "it printed a dashboard but no address",
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) | Err(mpsc::RecvTimeoutError::Timeout)
                if sched.exited().is_some() =>
            {
                let st = sched.exited().unwrap_or_default();
                let hint = if st.contains("255") {
                    " (ssh could not connect or log in: check the host, the port, the key, and \
                     that BatchMode logins work: `ssh -o BatchMode=yes HOST true`)"
                } else if st.contains("127") {
                    " (the `brisk` binary was not found on the host: put it on the PATH of \
                     non-interactive SSH sessions or give its path with --remote-brisk)"
                } else {
                    ""
                };
                return Err(DeployError::start(
                    "the scheduler",
                    format!(
                        "ssh exited ({st}) before the scheduler started{hint}; see its log above"
                    ),
                ));
            }
            Err(_) => {}
        }
        if start.elapsed() > timeout {
            return Err(DeployError::Timeout {
                what: "the scheduler starting".into(),
                seconds: timeout.as_secs_f64(),
                message: "it printed no address".into(),
            });
        }
    }
}

impl Cluster for SshCluster {
    fn scheduler_address(&self) -> String {
        self.address.clone()
    }

    fn security(&self) -> Security {
        self.security.clone()
    }

    fn dashboard_link(&self) -> Option<String> {
        self.dashboard.clone()
    }

    fn scale(&self, n: usize) -> Result<(), DeployError> {
        self.adaptive.lock().take();
        self.pool.scale_to(n)
    }

    fn adapt(&self, min: usize, max: usize) -> Result<(), DeployError> {
        self.adapt_with(AdaptOptions::new(min, max));
        Ok(())
    }

    fn worker_names(&self) -> Vec<String> {
        self.pool.names()
    }

    fn close(&self) -> Result<(), DeployError> {
        self.adaptive.lock().take();
        self.keeper.lock().take();
        // The scheduler closes every worker and stops; the wrappers end with them.
        self.pool.close(true, Duration::from_secs(10));
        if let Some(mut s) = self.scheduler.lock().take() {
            s.reap(Duration::from_secs(10));
        }
        Ok(())
    }
}

impl Drop for SshCluster {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse() {
        let h = SshHost::parse("alice@node1:2222").expect("valid");
        assert_eq!(h.destination, "alice@node1");
        assert_eq!(h.host, "node1");
        assert_eq!(h.port, Some(2222));
        let h = SshHost::parse("10.0.0.5").expect("valid");
        assert_eq!((h.destination.as_str(), h.port), ("10.0.0.5", None));
        let h = SshHost::parse("[::1]:22").expect("valid");
        assert_eq!((h.host.as_str(), h.port), ("::1", Some(22)));
        for bad in [
            "",
            "host:0",
            "host:99999",
            "host:x",
            "-oProxyCommand=x",
            "@h",
            "a b",
        ] {
            assert!(SshHost::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn quoting_survives_the_shell() {
        let argv: Vec<String> = ["echo", "it's", "a b", "$HOME"].map(String::from).to_vec();
        let out = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "{} ",
                    argv.iter()
                        .map(|a| sh_quote(a))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ])
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's a b $HOME\n");
    }

    #[test]
    fn wrapper_reads_the_token_and_stops_the_process_when_stdin_closes() {
        // The wrapper runs locally under `sh -c` exactly as sshd would run it.
        let argv: Vec<String> = ["sh", "-c", "echo \"$BRISK_TOKEN\" > \"$0\"; sleep 30"]
            .map(String::from)
            .to_vec();
        let dir = std::env::temp_dir().join(format!("brisk-wrapper-{}", std::process::id()));
        let mut argv = argv;
        argv.push(dir.display().to_string());
        let mut child = Command::new("sh")
            .args(["-c", &remote_command(&argv)])
            .stdin(Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(b"secret-token\n").expect("write");
        stdin.flush().expect("flush");
        let start = std::time::Instant::now();
        while std::fs::read_to_string(&dir).map_or(true, |s| s.trim() != "secret-token") {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the token arrived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(stdin);
        let start = std::time::Instant::now();
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "closing stdin stops it"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(&dir);
    }
}
