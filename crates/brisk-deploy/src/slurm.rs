//! [`SlurmCluster`]: the scheduler in this process (on the login or submit node), each worker
//! a Slurm batch job — the dask-jobqueue model.
//!
//! Each job runs one worker with [`SlurmOptions::cores`] threads and a memory limit equal to
//! the job's `--mem`; the job script is shown by [`SlurmCluster::job_script`] and carries the
//! options people set on a shared cluster (partition, account, walltime, extra `#SBATCH`
//! lines, a prologue such as `module load`).
//!
//! **Walltime.** A job killed at its walltime would lose the values its worker holds, and
//! dask-jobqueue never replaces such workers. Here each worker gets a *lifetime* of the
//! walltime minus [`SlurmOptions::lifetime_margin`]: when it ends, the worker asks the
//! scheduler to retire it (its values move to other workers), then exits, well before Slurm
//! would kill it. The cluster counts a worker as gone [`SlurmOptions::replace_ahead`] before
//! its lifetime ends, so its replacement is queued while it still runs.
//!
//! **Scaling.** `scale(n)` submits or cancels jobs (queued ones first, then the workers
//! holding the fewest values, retired gracefully), and keeps `n` from then on: jobs that end
//! are replaced. `adapt(min, max)` follows the scheduler's demand, with a limit on jobs
//! queued at once and a pause after repeated refused submissions ([`crate::adapt`]).
//!
//! **Security.** The cluster always has a token; it travels to the jobs in a file readable
//! only by this user ([`SlurmOptions::state_directory`], which must be on a file system the
//! nodes share, like the `brisk` binary), never in the job script.
//!
//! The job queue is read with `squeue` at most every half second for the whole cluster.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brisk_protocol::Security;
use brisk_protocol::launch::{LaunchOptions, RunningScheduler, launch};
use parking_lot::Mutex;

use crate::adapt::{AdaptOptions, Adaptive};
use crate::cluster::Cluster;
use crate::command::{WorkerCommand, sh_quote};
use crate::env::{WorkerEnv, fresh_token};
use crate::error::DeployError;
use crate::pool::{Member, Pool, Spawner};
use crate::walltime::parse_walltime;

/// How to start a cluster of Slurm jobs.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// Workers (jobs) to submit at start.
    pub n_workers: usize,
    /// Cores per job (`--cpus-per-task`), and the worker's threads.
    pub cores: usize,
    /// Memory per job (`4GB`, `512MiB`; `--mem`), and the worker's memory limit.
    pub memory: Option<String>,
    /// Walltime per job, in Slurm's formats (`30`, `1:30:00`, `2-00:00:00`).
    pub walltime: String,
    /// The worker retires this long before its walltime ends.
    pub lifetime_margin: Duration,
    /// A worker stops counting this long before its lifetime ends, so that its replacement
    /// is submitted while it still runs.
    pub replace_ahead: Duration,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// The jobs' name (`--job-name`).
    pub job_name: String,
    /// More `#SBATCH` directives, one per entry, e.g. `--qos=high` or `--constraint=ib`.
    pub job_extra: Vec<String>,
    /// Shell lines run before the worker starts (e.g. `module load gcc`).
    pub prologue: Vec<String>,
    /// The `brisk` binary as the nodes see it.
    pub brisk_program: String,
    /// Run workers as this program instead of the stock `brisk worker`: a program of your own
    /// whose `main` calls `brisk::worker::main_if_worker()` first (as the nodes see it).
    pub worker_program: Option<String>,
    /// Arguments for [`SlurmOptions::worker_program`].
    pub worker_program_args: Vec<String>,
    /// Where the token file and the jobs' output go; on a file system the nodes share
    /// (default: `~/.brisk/slurm-<pid>`).
    pub state_directory: Option<PathBuf>,
    /// The address the scheduler listens on.
    pub scheduler_listen: String,
    /// The host the workers reach the scheduler at (default: this machine's host name, or
    /// the listen address when that is a specific one).
    pub scheduler_contact: Option<String>,
    /// The scheduler's port (0: any free port).
    pub scheduler_port: u16,
    /// The dashboard's port (`None`: no dashboard; 0: any free port).
    pub dashboard_port: Option<u16>,
    /// The shared token (default: a fresh one).
    pub token: Option<String>,
    /// The Slurm commands (default: `sbatch`, `squeue`, `scancel` on the `PATH`).
    pub sbatch: PathBuf,
    /// See [`SlurmOptions::sbatch`].
    pub squeue: PathBuf,
    /// See [`SlurmOptions::sbatch`].
    pub scancel: PathBuf,
    /// More environment for the Slurm commands, e.g. `SLURM_CONF` for a second cluster
    /// (the jobs inherit it too).
    pub slurm_env: Vec<(String, String)>,
}

