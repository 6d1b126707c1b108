//! The workers a deployer runs, whatever starts them: [`Pool`] grows by asking its
//! [`Spawner`] for more, and shrinks by retiring workers gracefully through the scheduler (so
//! no value is lost) before it reaps, and if need be kills, their processes or jobs.
//! `LocalCluster`, `SshCluster` and `SlurmCluster` differ only in their spawner; adaptivity
//! (`adapt.rs`) drives `scale_to`.
//!
//! A worker is a [`Member`]: a local process ([`Proc`]: a worker, or the `ssh` client that
//! runs one) or a batch job (`slurm.rs`). Members that announce the end of their life
//! ([`Member::expires_at`], a job's walltime) stop counting as workers
//! [`Pool::replace_ahead`] before it, so scaling starts their replacements while they still
//! run; they retire themselves (their values move first) and leave.

use std::process::{Child, ChildStdin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use brisk_protocol::Security;
use parking_lot::Mutex;

use crate::control::Control;
use crate::error::DeployError;

/// A process this deployer started (a worker, or the `ssh` client that runs one).
pub struct Proc {
    /// The worker's name at the scheduler.
    pub name: String,
    /// Where it runs (for messages).
    pub place: String,
    /// The local process.
    pub child: Child,
    /// Its standard input, kept open: closing it asks an SSH-started worker to stop.
    pub stdin: Option<ChildStdin>,
}

impl Proc {
    /// Whether it has exited, with its status.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(st)) => Some(st.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// Wait up to `timeout` for it to exit; kill it after that. Returns whether it exited by
    /// itself.
    pub fn reap(&mut self, timeout: Duration) -> bool {
        self.stdin.take();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.exited().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(worker = %self.name, place = %self.place, "did not exit in time; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

/// A worker this deployer runs: a process, or a batch job.
pub trait Member: Send {
    /// The worker's name at the scheduler.
    fn name(&self) -> &str;
    /// Where it runs (for messages).
    fn place(&self) -> String;
    /// Whether it has ended, with how.
    fn exited(&mut self) -> Option<String>;
    /// Wait up to `timeout` for it to end by itself (after a retirement); end it after that.
    /// Returns whether it ended by itself.
    fn reap(&mut self, timeout: Duration) -> bool;
    /// End it at once, for failure drills. Returns whether it could.
    fn kill(&mut self) -> bool;
    /// Its local process id, when it is a process of this machine.
    fn pid(&self) -> Option<u32> {
        None
    }
    /// When it will end by itself (a batch job's walltime), once known.
    fn expires_at(&mut self) -> Option<Instant> {
        None
    }
    /// Whether it ended without a clean exit (crashed, killed): such members are replaced
    /// ([`Pool::keep`]); a worker that was retired or closed exits cleanly.
    fn failed(&mut self) -> bool {
        false
    }
}

impl Member for Proc {
    fn name(&self) -> &str {
        &self.name
    }
    fn place(&self) -> String {
        self.place.clone()
    }
    fn exited(&mut self) -> Option<String> {
        Proc::exited(self)
    }
    fn reap(&mut self, timeout: Duration) -> bool {
        Proc::reap(self, timeout)
    }
    fn kill(&mut self) -> bool {
        let ok = self.child.kill().is_ok();
        let _ = self.child.wait();
        ok
    }
    fn pid(&self) -> Option<u32> {
        Some(self.child.id())
    }
    fn failed(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(st)) if !st.success())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A running [`Pool::keep`]; stops when dropped.
pub struct Keeper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts one worker.
pub trait Spawner: Send + Sync {
    /// Start a worker named `name` (the `index`-th this deployer started).
    fn spawn(&self, index: usize, name: &str) -> Result<Box<dyn Member>, DeployError>;
    /// Worker names start with this.
    fn prefix(&self) -> &str;
    /// Whether growing waits until the new workers joined (processes start in seconds; batch
    /// jobs may queue for hours, so growing only submits them).
    fn waits_for_join(&self) -> bool {
        true
    }
}

/// The workers of one cluster.
pub struct Pool {
    spawner: Box<dyn Spawner>,
    procs: Mutex<Vec<Box<dyn Member>>>,
    scaling: Mutex<()>,
    next: AtomicUsize,
    control: Mutex<Control>,
    /// How long new workers may take to join.
    pub startup_timeout: Duration,
    /// How long a retirement may take.
    pub retire_timeout: Duration,
    /// A member that will end within this long stops counting as a worker, so that scaling
    /// replaces it before it goes (zero: members count until they end).
    pub replace_ahead: Duration,
    closed: AtomicBool,
    /// Members that died (not retired or closed) since the keeper last replaced them.
    lost: AtomicUsize,
    /// Adaptive loops running (they replace lost workers themselves).
    pub(crate) adapting: AtomicUsize,
}

impl Pool {
    /// A pool of workers of the scheduler at `address`.
    pub fn new(
        spawner: Box<dyn Spawner>,
        address: &str,
        security: Security,
        startup_timeout: Duration,
    ) -> Result<Pool, DeployError> {
        Ok(Pool {
            spawner,
            procs: Mutex::new(Vec::new()),
            scaling: Mutex::new(()),
            next: AtomicUsize::new(0),
            control: Mutex::new(Control::new(address, security)?),
            startup_timeout,
            retire_timeout: Duration::from_secs(120),
            replace_ahead: Duration::ZERO,
            closed: AtomicBool::new(false),
            lost: AtomicUsize::new(0),
            adapting: AtomicUsize::new(0),
        })
    }

    /// A snapshot of the cluster, through the pool's control line.
    pub fn info(&self) -> Result<brisk_protocol::messages::ClusterInfo, DeployError> {
        self.control.lock().info()
    }

    /// The names of the workers running.
    pub fn names(&self) -> Vec<String> {
        self.reap_exited();
        self.procs
            .lock()
            .iter()
            .map(|p| p.name().to_string())
            .collect()
    }

    /// The workers that count: running or starting, and not about to end
    /// (see [`Pool::replace_ahead`]).
    pub fn active(&self) -> Vec<String> {
        self.reap_exited();
        let soon = Instant::now() + self.replace_ahead;
        let mut g = self.procs.lock();
        let mut out = Vec::with_capacity(g.len());
        for p in g.iter_mut() {
            if self.replace_ahead.is_zero() || p.expires_at().is_none_or(|t| t > soon) {
                out.push(p.name().to_string());
            }
        }
        out
    }

    /// The local process ids of the workers (for SSH: of the `ssh` clients; none for jobs).
    pub fn pids(&self) -> Vec<u32> {
        self.procs.lock().iter().filter_map(|p| p.pid()).collect()
    }

    /// Kill worker `i` (in start order), for failure drills.
    pub fn kill(&self, i: usize) -> bool {
        let mut g = self.procs.lock();
        match g.get_mut(i) {
            Some(p) => p.kill(),
            None => false,
        }
    }

    fn reap_exited(&self) {
        let mut g = self.procs.lock();
        g.retain_mut(|p| match p.exited() {
            Some(st) => {
                if p.failed() && !self.closed.load(Ordering::SeqCst) {
                    tracing::warn!(worker = %p.name(), place = %p.place(), status = %st, "worker died");
                    self.lost.fetch_add(1, Ordering::SeqCst);
                } else {
                    tracing::info!(worker = %p.name(), place = %p.place(), status = %st, "worker ended");
                }
                false
            }
            None => true,
        });
    }

    /// Replace workers that die (crash, SIGKILL, a lost host) with new ones, checking every
    /// `interval`, until the pool closes or the returned handle is dropped. Workers that were
    /// retired or closed are not replaced, and while an adaptive loop runs it does the
    /// replacing. A replacement that cannot start is logged and tried again next time.
    pub fn keep(self: &Arc<Self>, interval: Duration) -> Keeper {
        let pool = Arc::downgrade(self);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("brisk-keeper".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    let mut slept = Duration::ZERO;
                    while slept < interval && !flag.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(20));
                        slept += Duration::from_millis(20);
                    }
                    let Some(p) = pool.upgrade() else { return };
                    if p.is_closed() {
                        return;
                    }
                    p.reap_exited();
                    let n = p.lost.swap(0, Ordering::SeqCst);
                    if n == 0 || p.adapting.load(Ordering::SeqCst) > 0 {
                        continue;
                    }
                    let _one_at_a_time = p.scaling.lock();
                    if p.is_closed() {
                        return;
                    }
                    tracing::info!(workers = n, "replacing workers that died");
                    if let Err(e) = p.grow(n) {
                        tracing::warn!(error = %e, "cannot replace a worker that died; trying again");
                        p.lost.fetch_add(n, Ordering::SeqCst);
                    }
                }
            })
            .ok();
        Keeper { stop, thread }
    }

    /// Run exactly `n` workers (see [`crate::Cluster::scale`]).
    pub fn scale_to(&self, n: usize) -> Result<(), DeployError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(DeployError::Closed);
        }
        let _one_at_a_time = self.scaling.lock();
        let have = self.active().len();
        if n > have {
            self.grow(n - have)
        } else if n < have {
            self.shrink(have - n)
        } else {
            Ok(())
        }
    }

    fn grow(&self, k: usize) -> Result<(), DeployError> {
        let mut names = Vec::with_capacity(k);
        for _ in 0..k {
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            let name = format!("{}-{i}", self.spawner.prefix());
            let p = self.spawner.spawn(i, &name)?;
            tracing::info!(worker = %name, place = %p.place(), "started a worker");
            names.push(name);
            self.procs.lock().push(p);
        }
        if self.spawner.waits_for_join() {
            self.wait_joined(&names)
        } else {
            Ok(())
        }
    }

    /// How many of this pool's workers have not joined the scheduler yet (queued jobs,
    /// starting processes), given a snapshot.
    pub fn pending(&self, info: &brisk_protocol::messages::ClusterInfo) -> usize {
        self.procs
            .lock()
            .iter()
            .filter(|p| !info.workers.iter().any(|w| w.name == p.name()))
            .count()
    }

    /// Wait until the scheduler knows every worker in `names`.
    pub fn wait_joined(&self, names: &[String]) -> Result<(), DeployError> {
        let start = Instant::now();
        loop {
            let info = self.control.lock().info()?;
            let missing: Vec<&String> = names
                .iter()
                .filter(|n| !info.workers.iter().any(|w| w.name == **n))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            for p in self.procs.lock().iter_mut() {
                if missing.iter().any(|m| m.as_str() == p.name())
                    && let Some(st) = p.exited()
                {
                    return Err(DeployError::start(
                        format!("worker {} on {}", p.name(), p.place()),
                        format!(
                            "it exited ({st}) before joining the scheduler; a program of your \
                             own must call `brisk::worker::main_if_worker()` as the first line \
                             of `main`; see its standard error above"
                        ),
                    ));
                }
            }
            if start.elapsed() > self.startup_timeout {
                return Err(DeployError::Timeout {
                    what: format!("{} of {} workers joining", missing.len(), names.len()),
                    seconds: self.startup_timeout.as_secs_f64(),
                    message: format!(
                        "{missing:?} did not join; does `main` call \
                         `brisk::worker::main_if_worker()` first?"
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Retire `k` workers: those not joined yet (queued jobs) first, then those holding the
    /// fewest values. Members about to end are left to end by themselves.
    fn shrink(&self, k: usize) -> Result<(), DeployError> {
        let info = self.control.lock().info()?;
        let active = self.active();
        let mut ours: Vec<(bool, u32, usize, String)> = {
            let g = self.procs.lock();
            g.iter()
                .enumerate()
                .filter(|(_, p)| active.iter().any(|a| a == p.name()))
                .map(|(i, p)| {
                    let w = info.workers.iter().find(|w| w.name == p.name());
                    let held = w.map_or(0, |w| w.has_what);
                    (w.is_some(), held, usize::MAX - i, p.name().to_string())
                })
                .collect()
        };
        // Not joined first, then fewest values, then the most recently started.
        ours.sort();
        let victims: Vec<String> = ours.into_iter().take(k).map(|x| x.3).collect();
        let known: Vec<String> = victims
            .iter()
            .filter(|n| info.workers.iter().any(|w| w.name == **n))
            .cloned()
            .collect();
        self.control.lock().retire(&known, self.retire_timeout)?;
        let mut gone: Vec<Box<dyn Member>> = {
            let mut g = self.procs.lock();
            let (out, keep): (Vec<_>, Vec<_>) = g
                .drain(..)
                .partition(|p| victims.iter().any(|v| v.as_str() == p.name()));
            *g = keep;
            out
        };
        for p in &mut gone {
            p.reap(Duration::from_secs(10));
        }
        Ok(())
    }

    /// Close every worker and reap them: through the scheduler when `shutdown_scheduler`
    /// (workers and scheduler then stop by themselves), waiting at most `patience` for each
    /// process before killing it.
    pub fn close(&self, shutdown_scheduler: bool, patience: Duration) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        if shutdown_scheduler {
            let _ = self.control.lock().shutdown();
        }
        let mut procs = std::mem::take(&mut *self.procs.lock());
        for p in &mut procs {
            p.reap(patience);
        }
    }

    /// Whether [`Pool::close`] ran.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}
