//! # brisk-deploy: start Brisk clusters where your machines are
//!
//! One home for starting clusters, and one [`Cluster`] trait that every deployer implements:
//! `scheduler_address()`, `dashboard_link()`, `scale(n)`, `adapt(min, max)`, `close()`. A
//! client connects to any of them the same way (`Client::new(&cluster)` in `brisk-client`).
//!
//! | deployer | scheduler | workers |
//! |---|---|---|
//! | [`LocalCluster`] | in this process | subprocesses of this program (or another) |
//! | [`SshCluster`] | `brisk scheduler` on the first host | `brisk worker` on the others, through `ssh` |
//! | [`SlurmCluster`] | in this process (the submit node) | one Slurm batch job each (`sbatch`) |
//! | `brisk mpi` (in the `brisk` binary) | MPI rank 0 | ranks 2 and up; rank 1 runs your program |
//! | [`kubernetes::manifests`] | a Deployment and a Service | a Deployment (`kubectl scale`) |
//!
//! Scaling down never loses data: workers are retired through the scheduler
//! (`FromClient::RetireWorkers`), which copies every value only they hold to the workers that
//! stay before it closes them. [`adapt`] follows the scheduler's demand.
//!
//! Layering: this crate sits between `brisk-protocol` and the runtime crates. It talks to the
//! scheduler only through the protocol ([`control`]), starts an in-process scheduler through
//! `brisk_protocol::launch` (which `brisk-scheduler` plugs into), and writes the worker
//! environment ([`mod@env`]) that `brisk_worker::main_if_worker` reads. `brisk-client` builds
//! `Client::local` and `Client::new` on it. See `docs/design/deploy.md`.

pub mod adapt;
mod cluster;
mod command;
pub mod control;
pub mod env;
mod error;
pub mod kubernetes;
mod local;
pub mod pool;
mod slurm;
mod ssh;
mod walltime;
mod yaml;

pub use adapt::{AdaptOptions, Decider};
pub use cluster::Cluster;
pub use error::DeployError;
pub use local::{LocalCluster, LocalClusterOptions};
pub use slurm::{SlurmCluster, SlurmOptions};
pub use ssh::{SshCluster, SshHost, SshOptions};
pub use walltime::parse_walltime;
