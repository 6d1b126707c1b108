//! A throwaway single-node Slurm for the tests: Debian's `munge`, `slurmctld` and `slurmd`,
//! configured in a temporary directory for 127.0.0.1 on free ports (a munge socket and key of
//! its own, no cgroups, four CPUs declared so three one-core workers fit), started in the
//! foreground and stopped by PID when dropped (after cancelling every job it ran).
//!
//! No Slurm: the Slurm tests are skipped with a note, unless `BRISK_REQUIRE_SLURM=1` (set by
//! `.ci/setup.d/26-slurm-mpi.sh`), which makes its absence a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

const DAEMONS: [&str; 3] = [
    "/usr/sbin/munged",
    "/usr/sbin/slurmctld",
    "/usr/sbin/slurmd",
];

/// Whether the Slurm tests can run; `Ok(false)`: skip (with a note printed).
pub(crate) fn available(test: &str) -> anyhow::Result<bool> {
    let have = DAEMONS.iter().all(|d| Path::new(d).exists())
        && Path::new("/etc/munge/munge.key").exists()
        && ["sbatch", "squeue", "scancel", "sinfo"]
            .iter()
            .all(|c| crate::sshd::which(c));
    // slurmd starts jobs as their user: it runs as root.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if have && root {
        return Ok(true);
    }
    if have {
        println!("note: {test} skipped: slurmd needs root to start jobs");
        return Ok(false);
    }
    if std::env::var("BRISK_REQUIRE_SLURM").is_ok_and(|v| v == "1") {
        bail!(
            "{test}: BRISK_REQUIRE_SLURM=1 but Slurm is missing (apt-get install munge slurmctld slurmd slurm-client)"
        );
    }
    println!(
        "note: {test} skipped: no Slurm (apt-get install munge slurmctld slurmd slurm-client; set BRISK_REQUIRE_SLURM=1 to make this a failure)"
    );
    Ok(false)
}

