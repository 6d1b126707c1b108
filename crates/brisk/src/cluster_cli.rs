//! `brisk scheduler` and `brisk worker`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use brisk::crates::core::bytes::parse_bytes;
use brisk::distributed::protocol::Security;
use brisk::distributed::protocol::credentials::{
    default_token_path, generate_token, is_loopback_host, read_token_file, write_token_file,
};
use brisk::distributed::protocol::security::TlsFiles;
use brisk::distributed::scheduler::{SchedulerConfig, SchedulerOptions, run_until_signal};
use brisk::worker::WorkerOptions;

/// Security flags shared by both commands.
#[derive(clap::Args, Debug, Clone)]
pub struct SecurityArgs {
    /// Shared token every member must present. Prefer BRISK_TOKEN or --token-file: a value
    /// given on the command line shows in `ps`.
    #[arg(long, env = "BRISK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Read the shared token from this file. `brisk scheduler` creates it with a new token,
    /// readable only by you, when it does not exist.
    #[arg(long, env = "BRISK_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// CA certificate (PEM) that signs every member's certificate (turns on TLS).
    #[arg(long, env = "BRISK_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// This member's certificate (PEM).
    #[arg(long, env = "BRISK_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// This member's private key (PEM).
    #[arg(long, env = "BRISK_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Listen on a host other machines can reach with no token and no TLS (anyone who can
    /// reach the port can then read data, run tasks and stop the cluster).
    #[arg(long)]
    insecure: bool,
}

/// Where a scheduler's token came from, when it must be shown or saved.
enum TokenSource {
    /// Given (flag, environment or an existing file): never printed.
    Given,
    /// Made now and saved to this file (given with --token-file).
    MadeInto(PathBuf),
    /// Made now; save it to the default place once the port is known, remove it on exit.
    MadeDefault,
}

