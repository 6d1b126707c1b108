//! The `brisk` command: `brisk demo` runs the talk's examples; `brisk scheduler` and
//! `brisk worker` run a cluster; `brisk ssh HOST...` starts one on SSH hosts, `brisk slurm`
//! one of Slurm jobs, `brisk mpi -- PROGRAM` one inside an MPI job, and `brisk kubernetes
//! manifests` writes one for Kubernetes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "distributed")]
mod cluster_cli;
mod demo;
#[cfg(feature = "distributed")]
mod deploy_cli;
#[cfg(feature = "distributed")]
mod kubernetes_cli;
#[cfg(feature = "distributed")]
mod mpi_cli;
#[cfg(feature = "distributed")]
mod slurm_cli;

#[derive(Parser)]
#[command(
    name = "brisk",
    version,
    about = "Parallel computing through task scheduling, native to Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the talk's examples on the default scheduler, printing each result and its time.
    Demo {
        /// Where to write pictures of the graphs.
        #[arg(long, default_value = "target/brisk-demo")]
        out: PathBuf,
    },
    /// Run a cluster's scheduler.
    #[cfg(feature = "distributed")]
    Scheduler(cluster_cli::SchedulerArgs),
    /// Run a worker of the scheduler at ADDRESS.
    #[cfg(feature = "distributed")]
    Worker(cluster_cli::WorkerArgs),
    /// Run a cluster on SSH hosts: the scheduler on the first, workers on the others.
    #[cfg(feature = "distributed")]
    Ssh(deploy_cli::SshArgs),
    /// Run a scheduler here and workers as Slurm jobs (sbatch), scaled or adaptive.
    #[cfg(feature = "distributed")]
    Slurm(slurm_cli::SlurmArgs),
    /// Under mpirun: rank 0 the scheduler, rank 1 your program, the others workers.
    #[cfg(feature = "distributed")]
    Mpi(mpi_cli::MpiArgs),
    /// Kubernetes: `brisk kubernetes manifests --image IMAGE` writes the cluster's YAML.
    #[cfg(feature = "distributed")]
    Kubernetes(kubernetes_cli::KubernetesArgs),
}

fn main() -> anyhow::Result<()> {
    #[cfg(feature = "distributed")]
    brisk::worker::main_if_worker();
    let cli = Cli::parse();
    // Cluster processes log joins, leaves and rejections; everything else only warnings.
    let default_filter = match &cli.command {
        Command::Demo { .. } => "warn",
        #[cfg(feature = "distributed")]
        _ => "warn,brisk_scheduler=info,brisk_worker=info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BRISK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Demo { out } => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            demo::run(&mut lock, &out)?;
        }
        #[cfg(feature = "distributed")]
        Command::Scheduler(args) => cluster_cli::scheduler(args)?,
        #[cfg(feature = "distributed")]
        Command::Worker(args) => cluster_cli::worker(args)?,
        #[cfg(feature = "distributed")]
        Command::Ssh(args) => deploy_cli::ssh(args)?,
        #[cfg(feature = "distributed")]
        Command::Slurm(args) => slurm_cli::slurm(args)?,
        #[cfg(feature = "distributed")]
        Command::Mpi(args) => mpi_cli::mpi(args)?,
        #[cfg(feature = "distributed")]
        Command::Kubernetes(args) => kubernetes_cli::kubernetes(args)?,
    }
    Ok(())
}
