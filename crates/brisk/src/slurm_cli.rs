//! `brisk slurm`: a scheduler here and workers as Slurm jobs, until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use brisk::deploy::{Cluster, SlurmCluster, SlurmOptions};

/// `brisk slurm`.
#[derive(clap::Args, Debug)]
pub struct SlurmArgs {
    /// Worker jobs to keep (ignored with --adapt).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Follow the demand between MIN and MAX workers instead, e.g. --adapt 1:10.
    #[arg(long, value_name = "MIN:MAX")]
    adapt: Option<String>,
    /// Cores per job (the worker's threads).
    #[arg(long, default_value_t = 1)]
    cores: usize,
    /// Memory per job, e.g. 4GB (the worker's memory limit).
    #[arg(long)]
    memory: Option<String>,
    /// Walltime per job, in Slurm's formats (30, 1:30:00, 2-00:00:00).
    #[arg(long, default_value = "00:30:00")]
    walltime: String,
    /// Workers retire (their values move to others) this many seconds before the walltime.
    #[arg(long, default_value_t = 60.0)]
    lifetime_margin: f64,
    /// The partition (sbatch --partition).
    #[arg(long)]
    partition: Option<String>,
    /// The account (sbatch --account).
    #[arg(long)]
    account: Option<String>,
    /// The jobs' name.
    #[arg(long, default_value = "brisk-worker")]
    job_name: String,
    /// A further #SBATCH option, repeatable, e.g. --job-extra=--qos=high.
    #[arg(long = "job-extra", allow_hyphen_values = true)]
    job_extra: Vec<String>,
    /// A shell line run before the worker, repeatable, e.g. "module load gcc".
    #[arg(long = "prologue")]
    prologue: Vec<String>,
    /// The brisk binary as the nodes see it (default: this one).
    #[arg(long)]
    brisk_program: Option<String>,
    /// Run workers as this program of your own (its main calls main_if_worker() first).
    #[arg(long)]
    worker_program: Option<String>,
    /// An argument for --worker-program (repeatable).
    #[arg(long = "worker-arg", allow_hyphen_values = true)]
    worker_args: Vec<String>,
    /// The token file and the jobs' output go here; on a file system the nodes share.
    #[arg(long)]
    state_directory: Option<PathBuf>,
    /// The address the scheduler listens on.
    #[arg(long, default_value = "0.0.0.0")]
    scheduler_listen: String,
    /// The host workers reach the scheduler at (default: this machine's name).
    #[arg(long)]
    scheduler_contact: Option<String>,
    /// The scheduler's port (0: any free port).
    #[arg(long, default_value_t = 0)]
    scheduler_port: u16,
    /// The dashboard's port (0: any free port).
    #[arg(long, default_value_t = 8787)]
    dashboard_port: u16,
    /// Serve no dashboard.
    #[arg(long)]
    no_dashboard: bool,
    /// Write {"address", "token_file"} here for clients (`brisk worker --scheduler-file` reads
    /// the same format).
    #[arg(long)]
    scheduler_file: Option<PathBuf>,
    /// Print the job script a worker would be submitted with, and exit.
    #[arg(long)]
    print_job_script: bool,
}

fn parse_adapt(text: &str) -> anyhow::Result<(usize, usize)> {
    let (a, b) = text
        .split_once(':')
        .with_context(|| format!("--adapt {text:?}: expected MIN:MAX, e.g. 1:10"))?;
    let min: usize = a
        .trim()
        .parse()
        .with_context(|| format!("--adapt {text:?}: MIN is not a number"))?;
    let max: usize = b
        .trim()
        .parse()
        .with_context(|| format!("--adapt {text:?}: MAX is not a number"))?;
    anyhow::ensure!(
        max >= 1 && min <= max,
        "--adapt {text:?}: expected MIN <= MAX and MAX >= 1"
    );
    Ok((min, max))
}

pub fn slurm(args: SlurmArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.lifetime_margin.is_finite() && args.lifetime_margin >= 0.0,
        "--lifetime-margin must be a number of seconds >= 0"
    );
    let adapt = args.adapt.as_deref().map(parse_adapt).transpose()?;
    let mut o = SlurmOptions::new();
    o.cores = args.cores;
    o.memory = args.memory;
    o.walltime = args.walltime;
    o.lifetime_margin = Duration::from_secs_f64(args.lifetime_margin);
    o.partition = args.partition;
    o.account = args.account;
    o.job_name = args.job_name;
    o.job_extra = args.job_extra;
    o.prologue = args.prologue;
    o.brisk_program = match args.brisk_program {
        Some(p) => p,
        None => std::env::current_exe()
            .context("cannot find this program's path; give --brisk-program")?
            .display()
            .to_string(),
    };
    o.worker_program = args.worker_program;
    o.worker_program_args = args.worker_args;
    o.state_directory = args.state_directory;
    o.scheduler_listen = args.scheduler_listen;
    o.scheduler_contact = args.scheduler_contact;
    o.scheduler_port = args.scheduler_port;
    o.dashboard_port = (!args.no_dashboard).then_some(args.dashboard_port);
    if args.print_job_script {
        o.dashboard_port = None;
        let cluster = SlurmCluster::start(o).context("cannot prepare the Slurm cluster")?;
        print!("{}", cluster.job_script());
        return cluster.close().context("stopping");
    }
    let cluster = SlurmCluster::start(o).context("cannot start the Slurm cluster")?;
    match adapt {
        Some((min, max)) => cluster.adapt(min, max)?,
        None => cluster
            .scale(args.workers)
            .context("cannot submit the worker jobs")?,
    }
    println!("scheduler at {}", cluster.scheduler_address());
    if let Some(d) = cluster.dashboard_link() {
        println!("dashboard at {d}");
    }
    let token_file = cluster.state_directory().join("token");
    println!("token file: {}", token_file.display());
    if let Some(f) = &args.scheduler_file {
        let v = serde_json::json!({
            "address": cluster.scheduler_address(),
            "token_file": token_file.display().to_string(),
        });
        std::fs::write(f, v.to_string())
            .with_context(|| format!("cannot write the scheduler file {}", f.display()))?;
        println!("scheduler file: {}", f.display());
    }
    println!("Ctrl-C (or SIGTERM) stops the cluster and cancels its jobs");
    crate::deploy_cli::wait_for_signal()?;
    eprintln!("stopping the cluster");
    cluster.close().context("stopping the cluster")?;
    if let Some(f) = &args.scheduler_file {
        let _ = std::fs::remove_file(f);
    }
    Ok(())
}