impl SlurmOptions {
    /// One core per job, thirty minutes of walltime, no workers at start.
    pub fn new() -> Self {
        SlurmOptions {
            n_workers: 0,
            cores: 1,
            memory: None,
            walltime: "00:30:00".into(),
            lifetime_margin: Duration::from_secs(60),
            replace_ahead: Duration::from_secs(120),
            partition: None,
            account: None,
            job_name: "brisk-worker".into(),
            job_extra: Vec::new(),
            prologue: Vec::new(),
            brisk_program: "brisk".into(),
            worker_program: None,
            worker_program_args: Vec::new(),
            state_directory: None,
            scheduler_listen: "0.0.0.0".into(),
            scheduler_contact: None,
            scheduler_port: 0,
            dashboard_port: Some(8787),
            token: None,
            sbatch: "sbatch".into(),
            squeue: "squeue".into(),
            scancel: "scancel".into(),
            slurm_env: Vec::new(),
        }
    }
}

impl Default for SlurmOptions {
    fn default() -> Self {
        SlurmOptions::new()
    }
}

/// The Slurm commands, and one cached view of this cluster's jobs.
struct Slurm {
    sbatch: PathBuf,
    squeue: PathBuf,
    scancel: PathBuf,
    job_name: String,
    env: Vec<(String, String)>,
    /// Job id to state, and when it was read.
    queue: Mutex<(Option<Instant>, HashMap<String, String>)>,
}

/// How often `squeue` runs at most.
const QUEUE_TTL: Duration = Duration::from_millis(500);

/// Job states in which the worker still runs or will run.
fn alive(state: &str) -> bool {
    matches!(
        state,
        "PENDING"
            | "CONFIGURING"
            | "RUNNING"
            | "SUSPENDED"
            | "REQUEUED"
            | "REQUEUE_HOLD"
            | "REQUEUE_FED"
            | "RESIZING"
            | "SIGNALING"
            | "STAGE_OUT"
    )
}

impl Slurm {
    /// Submit `script`; the job id.
    fn submit(&self, script: &str, what: &str) -> Result<String, DeployError> {
        let mut child = Command::new(&self.sbatch)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("--parsable")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                DeployError::start(
                    what,
                    format!(
                        "cannot run {}: {e} (is Slurm's client installed here?)",
                        self.sbatch.display()
                    ),
                )
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(script.as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| DeployError::start(what, format!("sbatch failed: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(DeployError::start(
                what,
                format!("sbatch refused the job ({}): {}", out.status, stderr.trim()),
            ));
        }
        // `--parsable`: `id` or `id;cluster`.
        let id = stdout
            .trim()
            .split(';')
            .next()
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '_'))
            .ok_or_else(|| {
                DeployError::start(
                    what,
                    format!("sbatch printed no job id: {:?}", stdout.trim()),
                )
            })?
            .to_string();
        self.queue.lock().1.insert(id.clone(), "PENDING".into());
        Ok(id)
    }

    /// The state of job `id`: `Ok(None)` when Slurm no longer lists it.
    fn state(&self, id: &str) -> Result<Option<String>, String> {
        let mut q = self.queue.lock();
        if q.0.is_none_or(|t| t.elapsed() > QUEUE_TTL) {
            let out = Command::new(&self.squeue)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .args([
                    "--noheader",
                    "--me",
                    "--states=all",
                    "--format=%i|%T",
                    "--name",
                    &self.job_name,
                ])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", self.squeue.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "squeue failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            q.1 = text
                .lines()
                .filter_map(|l| l.trim().split_once('|'))
                .map(|(i, s)| (i.to_string(), s.to_string()))
                .collect();
            q.0 = Some(Instant::now());
        }
        Ok(q.1.get(id).cloned())
    }

    /// `scancel` job `id` (with `signal` to every process of it, else Slurm's default).
    fn cancel(&self, id: &str, signal: Option<&str>) -> bool {
        let mut cmd = Command::new(&self.scancel);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(s) = signal {
            cmd.args(["--full", "--signal", s]);
        }
        let ok = cmd
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        // Read the queue afresh next time.
        self.queue.lock().0 = None;
        ok
    }
}

