//! `brisk mpi -- PROGRAM ARGS...` under `mpirun -n N`: a whole cluster inside one batch job,
//! the dask-mpi model. Rank 0 runs the scheduler, rank 1 runs your program (with
//! `BRISK_SCHEDULER_ADDRESS` and `BRISK_TOKEN_FILE` set, so `Client::from_env()` connects),
//! and every other rank runs a worker. When the program ends, rank 1 shuts the cluster down,
//! every rank exits, and `mpirun` returns the program's exit status.
//!
//! The ranks find each other through a scheduler file on a file system they share (the
//! working directory by default, named after the MPI job), written by rank 0 with a fresh
//! token beside it (readable only by you): no MPI library is linked, so `brisk` runs under any
//! MPI launcher that tells a process its rank (Open MPI, MPICH, Intel MPI, `srun`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail, ensure};
use clap::Parser;

use crate::cluster_cli::{SchedulerArgs, WorkerArgs};

/// `brisk mpi`.
#[derive(clap::Args, Debug)]
pub struct MpiArgs {
    /// The scheduler file the ranks share (default: .brisk-mpi-<job>.json in the working
    /// directory, on a file system every node sees).
    #[arg(long)]
    scheduler_file: Option<PathBuf>,
    /// The address the scheduler listens on (rank 0).
    #[arg(long, default_value = "0.0.0.0")]
    scheduler_listen: String,
    /// The dashboard's port (0: any free port).
    #[arg(long, default_value_t = 8787)]
    dashboard_port: u16,
    /// Serve no dashboard.
    #[arg(long)]
    no_dashboard: bool,
    /// Threads per worker (default: the cores).
    #[arg(long)]
    nthreads: Option<usize>,
    /// Memory limit per worker, e.g. 4GB, or auto.
    #[arg(long, default_value = "0")]
    memory_limit: String,
    /// Seconds the ranks wait for the scheduler, and the program for the workers.
    #[arg(long, default_value_t = 60.0)]
    startup_timeout: f64,
    /// The program rank 1 runs, and its arguments (after --).
    #[arg(required = true, last = true)]
    program: Vec<String>,
}

/// This process's rank and the job's size, from the launcher's environment.
fn rank_and_size() -> anyhow::Result<(usize, usize)> {
    let pairs = [
        ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
        ("PMIX_RANK", "OMPI_COMM_WORLD_SIZE"),
        ("PMI_RANK", "PMI_SIZE"),
        ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
        ("SLURM_PROCID", "SLURM_NTASKS"),
    ];
    for (r, s) in pairs {
        if let (Ok(rank), Ok(size)) = (std::env::var(r), std::env::var(s)) {
            let rank: usize = rank
                .trim()
                .parse()
                .with_context(|| format!("{r}={rank:?} is not a rank"))?;
            let size: usize = size
                .trim()
                .parse()
                .with_context(|| format!("{s}={size:?} is not a job size"))?;
            return Ok((rank, size));
        }
    }
    bail!(
        "no MPI rank in the environment (OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID, ...): \
         run `brisk mpi` under mpirun -n N (N >= 3: a scheduler, your program, workers)"
    )
}

/// The default scheduler file: unique per MPI job.
fn default_file() -> anyhow::Result<PathBuf> {
    let job = [
        "PMIX_NAMESPACE",
        "OMPI_MCA_ess_base_jobid",
        "PMI_JOBID",
        "SLURM_JOB_ID",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok())
    .map(|j| j.replace(|c: char| !c.is_ascii_alphanumeric(), "_"))
    .context("cannot tell this MPI job from another: give --scheduler-file")?;
    Ok(std::env::current_dir()?.join(format!(".brisk-mpi-{job}.json")))
}

