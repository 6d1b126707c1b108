//! The [`Cluster`] trait: what every deployer (local processes, SSH hosts, and later Slurm,
//! MPI, Kubernetes) offers, so that a client connects to any of them the same way
//! (`Client::new(&cluster)`).

use brisk_protocol::Security;

use crate::error::DeployError;

/// A running cluster that this program started: a scheduler and the workers it manages.
///
/// Every method takes `&self` (deployers keep their state behind locks), so a cluster can be
/// shared with the thread that adapts it.
pub trait Cluster: Send + Sync {
    /// The scheduler's address (`tcp://host:port`), for clients.
    fn scheduler_address(&self) -> String;

    /// Token and TLS that clients of this cluster must present.
    fn security(&self) -> Security;

    /// The live dashboard's page (`http://host:port/status`), when the scheduler serves one.
    fn dashboard_link(&self) -> Option<String>;

    /// Run exactly `n` workers: start new ones, or retire the extra ones gracefully (their
    /// values move to the workers that stay before they exit). Stops adaptive scaling.
    fn scale(&self, n: usize) -> Result<(), DeployError>;

    /// Follow the scheduler's demand between `min` and `max` workers (see [`crate::adapt`]).
    fn adapt(&self, min: usize, max: usize) -> Result<(), DeployError>;

    /// The names of the workers this deployer runs now.
    fn worker_names(&self) -> Vec<String>;

    /// Stop every worker and the scheduler. Idempotent; dropping a cluster closes it too.
    fn close(&self) -> Result<(), DeployError>;
}