/// A free TCP port on 127.0.0.1 (released at once; good enough for a test's daemons).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A running single-node Slurm.
pub(crate) struct Slurm {
    pub dir: tempfile::TempDir,
    conf: PathBuf,
    procs: Vec<(&'static str, Child)>,
}

impl Slurm {
    pub(crate) fn start() -> anyhow::Result<Slurm> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        for sub in ["state", "spool", "log"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        let key = d.join("munge.key");
        std::fs::copy("/etc/munge/munge.key", &key)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")?
            .trim()
            .to_string();
        let (ctld_port, d_port) = (free_port()?, free_port()?);
        let p = |s: &str| d.join(s).display().to_string();
        let conf = d.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=brisktest\n\
                 SlurmctldHost={host}(127.0.0.1)\n\
                 SlurmctldPort={ctld_port}\n\
                 SlurmdPort={d_port}\n\
                 AuthType=auth/munge\n\
                 AuthInfo=socket={sock}\n\
                 CredType=cred/munge\n\
                 SlurmUser=root\n\
                 SlurmdUser=root\n\
                 StateSaveLocation={state}\n\
                 SlurmdSpoolDir={spool}\n\
                 SlurmctldPidFile={ctldpid}\n\
                 SlurmdPidFile={dpid}\n\
                 SlurmctldLogFile={ctldlog}\n\
                 SlurmdLogFile={dlog}\n\
                 ProctrackType=proctrack/pgid\n\
                 TaskPlugin=task/none\n\
                 JobAcctGatherType=jobacct_gather/none\n\
                 AccountingStorageType=accounting_storage/none\n\
                 MpiDefault=none\n\
                 ReturnToService=2\n\
                 SchedulerType=sched/backfill\n\
                 SchedulerParameters=sched_interval=1\n\
                 SelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_CPU\n\
                 SlurmdParameters=config_overrides\n\
                 MinJobAge=120\n\
                 KillWait=5\n\
                 NodeName=brisknode NodeHostname={host} NodeAddr=127.0.0.1 CPUs=4 RealMemory=8000 State=UNKNOWN\n\
                 PartitionName=debug Nodes=brisknode Default=YES MaxTime=INFINITE State=UP\n",
                sock = p("munge.sock"),
                state = p("state"),
                spool = p("spool"),
                ctldpid = p("slurmctld.pid"),
                dpid = p("slurmd.pid"),
                ctldlog = p("log/slurmctld.log"),
                dlog = p("log/slurmd.log"),
            ),
        )?;
        let mut s = Slurm {
            dir,
            conf,
            procs: Vec::new(),
        };
        let d = s.dir.path().to_path_buf();
        let out = |name: &str| -> anyhow::Result<Stdio> {
            Ok(std::fs::File::create(d.join("log").join(name))?.into())
        };
        let munged = Command::new(DAEMONS[0])
            .args(["-F", "-f"])
            .arg(format!("--socket={}", d.join("munge.sock").display()))
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--log-file={}", d.join("log/munged.log").display()))
            .arg(format!("--pid-file={}", d.join("munged.pid").display()))
            .arg(format!("--seed-file={}", d.join("munged.seed").display()))
            .stdin(Stdio::null())
            .stdout(out("munged.out")?)
            .stderr(out("munged.err")?)
            .spawn()
            .context("starting munged")?;
        s.procs.push(("munged", munged));
        s.wait_for("munge's socket", || d.join("munge.sock").exists())?;
        let ctld = Command::new(DAEMONS[1])
            .args(["-D", "-f"])
            .arg(&s.conf)
            .stdin(Stdio::null())
            .stdout(out("slurmctld.out")?)
            .stderr(out("slurmctld.err")?)
            .spawn()
            .context("starting slurmctld")?;
        s.procs.push(("slurmctld", ctld));
        let slurmd = Command::new(DAEMONS[2])
            .args(["-D", "-N", "brisknode", "-f"])
            .arg(&s.conf)
            .stdin(Stdio::null())
            .stdout(out("slurmd.out")?)
            .stderr(out("slurmd.err")?)
            .spawn()
            .context("starting slurmd")?;
        s.procs.push(("slurmd", slurmd));
        let conf = s.conf.clone();
        s.wait_for("the node to be idle in sinfo", || {
            Command::new("sinfo")
                .env("SLURM_CONF", &conf)
                .args(["--noheader", "--format=%t"])
                .stdin(Stdio::null())
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        })?;
        Ok(s)
    }

    /// `SLURM_CONF` for the Slurm commands.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        vec![("SLURM_CONF".into(), self.conf.display().to_string())]
    }

    /// A Slurm command for this cluster.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf).stdin(Stdio::null());
        c
    }

    /// The states of every job Slurm lists (`id state name`), for assertions and messages.
    pub(crate) fn jobs(&self) -> anyhow::Result<Vec<(String, String, String)>> {
        let out = self
            .command("squeue")
            .args(["--noheader", "--states=all", "--format=%i %T %j"])
            .output()?;
        ensure!(
            out.status.success(),
            "squeue: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                Some((
                    it.next()?.to_string(),
                    it.next()?.to_string(),
                    it.next()?.to_string(),
                ))
            })
            .collect())
    }

    /// Jobs in a state that runs or will run.
    pub(crate) fn live_jobs(&self) -> anyhow::Result<usize> {
        Ok(self
            .jobs()?
            .iter()
            .filter(|j| matches!(j.1.as_str(), "PENDING" | "CONFIGURING" | "RUNNING"))
            .count())
    }

    fn wait_for(&mut self, what: &str, cond: impl Fn() -> bool) -> anyhow::Result<()> {
        let t = Instant::now();
        while !cond() {
            let mut died = None;
            for (name, c) in &mut self.procs {
                if let Ok(Some(st)) = c.try_wait() {
                    died = Some(format!("{name} exited ({st})"));
                }
            }
            if let Some(d) = died {
                bail!("{d} while waiting for {what}; {}", self.logs());
            }
            if t.elapsed() > Duration::from_secs(30) {
                bail!("{what}: not within 30 s; {}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// The tails of the daemons' logs.
    pub(crate) fn logs(&self) -> String {
        let mut s = String::new();
        for f in [
            "log/slurmctld.log",
            "log/slurmd.log",
            "log/slurmctld.err",
            "log/slurmd.err",
            "log/munged.err",
        ] {
            let text = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(8).collect();
            s.push_str(&format!("\n--- {f}:\n"));
            for l in tail.into_iter().rev() {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        // No job outlives the test: cancel what is left, then stop the daemons (newest first).
        let _ = self
            .command("scancel")
            .args(["--me"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for (_, c) in self.procs.iter_mut().rev() {
            let pid = c.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