/// One worker job.
struct Job {
    name: String,
    id: String,
    slurm: Arc<Slurm>,
    lifetime: Duration,
    /// Set when the job is first seen running.
    expires: Option<Instant>,
    ended: Option<String>,
}

impl Member for Job {
    fn name(&self) -> &str {
        &self.name
    }

    fn place(&self) -> String {
        format!("Slurm job {}", self.id)
    }

    fn exited(&mut self) -> Option<String> {
        if self.ended.is_some() {
            return self.ended.clone();
        }
        match self.slurm.state(&self.id) {
            Ok(None) => self.ended = Some("no longer in the queue".into()),
            Ok(Some(s)) if !alive(&s) => self.ended = Some(s.to_lowercase()),
            Ok(Some(s)) => {
                if s == "RUNNING" && self.expires.is_none() {
                    self.expires = Some(Instant::now() + self.lifetime);
                }
            }
            // Not knowing is not ending: keep the job, say why once per read.
            Err(e) => tracing::warn!(job = %self.id, error = %e, "cannot read the Slurm queue"),
        }
        self.ended.clone()
    }

    fn reap(&mut self, timeout: Duration) -> bool {
        if self.ended.is_none()
            && matches!(self.slurm.state(&self.id), Ok(Some(s)) if s == "PENDING")
        {
            // Still queued: nothing runs, nothing to wait for.
            self.slurm.cancel(&self.id, None);
            self.ended = Some("cancelled while queued".into());
            return true;
        }
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.exited().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        tracing::warn!(worker = %self.name, job = %self.id, "did not end in time; cancelling it");
        self.slurm.cancel(&self.id, None);
        self.ended = Some("cancelled".into());
        false
    }

    fn kill(&mut self) -> bool {
        let ok = self.slurm.cancel(&self.id, Some("KILL"));
        self.ended = Some("killed".into());
        ok
    }

    fn expires_at(&mut self) -> Option<Instant> {
        self.exited();
        self.expires
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if self.ended.is_none() {
            // Queued or running jobs of a cluster that goes away must not linger.
            self.slurm.cancel(&self.id, None);
        }
    }
}

/// Writes and submits job scripts.
struct SlurmSpawner {
    slurm: Arc<Slurm>,
    header: Vec<String>,
    prologue: Vec<String>,
    worker: WorkerCommand,
    token_file: PathBuf,
    lifetime: Duration,
}

impl SlurmSpawner {
    fn script(&self, name: &str) -> String {
        let mut s = String::from("#!/usr/bin/env bash\n");
        for h in &self.header {
            s.push_str("#SBATCH ");
            s.push_str(h);
            s.push('\n');
        }
        s.push_str("set -e\n");
        for p in &self.prologue {
            s.push_str(p);
            s.push('\n');
        }
        s.push_str(&format!(
            "export BRISK_TOKEN_FILE={}\n",
            sh_quote(&self.token_file.display().to_string())
        ));
        let argv: Vec<String> = self.worker.argv(name).iter().map(|a| sh_quote(a)).collect();
        s.push_str("exec ");
        s.push_str(&argv.join(" "));
        s.push('\n');
        s
    }
}

impl Spawner for SlurmSpawner {
    fn spawn(&self, _index: usize, name: &str) -> Result<Box<dyn Member>, DeployError> {
        let id = self
            .slurm
            .submit(&self.script(name), &format!("worker {name} (sbatch)"))?;
        Ok(Box::new(Job {
            name: name.to_string(),
            id,
            slurm: Arc::clone(&self.slurm),
            lifetime: self.lifetime,
            expires: None,
            ended: None,
        }))
    }

    fn prefix(&self) -> &str {
        "slurm"
    }

    fn waits_for_join(&self) -> bool {
        false
    }
}

/// A cluster of Slurm jobs with the scheduler in this process. Dropping it (or
/// [`Cluster::close`]) cancels every job and stops the scheduler.
pub struct SlurmCluster {
    scheduler: Mutex<Option<Box<dyn RunningScheduler>>>,
    address: String,
    dashboard: Option<String>,
    security: Security,
    pool: Arc<Pool>,
    adaptive: Mutex<Option<Adaptive>>,
    spawner_preview: String,
    state_directory: PathBuf,
    made_directory: bool,
}

/// This machine's host name (Linux), for workers on other nodes.
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn bad(name: &'static str, value: impl Into<String>, reason: impl Into<String>) -> DeployError {
    DeployError::BadOption {
        name,
        value: value.into(),
        reason: reason.into(),
    }
}