impl SecurityArgs {
    fn tls(&self) -> anyhow::Result<Option<TlsFiles>> {
        Ok(match (&self.tls_ca, &self.tls_cert, &self.tls_key) {
            (None, None, None) => None,
            (Some(ca), Some(cert), Some(key)) => Some(TlsFiles {
                ca: ca.clone(),
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => bail!("TLS needs all three of --tls-ca, --tls-cert and --tls-key"),
        })
    }

    /// The token given as --token/BRISK_TOKEN or in an existing --token-file.
    fn given_token(&self) -> anyhow::Result<Option<String>> {
        if self.token.is_some() && self.token_file.is_some() {
            bail!("give the token once: --token (BRISK_TOKEN) or --token-file (BRISK_TOKEN_FILE)");
        }
        if std::env::args().any(|a| a == "--token" || a.starts_with("--token=")) {
            tracing::warn!(
                "--token on the command line shows in `ps` to every user of this machine; \
                 prefer BRISK_TOKEN or --token-file"
            );
        }
        if let Some(t) = self.token.clone().filter(|t| !t.is_empty()) {
            return Ok(Some(t));
        }
        match &self.token_file {
            Some(f) if f.exists() => Ok(Some(read_token_file(f)?)),
            _ => Ok(None),
        }
    }

    /// A worker's (or any member's but the scheduler's) security: the token must exist.
    fn member(&self, token_file_hint: Option<PathBuf>) -> anyhow::Result<Security> {
        let token = match self.given_token()? {
            Some(t) => Some(t),
            None => match (&self.token_file, token_file_hint) {
                (Some(f), _) => bail!(
                    "cannot read the token file {}: it does not exist",
                    f.display()
                ),
                (None, Some(f)) => Some(read_token_file(&f).with_context(|| {
                    format!("the scheduler file names the token file {}", f.display())
                })?),
                (None, None) => None,
            },
        };
        Ok(Security::none().with_token(token).with_tls(self.tls()?))
    }

    /// The scheduler's security, making a token when it listens beyond this machine with no
    /// credential (or when --token-file names a file that does not exist yet).
    fn scheduler(&self, host: &str) -> anyhow::Result<(Security, TokenSource)> {
        let tls = self.tls()?;
        if let Some(t) = self.given_token()? {
            return Ok((
                Security::none().with_token(Some(t)).with_tls(tls),
                TokenSource::Given,
            ));
        }
        let source = if let Some(f) = &self.token_file {
            TokenSource::MadeInto(f.clone())
        } else if tls.is_none() && !self.insecure && !is_loopback_host(host) {
            TokenSource::MadeDefault
        } else {
            return Ok((Security::none().with_tls(tls), TokenSource::Given));
        };
        let token = generate_token()?;
        if let TokenSource::MadeInto(f) = &source {
            write_token_file(f, &token)?;
        }
        Ok((
            Security::none().with_token(Some(token)).with_tls(tls),
            source,
        ))
    }
}

/// `brisk scheduler`.
#[derive(clap::Args, Debug)]
pub struct SchedulerArgs {
    /// Host to listen on (the scheduler and its dashboard). Any host other than this machine's
    /// loopback needs a token or TLS: without one the scheduler makes a token, prints it once
    /// and saves it to a file only you can read.
    #[arg(long, default_value = "127.0.0.1")]
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
    /// Journal the clients' work to this file; a scheduler started again with the same file
    /// (after kill -9, a crash, a restart) gives every client its work back: the workers offer
    /// the values they kept, the clients reconnect by themselves, and only what was lost is
    /// computed again.
    #[arg(long)]
    journal: Option<PathBuf>,
    /// With --journal: seconds a client that lost its connection keeps its work to resume it.
    #[arg(long, default_value_t = 60.0, requires = "journal")]
    resume_grace: f64,
    /// With --journal: seconds to wait after a restart for the workers of before (who hold
    /// the values computed then) before computing again what they held.
    #[arg(long, default_value_t = 10.0, requires = "journal")]
    recovery_wait: f64,
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
    /// Host to listen on for peers (default: 127.0.0.1 when the scheduler is on this machine,
    /// otherwise the address this machine reaches the scheduler from). Any host other than the
    /// loopback needs the cluster's token or TLS.
    #[arg(long)]
    listen_host: Option<String>,
    /// Host other members reach this worker at.
    #[arg(long)]
    contact_host: Option<String>,
    /// Port for peers (default: any free port; fix it for containers and TCP probes).
    #[arg(long, default_value_t = 0)]
    listen_port: u16,
    /// Exit when the scheduler is unreachable for this many seconds.
    #[arg(long, default_value_t = 60.0)]
    death_timeout: f64,
    /// Retire gracefully (values move to other workers) and exit after this many seconds,
    /// e.g. a batch job's walltime minus a margin.
    #[arg(long)]
    lifetime: Option<f64>,
    /// Run the worker under a nanny process that restarts it when it crashes or its memory
    /// (with its task executors) passes 95% of --memory-limit.
    #[arg(long)]
    nanny: bool,
    #[command(flatten)]
    security: SecurityArgs,
}

/// `brisk worker --nanny ...`: this same command without `--nanny`, supervised.
fn nanny(args: &WorkerArgs) -> anyhow::Result<()> {
    use brisk::distributed::worker::nanny::{NannyExit, NannyOptions, supervise};
    let limit = memory_limit(&args.memory_limit)?;
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let argv: Vec<std::ffi::OsString> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--nanny")
        .collect();
    let r = supervise(
        || {
            let mut c = std::process::Command::new(&exe);
            c.args(&argv);
            c
        },
        &NannyOptions::new(limit),
    )
    .context("the nanny cannot start the worker")?;
    match r {
        NannyExit::Worker(st) if st.success() => Ok(()),
        NannyExit::Worker(st) => bail!("the worker exited ({st})"),
        NannyExit::GaveUp(why) => bail!("the nanny gave up: {why}"),
    }
}

/// `--memory-limit`: a size such as `4GB`, or `auto` (the machine's memory).
fn memory_limit(text: &str) -> anyhow::Result<u64> {
    if text.trim().eq_ignore_ascii_case("auto") {
        total_memory().context("--memory-limit auto: cannot read the machine's memory")
    } else {
        parse_bytes(text).with_context(|| {
            format!("invalid --memory-limit {text:?}: expected a size such as 4GB, or auto")
        })
    }
}

/// The machine's memory in bytes (Linux: `/proc/meminfo`).
fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn scheduler(mut args: SchedulerArgs) -> anyhow::Result<()> {
    // A scheduler that comes back from its journal must keep its token (its clients and
    // workers reconnect with it): a token it makes lives beside the journal.
    if let Some(j) = &args.journal
        && args.security.token.is_none()
        && args.security.token_file.is_none()
        && args.security.tls_ca.is_none()
        && !args.security.insecure
        && !is_loopback_host(&args.host)
    {
        let mut f = j.clone().into_os_string();
        f.push(".token");
        args.security.token_file = Some(PathBuf::from(f));
    }
    let (security, source) = args.security.scheduler(&args.host)?;
    let token = security.token.clone();
    let options = SchedulerOptions {
        host: args.host.clone(),
        port: args.port,
        security,
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
        insecure: args.security.insecure,
        journal: args.journal.clone(),
        resume_grace: Duration::from_secs_f64(args.resume_grace.max(0.0)),
        recovery_wait: Duration::from_secs_f64(args.recovery_wait.max(0.0)),
        ..SchedulerOptions::default()
    };
    let file = args.scheduler_file.clone();
    let mut write_err = None;
    // The file that holds the token, for workers started with --scheduler-file.
    let mut token_file = args.security.token_file.clone();
    let mut remove_on_exit = None;
    run_until_signal(options, |h| {
        eprintln!("brisk scheduler at {}", h.address());
        // Where a token made now was saved (or why it could not be).
        let made: Option<Result<PathBuf, String>> = match &source {
            TokenSource::Given => None,
            TokenSource::MadeInto(f) => Some(Ok(f.clone())),
            TokenSource::MadeDefault => {
                let port = h.address().rsplit(':').next().and_then(|p| p.parse().ok());
                let f = default_token_path(port.unwrap_or(args.port));
                match token.as_deref().map(|t| write_token_file(&f, t)) {
                    Some(Err(e)) => Some(Err(e.to_string())),
                    _ => {
                        remove_on_exit = Some(f.clone());
                        token_file = Some(f.clone());
                        Some(Ok(f))
                    }
                }
            }
        };
        if let (Some(saved), Some(t)) = (&made, &token) {
            let why = match &source {
                TokenSource::MadeInto(_) => "the token file did not exist".to_string(),
                _ => format!("it listens on {} with no --token or TLS", args.host),
            };
            let how = match saved {
                Ok(f) => format!(
                    "saved in {f} (readable only by you); give workers and clients \
                     BRISK_TOKEN_FILE={f} or --token-file {f}",
                    f = f.display()
                ),
                Err(e) => format!("not saved ({e}); give workers and clients BRISK_TOKEN"),
            };
            eprintln!("brisk scheduler: made a token for this cluster ({why}):\n    {t}\n  {how}");
        }
        if let Some(d) = h.dashboard_address() {
            match (&made, &token) {
                (Some(_), Some(t)) => eprintln!("dashboard at {d}/status?token={t}"),
                _ => eprintln!("dashboard at {d}/status"),
            }
        }
        if let Some(f) = &file {
            let body = serde_json::json!({
                "address": h.address(),
                "dashboard": h.dashboard_address(),
                "token_file": token_file,
            })
            .to_string();
            if let Err(e) = std::fs::write(f, body) {
                write_err = Some(format!("cannot write {}: {e}", f.display()));
            }
        }
    })
    .context("the scheduler failed")?;
    if let Some(f) = remove_on_exit {
        let _ = std::fs::remove_file(f);
    }
    if let Some(e) = write_err {
        bail!(e);
    }
    Ok(())
}

pub fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    if args.nanny {
        return nanny(&args);
    }
    let (address, token_file) = match (&args.address, &args.scheduler_file) {
        (Some(a), _) => (a.clone(), None),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a scheduler file", f.display()))?;
            let address = v["address"]
                .as_str()
                .with_context(|| format!("{} has no address", f.display()))?
                .to_string();
            (address, v["token_file"].as_str().map(PathBuf::from))
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
    o.memory_limit = memory_limit(&args.memory_limit)?;
    o.name = args.name;
    o.local_directory = args.local_directory;
    o.listen_host = args.listen_host.unwrap_or_default();
    o.contact_host = args.contact_host;
    o.listen_port = args.listen_port;
    o.death_timeout = Duration::from_secs_f64(args.death_timeout.max(0.0));
    if let Some(l) = args.lifetime {
        anyhow::ensure!(
            l.is_finite() && l > 0.0,
            "--lifetime must be a positive number of seconds, not {l}"
        );
        o.lifetime = Some(Duration::from_secs_f64(l));
    }
    o.security = args.security.member(token_file)?;
    o.insecure = args.security.insecure;
    brisk::worker::run(o).context("the worker failed")?;
    Ok(())
}
