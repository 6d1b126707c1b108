//! `brisk scheduler` and `brisk worker`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use brisk::crates::core::bytes::parse_bytes;
use brisk::distributed::protocol::Security;
use brisk::distributed::protocol::security::TlsFiles;
use brisk::distributed::scheduler::{SchedulerConfig, SchedulerOptions, run_until_signal};
use brisk::worker::WorkerOptions;

/// Security flags shared by both commands.
#[derive(clap::Args, Debug, Clone)]
pub struct SecurityArgs {
    /// Shared token every member must present.
    #[arg(long, env = "BRISK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// CA certificate (PEM) that signs every member's certificate (turns on TLS).
    #[arg(long, env = "BRISK_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// This member's certificate (PEM).
    #[arg(long, env = "BRISK_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// This member's private key (PEM).
    #[arg(long, env = "BRISK_TLS_KEY")]
    tls_key: Option<PathBuf>,
}

impl SecurityArgs {
    fn security(&self) -> anyhow::Result<Security> {
        let tls = match (&self.tls_ca, &self.tls_cert, &self.tls_key) {
            (None, None, None) => None,
            (Some(ca), Some(cert), Some(key)) => Some(TlsFiles {
                ca: ca.clone(),
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => bail!("TLS needs all three of --tls-ca, --tls-cert and --tls-key"),
        };
        Ok(Security::none()
            .with_token(self.token.clone())
            .with_tls(tls))
    }
}

/// `brisk scheduler`.
#[derive(clap::Args, Debug)]
pub struct SchedulerArgs {
    /// Host to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8786)]
    port: u16,
    /// Port of the live dashboard (default 8787, or any free port when 8787 is taken; 0: any
    /// free port).
    #[arg(long)]
    dashboard_port: Option<u16>,
    /// Serve no dashboard.
    #[arg(long, conflicts_with = "dashboard_port")]
    no_dashboard: bool,
    /// Write the scheduler's address to this JSON file (for `brisk worker --scheduler-file`).
    #[arg(long)]
    scheduler_file: Option<PathBuf>,
    /// Remove a worker silent for this many seconds.
    #[arg(long, default_value_t = 30.0)]
    worker_timeout: f64,
    /// Worker deaths a task may cause before it fails.
    #[arg(long, default_value_t = 2)]
    allowed_failures: u8,
    #[command(flatten)]
    security: SecurityArgs,
}

/// `brisk worker`.
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// The scheduler's address, e.g. tcp://192.168.0.1:8786.
    address: Option<String>,
    /// Read the scheduler's address from this file (written by `brisk scheduler`).
    #[arg(long)]
    scheduler_file: Option<PathBuf>,
    /// Threads that run tasks (default: the cores).
    #[arg(long)]
    nthreads: Option<usize>,
    /// Memory limit, e.g. 4GB, or auto (the machine's memory; 0: none).
    #[arg(long, default_value = "0")]
    memory_limit: String,
    /// A name for logs and the dashboard.
    #[arg(long)]
    name: Option<String>,
    /// Where spilled values go.
    #[arg(long)]
    local_directory: Option<PathBuf>,
    /// Host to listen on for peers.
    #[arg(long, default_value = "0.0.0.0")]
    listen_host: String,
    /// Host other members reach this worker at.
    #[arg(long)]
    contact_host: Option<String>,
    /// Exit when the scheduler is unreachable for this many seconds.
    #[arg(long, default_value_t = 60.0)]
    death_timeout: f64,
    #[command(flatten)]
    security: SecurityArgs,
}

/// The machine's memory in bytes (Linux: `/proc/meminfo`).
fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn scheduler(args: SchedulerArgs) -> anyhow::Result<()> {
    let options = SchedulerOptions {
        host: args.host.clone(),
        port: args.port,
        security: args.security.security()?,
        config: SchedulerConfig {
            worker_timeout: Duration::from_secs_f64(args.worker_timeout.max(0.1)),
            allowed_failures: args.allowed_failures,
            ..SchedulerConfig::default()
        },
        // The default port falls back to a free one when taken; a port asked for must be free.
        dashboard_port: if args.no_dashboard {
            None
        } else {
            Some(args.dashboard_port.unwrap_or(8787))
        },
        dashboard_fallback: args.dashboard_port.is_none(),
        ..SchedulerOptions::default()
    };
    let file = args.scheduler_file.clone();
    let mut write_err = None;
    run_until_signal(options, |h| {
        eprintln!("brisk scheduler at {}", h.address());
        if let Some(d) = h.dashboard_address() {
            eprintln!("dashboard at {d}/status");
        }
        if let Some(f) = &file {
            let body = serde_json::json!({
                "address": h.address(),
                "dashboard": h.dashboard_address(),
            })
            .to_string();
            if let Err(e) = std::fs::write(f, body) {
                write_err = Some(format!("cannot write {}: {e}", f.display()));
            }
        }
    })
    .context("the scheduler failed")?;
    if let Some(e) = write_err {
        bail!(e);
    }
    Ok(())
}

pub fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let address = match (&args.address, &args.scheduler_file) {
        (Some(a), _) => a.clone(),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a scheduler file", f.display()))?;
            v["address"]
                .as_str()
                .with_context(|| format!("{} has no address", f.display()))?
                .to_string()
        }
        (None, None) => bail!("give the scheduler's address (tcp://host:8786) or --scheduler-file"),
    };
    let mut o = WorkerOptions::new(address);
    if let Some(n) = args.nthreads {
        if n == 0 {
            bail!("--nthreads must be at least 1");
        }
        o.nthreads = n;
    }
    o.memory_limit = if args.memory_limit.trim().eq_ignore_ascii_case("auto") {
        total_memory().context("--memory-limit auto: cannot read the machine's memory")?
    } else {
        parse_bytes(&args.memory_limit).with_context(|| {
            format!(
                "invalid --memory-limit {:?}: expected a size such as 4GB, or auto",
                args.memory_limit
            )
        })?
    };
    o.name = args.name;
    o.local_directory = args.local_directory;
    o.listen_host = args.listen_host;
    o.contact_host = args.contact_host;
    o.death_timeout = Duration::from_secs_f64(args.death_timeout.max(0.0));
    o.security = args.security.security()?;
    brisk::worker::run(o).context("the worker failed")?;
    Ok(())
}
