//! `brisk kubernetes manifests`: the YAML for a Brisk cluster on Kubernetes.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use brisk::deploy::kubernetes::{KubernetesOptions, manifests};

/// `brisk kubernetes`.
#[derive(clap::Args, Debug)]
pub struct KubernetesArgs {
    #[command(subcommand)]
    command: KubernetesCommand,
}

#[derive(clap::Subcommand, Debug)]
enum KubernetesCommand {
    /// Write a token Secret, a scheduler Deployment and Service, and a worker Deployment.
    Manifests(ManifestArgs),
}

#[derive(clap::Args, Debug)]
struct ManifestArgs {
    /// The container image with brisk (and your worker program) in it.
    #[arg(long)]
    image: String,
    /// Prefix of the objects' names.
    #[arg(long, default_value = "brisk")]
    name: String,
    /// The namespace (default: kubectl's).
    #[arg(long)]
    namespace: Option<String>,
    /// Worker pods.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Threads (and CPUs) per worker.
    #[arg(long, default_value_t = 1)]
    cores: usize,
    /// Memory per worker, e.g. 4GB.
    #[arg(long, default_value = "2GB")]
    memory: String,
    /// CPUs of the scheduler's pod.
    #[arg(long, default_value_t = 1)]
    scheduler_cores: usize,
    /// Memory of the scheduler's pod.
    #[arg(long, default_value = "1GB")]
    scheduler_memory: String,
    /// The brisk command inside the image.
    #[arg(long, default_value = "brisk")]
    brisk: String,
    /// Run workers as this program of your own (in the image).
    #[arg(long)]
    worker_program: Option<String>,
    /// An argument for --worker-program (repeatable).
    #[arg(long = "worker-arg", allow_hyphen_values = true)]
    worker_args: Vec<String>,
    /// Use this existing Secret (key `token`) instead of writing one.
    #[arg(long)]
    token_secret: Option<String>,
    /// imagePullPolicy: Always, IfNotPresent or Never.
    #[arg(long)]
    image_pull_policy: Option<String>,
    /// Seconds a terminating worker gets to hand its values over.
    #[arg(long, default_value_t = 60)]
    termination_grace_seconds: u64,
    /// Write here (readable only by you: it may hold the token) instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn kubernetes(args: KubernetesArgs) -> anyhow::Result<()> {
    let KubernetesCommand::Manifests(a) = args.command;
    let mut o = KubernetesOptions::new(a.image);
    o.name = a.name;
    o.namespace = a.namespace;
    o.workers = a.workers;
    o.cores = a.cores;
    o.memory = a.memory;
    o.scheduler_cores = a.scheduler_cores;
    o.scheduler_memory = a.scheduler_memory;
    o.brisk = a.brisk;
    o.worker_program = a.worker_program;
    o.worker_program_args = a.worker_args;
    o.token_secret = a.token_secret;
    o.image_pull_policy = a.image_pull_policy;
    o.termination_grace_seconds = a.termination_grace_seconds;
    let text = manifests(&o)?;
    match &a.output {
        None => print!("{text}"),
        Some(path) => {
            let mut f = std::fs::OpenOptions::new();
            f.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                f.mode(0o600);
            }
            f.open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {}; apply with: kubectl apply -f {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(())
}