/// Wait for rank 0's scheduler file (written after this process started); its address and
/// token file.
fn wait_for_scheduler(
    file: &Path,
    since: SystemTime,
    timeout: Duration,
) -> anyhow::Result<(String, PathBuf)> {
    let start = Instant::now();
    loop {
        let fresh = std::fs::metadata(file)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t + Duration::from_secs(5) >= since);
        if fresh
            && let Ok(text) = std::fs::read_to_string(file)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let (Some(a), Some(t)) = (v["address"].as_str(), v["token_file"].as_str())
        {
            return Ok((a.to_string(), PathBuf::from(t)));
        }
        ensure!(
            start.elapsed() < timeout,
            "rank 0 did not write the scheduler file {} within {:.0} s (is it on a file system \
             every node shares? did rank 0 fail?)",
            file.display(),
            timeout.as_secs_f64()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[derive(Parser)]
struct Scheduler {
    #[command(flatten)]
    args: SchedulerArgs,
}

#[derive(Parser)]
struct Worker {
    #[command(flatten)]
    args: WorkerArgs,
}

pub fn mpi(args: MpiArgs) -> anyhow::Result<()> {
    let since = SystemTime::now();
    let (rank, size) = rank_and_size()?;
    ensure!(
        size >= 3,
        "brisk mpi needs at least 3 ranks (a scheduler, your program, a worker); this job has {size}"
    );
    ensure!(
        args.startup_timeout.is_finite() && args.startup_timeout > 0.0,
        "--startup-timeout must be a positive number of seconds"
    );
    let timeout = Duration::from_secs_f64(args.startup_timeout);
    let file = match &args.scheduler_file {
        Some(f) => f.clone(),
        None => default_file()?,
    };
    match rank {
        0 => {
            let token_file = file.with_extension("token");
            let _ = std::fs::remove_file(&file);
            let _ = std::fs::remove_file(&token_file);
            let mut argv: Vec<String> = vec![
                "brisk".into(),
                "--host".into(),
                args.scheduler_listen.clone(),
                "--port".into(),
                "0".into(),
                "--scheduler-file".into(),
                file.display().to_string(),
                "--token-file".into(),
                token_file.display().to_string(),
            ];
            if args.no_dashboard {
                argv.push("--no-dashboard".into());
            } else {
                argv.extend(["--dashboard-port".into(), args.dashboard_port.to_string()]);
            }
            let s = Scheduler::try_parse_from(argv).context("the scheduler's options")?;
            let r = crate::cluster_cli::scheduler(s.args);
            let _ = std::fs::remove_file(&file);
            let _ = std::fs::remove_file(&token_file);
            r
        }
        1 => run_program(&args, &file, since, timeout, size - 2),
        _ => {
            wait_for_scheduler(&file, since, timeout)?;
            let mut argv: Vec<String> = vec![
                "brisk".into(),
                "--scheduler-file".into(),
                file.display().to_string(),
                "--name".into(),
                format!("mpi-rank-{rank}"),
                "--memory-limit".into(),
                args.memory_limit.clone(),
            ];
            if let Some(n) = args.nthreads {
                argv.extend(["--nthreads".into(), n.to_string()]);
            }
            let w = Worker::try_parse_from(argv).context("the worker's options")?;
            crate::cluster_cli::worker(w.args)
        }
    }
}

/// Rank 1: wait for the cluster, run the program, shut the cluster down, exit as it did.
fn run_program(
    args: &MpiArgs,
    file: &Path,
    since: SystemTime,
    timeout: Duration,
    workers: usize,
) -> anyhow::Result<()> {
    let (address, token_file) = wait_for_scheduler(file, since, timeout)?;
    let token = brisk::distributed::protocol::credentials::read_token_file(&token_file)?;
    let security = brisk::distributed::protocol::Security::none().with_token(Some(token));
    let mut control = brisk::deploy::control::Control::new(&address, security)?;
    // Every worker rank joins before the program starts, so its first computation has them.
    let start = Instant::now();
    loop {
        let info = control.info()?;
        if info.workers.len() >= workers {
            break;
        }
        ensure!(
            start.elapsed() < timeout,
            "{} of {workers} worker ranks joined within {:.0} s",
            info.workers.len(),
            timeout.as_secs_f64()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (program, rest) = args
        .program
        .split_first()
        .context("give the program to run after --")?;
    let status = Command::new(program)
        .args(rest)
        .env(
            brisk::distributed::protocol::ENV_SCHEDULER_ADDRESS,
            &address,
        )
        .env("BRISK_TOKEN_FILE", &token_file)
        .env_remove("BRISK_TOKEN")
        .status();
    // Whatever happened to the program, the cluster stops so that mpirun returns. The files
    // go here too: on a failure mpirun kills the other ranks before rank 0 could remove them.
    let _ = control.shutdown();
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(&token_file);
    let status = status.with_context(|| format!("cannot run {program}"))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(c) => {
            eprintln!("brisk mpi: {program} exited with status {c}");
            std::process::exit(c)
        }
        None => {
            eprintln!("brisk mpi: {program} ended by a signal ({status})");
            std::process::exit(1)
        }
    }
}