impl SlurmCluster {
    /// Start the scheduler here and submit [`SlurmOptions::n_workers`] jobs.
    pub fn start(o: SlurmOptions) -> Result<SlurmCluster, DeployError> {
        if o.cores == 0 {
            return Err(bad("cores", "0", "a job needs at least one core"));
        }
        let walltime = parse_walltime(&o.walltime)?;
        let lifetime = walltime.checked_sub(o.lifetime_margin).filter(|l| !l.is_zero()).ok_or_else(|| {
            bad(
                "walltime",
                o.walltime.clone(),
                format!(
                    "must be longer than the lifetime margin ({} s): workers retire that long before their walltime ends",
                    o.lifetime_margin.as_secs_f64()
                ),
            )
        })?;
        let memory = match &o.memory {
            Some(m) => Some(
                brisk_core::bytes::parse_bytes(m)
                    .filter(|&b| b >= 1 << 20)
                    .ok_or_else(|| {
                        bad(
                            "memory",
                            m.clone(),
                            "expected a size such as 4GB (at least 1 MiB)",
                        )
                    })?,
            ),
            None => None,
        };
        for (i, line) in o.job_extra.iter().enumerate() {
            if line.contains('\n') || line.trim().is_empty() {
                return Err(bad(
                    "job_extra",
                    line.clone(),
                    format!("entry {i} must be one non-empty #SBATCH option, e.g. --qos=high"),
                ));
            }
        }
        let (state_directory, made_directory) = match &o.state_directory {
            Some(d) => (d.clone(), false),
            None => {
                let home = std::env::var_os("HOME").map(PathBuf::from).ok_or_else(|| {
                    bad(
                        "state_directory",
                        "",
                        "HOME is not set: give a directory the nodes share",
                    )
                })?;
                (
                    home.join(".brisk")
                        .join(format!("slurm-{}", std::process::id())),
                    true,
                )
            }
        };
        make_private_dir(&state_directory)?;
        let token = o.token.clone().unwrap_or_else(|| fresh_token("slurm"));
        let token_file = state_directory.join("token");
        brisk_protocol::credentials::write_token_file(&token_file, &token)?;
        let security = Security::none().with_token(Some(token));
        let scheduler = launch(LaunchOptions {
            host: o.scheduler_listen.clone(),
            port: o.scheduler_port,
            security: security.clone(),
            dashboard_port: o.dashboard_port,
        })?;
        let listen_port = scheduler
            .address()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(o.scheduler_port);
        let contact = match &o.scheduler_contact {
            Some(c) => c.clone(),
            None if !matches!(o.scheduler_listen.as_str(), "0.0.0.0" | "::" | "") => {
                o.scheduler_listen.clone()
            }
            None => host_name().unwrap_or_else(|| "127.0.0.1".into()),
        };
        let address = if contact.contains(':') {
            format!("tcp://[{contact}]:{listen_port}")
        } else {
            format!("tcp://{contact}:{listen_port}")
        };
        let dashboard = scheduler.dashboard_address().map(|d| format!("{d}/status"));

        let mut header = vec![
            format!("--job-name={}", o.job_name),
            "--nodes=1".into(),
            "--ntasks=1".into(),
            format!("--cpus-per-task={}", o.cores),
            format!("--time={}", o.walltime.trim()),
            format!("--output={}", state_directory.join("%x-%j.out").display()),
        ];
        if let Some(m) = memory {
            header.push(format!("--mem={}M", m.div_ceil(1 << 20)));
        }
        if let Some(p) = &o.partition {
            header.push(format!("--partition={p}"));
        }
        if let Some(a) = &o.account {
            header.push(format!("--account={a}"));
        }
        header.extend(o.job_extra.iter().map(|l| l.trim().to_string()));
        let worker = match &o.worker_program {
            None => {
                let mut argv = vec![
                    o.brisk_program.clone(),
                    "worker".into(),
                    address.clone(),
                    "--nthreads".into(),
                    o.cores.to_string(),
                    "--lifetime".into(),
                    lifetime.as_secs_f64().to_string(),
                ];
                if let Some(m) = memory {
                    argv.extend(["--memory-limit".into(), m.to_string()]);
                }
                WorkerCommand::Stock(argv)
            }
            Some(program) => WorkerCommand::Program {
                program: program.clone(),
                args: o.worker_program_args.clone(),
                env: Box::new(WorkerEnv {
                    scheduler: address.clone(),
                    name: String::new(),
                    nthreads: o.cores,
                    memory_limit: memory.unwrap_or(0),
                    local_directory: None,
                    // The token comes from BRISK_TOKEN_FILE in the script.
                    security: Security::none(),
                    listen_host: None,
                    contact_host: None,
                    death_timeout: Some(Duration::from_secs(60)),
                    lifetime: Some(lifetime),
                }),
                default_threads: false,
            },
        };
        let slurm = Arc::new(Slurm {
            sbatch: o.sbatch.clone(),
            squeue: o.squeue.clone(),
            scancel: o.scancel.clone(),
            job_name: o.job_name.clone(),
            env: o.slurm_env.clone(),
            queue: Mutex::new((None, HashMap::new())),
        });
        let spawner = SlurmSpawner {
            slurm,
            header,
            prologue: o.prologue.clone(),
            worker,
            token_file,
            lifetime,
        };
        let spawner_preview = spawner.script("slurm-N");
        let pool = match Pool::new(
            Box::new(spawner),
            &address,
            security.clone(),
            Duration::from_secs(60),
        ) {
            Ok(mut p) => {
                p.replace_ahead = o.replace_ahead;
                Arc::new(p)
            }
            Err(e) => {
                scheduler.shutdown();
                return Err(e);
            }
        };
        let cluster = SlurmCluster {
            scheduler: Mutex::new(Some(scheduler)),
            address,
            dashboard,
            security,
            pool,
            adaptive: Mutex::new(None),
            spawner_preview,
            state_directory,
            made_directory,
        };
        if o.n_workers > 0 {
            cluster.scale(o.n_workers)?;
        }
        Ok(cluster)
    }

