//! A real S3-compatible server for tests: `moto` from PyPI, started on 127.0.0.1 with a free
//! port and stopped (by its PID) when the [`MotoServer`] is dropped.
//!
//! The server enforces credentials (moto's IAM emulation, `INITIAL_NO_AUTH_ACTION_COUNT`): a
//! setup script creates an IAM user with an access key allowed to do anything on S3, then makes
//! the requested buckets with that key. Requests signed with any other key are rejected, so
//! tests can check what bad credentials look like.
//!
//! The interpreter comes from `BRISK_PYTHON` (falling back to
//! `$HOME/.cache/brisk-test-venv/bin/python`) and needs `moto[server]` (see
//! `.ci/requirements-test.txt`). Without it, [`MotoServer::start`] returns `None` after
//! printing a note, unless `BRISK_REQUIRE_PYTHON=1`, where it panics.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct MotoServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// An access key id the server accepts.
    pub key_id: String,
    /// Its secret.
    pub secret: String,
    log: PathBuf,
}

/// The reference Python interpreter, or `None` (after a note) when it is optional and absent.
pub fn python() -> Option<String> {
    let required = std::env::var("BRISK_REQUIRE_PYTHON").as_deref() == Ok("1");
    let candidate = std::env::var("BRISK_PYTHON").ok().or_else(|| {
        let home = std::env::var("HOME").ok()?;
        Some(format!("{home}/.cache/brisk-test-venv/bin/python"))
    });
    match candidate {
        Some(p) if std::path::Path::new(&p).exists() || p == "python3" => Some(p),
        _ if required => panic!("BRISK_REQUIRE_PYTHON=1 but no Python interpreter was found"),
        _ => {
            eprintln!("note: no reference Python interpreter (set BRISK_PYTHON); skipping");
            None
        }
    }
}

/// Whether `python` can import `module`.
pub fn python_has(python: &str, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

const SETUP: &str = r#"
import json, sys, boto3
endpoint, buckets = sys.argv[1], sys.argv[2:]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="brisk")
key = iam.create_access_key(UserName="brisk")["AccessKey"]
iam.put_user_policy(UserName="brisk", PolicyName="all-s3", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=key["AccessKeyId"],
                  aws_secret_access_key=key["SecretAccessKey"])
for b in buckets:
    s3.create_bucket(Bucket=b)
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;

impl MotoServer {
    /// Start a server with these buckets. `None` when no interpreter with moto is available
    /// and `BRISK_REQUIRE_PYTHON` is not `1`.
    pub fn start(buckets: &[&str]) -> Option<MotoServer> {
        let python = python()?;
        if !python_has(&python, "moto.server") || !python_has(&python, "boto3") {
            if std::env::var("BRISK_REQUIRE_PYTHON").as_deref() == Ok("1") {
                panic!("{python} lacks moto[server]; run `source .ci/python-venv.sh`");
            }
            eprintln!("note: {python} lacks moto[server]; skipping the S3 tests");
            return None;
        }
        let port = free_port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("brisk-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).ok();
        let (out, err) = match log_file
            .as_ref()
            .and_then(|f| Some((f.try_clone().ok()?, f.try_clone().ok()?)))
        {
            Some((o, e)) => (Stdio::from(o), Stdio::from(e)),
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(&python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            // The IAM user setup (3 calls) runs unauthenticated; everything after it is checked.
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto_server with {python}: {e}"));
        let mut server = MotoServer {
            child,
            endpoint,
            key_id: String::new(),
            secret: String::new(),
            log,
        };
        server.wait_ready();
        let mut args = vec![server.endpoint.as_str()];
        args.extend(buckets);
        let out = crate::run_setup(&python, SETUP, &args, "moto", || {
            format!("\nserver log: {}", server.log_text())
        });
        let line = out.trim().to_string();
        let mut parts = line.split_whitespace();
        server.key_id = parts.next().unwrap_or_default().to_string();
        server.secret = parts.next().unwrap_or_default().to_string();
        assert!(!server.secret.is_empty(), "moto setup printed {line:?}");
        Some(server)
    }

    fn wait_ready(&mut self) {
        let addr = self.endpoint.trim_start_matches("http://").to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited with {status}: {}", self.log_text());
            }
            if let Ok(mut s) = TcpStream::connect(&addr) {
                use std::io::Write;
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let req = format!("GET /moto-api/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
                if s.write_all(req.as_bytes()).is_ok() {
                    let mut first = String::new();
                    if BufReader::new(&mut s).read_line(&mut first).is_ok()
                        && first.starts_with("HTTP/")
                    {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "moto_server did not answer within 30 s: {}",
            self.log_text()
        );
    }

    /// The server's log so far (for failure messages).
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
