//! `brisk ssh HOST...`: a cluster on SSH hosts until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use brisk::deploy::{Cluster, SshCluster, SshOptions};

/// `brisk ssh`.
#[derive(clap::Args, Debug)]
pub struct SshArgs {
    /// Hosts as [user@]host[:port]: the scheduler runs on the first, workers on the others
    /// (on the first too when it is the only one).
    #[arg(required = true)]
    hosts: Vec<String>,
    /// Workers per worker host.
    #[arg(long, default_value_t = 1)]
    workers_per_host: usize,
    /// The private key for ssh (ssh -i).
    #[arg(short = 'i', long)]
    identity: Option<PathBuf>,
    /// An ssh option (ssh -o), repeatable, e.g. -o StrictHostKeyChecking=accept-new.
    #[arg(short = 'o', long = "ssh-option")]
    ssh_options: Vec<String>,
    /// The brisk binary on the hosts (default: brisk on the PATH of non-interactive sessions).
    #[arg(long, default_value = "brisk")]
    remote_brisk: String,
    /// Run workers as this program of your own (on the hosts) instead of `brisk worker`: its
    /// `main` calls `brisk::worker::main_if_worker()` first, so your functions run there.
    #[arg(long)]
    worker_program: Option<String>,
    /// An argument for --worker-program (repeatable).
    #[arg(long = "worker-arg", allow_hyphen_values = true)]
    worker_args: Vec<String>,
    /// The scheduler's port on the first host (0: any free port).
    #[arg(long, default_value_t = 8786)]
    scheduler_port: u16,
    /// The address the scheduler listens on.
    #[arg(long, default_value = "0.0.0.0")]
    scheduler_listen: String,
    /// The dashboard's port (0: any free port).
    #[arg(long, default_value_t = 8787)]
    dashboard_port: u16,
    /// Serve no dashboard.
    #[arg(long)]
    no_dashboard: bool,
    /// The address workers listen on for peers.
    #[arg(long, default_value = "0.0.0.0")]
    worker_listen: String,
    /// Threads per worker (default: the host's cores).
    #[arg(long)]
    nthreads: Option<usize>,
    /// Memory limit per worker, e.g. 4GB, or auto.
    #[arg(long)]
    memory_limit: Option<String>,
    /// The shared token (default: a fresh one, printed for clients).
    #[arg(long, env = "BRISK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Seconds the scheduler and the workers may take to start.
    #[arg(long, default_value_t = 60.0)]
    startup_timeout: f64,
}

pub fn ssh(args: SshArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.workers_per_host >= 1,
        "--workers-per-host must be at least 1"
    );
    anyhow::ensure!(
        args.startup_timeout.is_finite() && args.startup_timeout > 0.0,
        "--startup-timeout must be a positive number of seconds"
    );
    let mut o = SshOptions::new(args.hosts);
    o.workers_per_host = args.workers_per_host;
    o.identity = args.identity;
    o.ssh_options = args.ssh_options;
    o.remote_brisk = args.remote_brisk;
    o.worker_program = args.worker_program;
    o.worker_program_args = args.worker_args;
    o.scheduler_port = args.scheduler_port;
    o.scheduler_listen = args.scheduler_listen;
    o.dashboard_port = (!args.no_dashboard).then_some(args.dashboard_port);
    o.worker_listen = args.worker_listen;
    o.nthreads = args.nthreads;
    o.memory_limit = args.memory_limit;
    o.token = args.token;
    o.startup_timeout = Duration::from_secs_f64(args.startup_timeout);
    let cluster = SshCluster::start(o).context("cannot start the SSH cluster")?;
    println!("scheduler at {}", cluster.scheduler_address());
    if let Some(d) = cluster.dashboard_link() {
        println!("dashboard at {d}");
    }
    println!("workers: {}", cluster.worker_names().join(", "));
    if let Some(t) = &cluster.security().token {
        // Clients need it: `BRISK_TOKEN=... your-program`.
        println!("token: {t}");
    }
    println!("Ctrl-C (or SIGTERM) stops the cluster");
    wait_for_signal()?;
    eprintln!("stopping the cluster");
    cluster.close().context("stopping the cluster")?;
    Ok(())
}

pub(crate) fn wait_for_signal() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime to wait for signals")?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })
    .context("waiting for a signal")
}