    /// The job script a worker is submitted with (its name shown as `slurm-N`).
    pub fn job_script(&self) -> &str {
        &self.spawner_preview
    }

    /// Where the token file and the jobs' output are.
    pub fn state_directory(&self) -> &std::path::Path {
        &self.state_directory
    }

    /// Adapt with every knob of [`AdaptOptions`] (see [`Cluster::adapt`]).
    pub fn adapt_with(&self, options: AdaptOptions) {
        let a = Adaptive::start(Arc::downgrade(&self.pool), options);
        *self.adaptive.lock() = Some(a);
    }

    /// Cancel job `i` (in start order) with SIGKILL, for failure drills.
    pub fn kill_worker(&self, i: usize) -> bool {
        self.pool.kill(i)
    }

    /// Wait until `n` workers have joined the scheduler (jobs may queue), at most `timeout`.
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> Result<(), DeployError> {
        let start = Instant::now();
        loop {
            let info = self.pool.info()?;
            if info.workers.len() >= n {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(DeployError::Timeout {
                    what: format!("{n} workers joining"),
                    seconds: timeout.as_secs_f64(),
                    message: format!(
                        "{} joined; the jobs may still be queued (see squeue) or have failed \
                         (see their output in {})",
                        info.workers.len(),
                        self.state_directory.display()
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn make_private_dir(dir: &std::path::Path) -> Result<(), DeployError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| {
        bad(
            "state_directory",
            dir.display().to_string(),
            format!("cannot create it: {e}"),
        )
    })
}

impl Cluster for SlurmCluster {
    fn scheduler_address(&self) -> String {
        self.address.clone()
    }

    fn security(&self) -> Security {
        self.security.clone()
    }

    fn dashboard_link(&self) -> Option<String> {
        self.dashboard.clone()
    }

    /// Submit or cancel jobs to run `n` workers now (a refused submission is the error), then
    /// keep `n`: jobs that end, or whose walltime nears, are replaced.
    fn scale(&self, n: usize) -> Result<(), DeployError> {
        self.adaptive.lock().take();
        self.pool.scale_to(n)?;
        self.adapt_with(AdaptOptions::new(n, n));
        Ok(())
    }

    fn adapt(&self, min: usize, max: usize) -> Result<(), DeployError> {
        self.adapt_with(AdaptOptions {
            max_pending: Some(max.clamp(1, 8)),
            ..AdaptOptions::new(min, max)
        });
        Ok(())
    }

    fn worker_names(&self) -> Vec<String> {
        self.pool.names()
    }

    fn close(&self) -> Result<(), DeployError> {
        self.adaptive.lock().take();
        // Through the scheduler: workers close, their jobs end; the rest are cancelled.
        self.pool.close(true, Duration::from_secs(10));
        if let Some(s) = self.scheduler.lock().take() {
            s.shutdown();
        }
        if self.made_directory {
            let _ = std::fs::remove_file(self.state_directory.join("token"));
        }
        Ok(())
    }
}

impl Drop for SlurmCluster {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
