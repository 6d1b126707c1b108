//! The seam that lets a client start a scheduler inside its own process (`Client::local`)
//! without depending on the scheduler crate: `brisk-scheduler` submits a [`SchedulerLauncher`].

use crate::error::ProtocolError;
use crate::security::Security;

static WORKER_CAPABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Record that this program's `main` called `main_if_worker()`, so starting copies of it as
/// workers is safe (they will become workers instead of running `main`).
pub fn mark_worker_capable() {
    WORKER_CAPABLE.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether [`mark_worker_capable`] was called in this process.
pub fn is_worker_capable() -> bool {
    WORKER_CAPABLE.load(std::sync::atomic::Ordering::SeqCst)
}

/// Options for an in-process scheduler.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// Host to listen on.
    pub host: String,
    /// Port (0: any free port).
    pub port: u16,
    /// Token and TLS.
    pub security: Security,
}

/// A scheduler running in this process.
pub trait RunningScheduler: Send + Sync {
    /// The address clients and workers connect to.
    fn address(&self) -> String;
    /// Stop serving and close every connection.
    fn shutdown(&self);
}

/// A way to start a scheduler in this process (submitted with `inventory`).
pub struct SchedulerLauncher {
    /// Start one.
    pub start: fn(LaunchOptions) -> Result<Box<dyn RunningScheduler>, ProtocolError>,
}

inventory::collect!(SchedulerLauncher);

/// Start a scheduler in this process with the first linked launcher.
pub fn launch(options: LaunchOptions) -> Result<Box<dyn RunningScheduler>, ProtocolError> {
    let l = inventory::iter::<SchedulerLauncher>
        .into_iter()
        .next()
        .ok_or(ProtocolError::NoLauncher)?;
    (l.start)(options)
}
