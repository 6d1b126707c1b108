//! Throwaway SSH servers for the tests: Debian's `openssh-server` started on 127.0.0.1 with a
//! host key and a user key made in a temporary directory, one `sshd -D` per "host" (each on
//! its own port), stopped by PID when dropped.
//!
//! No sshd: the SSH tests are skipped with a note, unless `BRISK_REQUIRE_SSHD=1` (set by
//! `.ci/setup.d/25-sshd.sh`), which makes its absence a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

const SSHD: &str = "/usr/sbin/sshd";

/// Whether the SSH tests can run; `Ok(false)`: skip (with a note printed).
pub(crate) fn available(test: &str) -> anyhow::Result<bool> {
    let have = Path::new(SSHD).exists() && which("ssh") && which("ssh-keygen");
    if have {
        return Ok(true);
    }
    if std::env::var("BRISK_REQUIRE_SSHD").is_ok_and(|v| v == "1") {
        bail!(
            "{test}: BRISK_REQUIRE_SSHD=1 but {SSHD}, ssh or ssh-keygen is missing (apt-get install openssh-server openssh-client)"
        );
    }
    println!(
        "note: {test} skipped: no {SSHD} (apt-get install openssh-server; set BRISK_REQUIRE_SSHD=1 to make this a failure)"
    );
    Ok(false)
}

pub(crate) fn which(p: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {p}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Keys and a directory shared by the servers of one test.
pub(crate) struct Keys {
    pub dir: tempfile::TempDir,
    pub user_key: PathBuf,
}

impl Keys {
    pub(crate) fn new() -> anyhow::Result<Keys> {
        let dir = tempfile::tempdir()?;
        for k in ["host_key", "user_key"] {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.path().join(k))
                .stdin(Stdio::null())
                .status()?;
            ensure!(st.success(), "ssh-keygen failed for {k}");
        }
        std::fs::copy(
            dir.path().join("user_key.pub"),
            dir.path().join("authorized_keys"),
        )?;
        let user_key = dir.path().join("user_key");
        Ok(Keys { dir, user_key })
    }

    /// The `ssh -o` options a client of these servers needs.
    pub(crate) fn client_options(&self) -> Vec<String> {
        [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "GlobalKnownHostsFile=/dev/null",
            "IdentitiesOnly=yes",
            "LogLevel=ERROR",
        ]
        .map(String::from)
        .to_vec()
    }
}

/// One sshd on 127.0.0.1:port.
pub(crate) struct Sshd {
    child: Child,
    pub port: u16,
}

impl Sshd {
    pub(crate) fn start(keys: &Keys, name: &str) -> anyhow::Result<Sshd> {
        // The privilege-separation directory Debian's sshd insists on when run as root (as a
        // plain user it cannot be made, and sshd then serves only that user without it).
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port()?;
        let d = keys.dir.path();
        let config = d.join(format!("sshd_config_{name}"));
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n\
                 UsePAM no\nPidFile none\nLogLevel ERROR\nMaxStartups 100\nMaxSessions 100\n",
                d.join("host_key").display(),
                d.join("authorized_keys").display()
            ),
        )?;
        let mut child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .spawn()
            .context("starting sshd")?;
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = child.try_wait()? {
                bail!("sshd {name} exited at start ({st}); see its log above");
            }
            ensure!(
                t.elapsed() < Duration::from_secs(10),
                "sshd {name} did not listen on 127.0.0.1:{port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Sshd { child, port })
    }

    pub(crate) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Stopped by its PID (SIGTERM, then SIGKILL after a bounded wait).
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
