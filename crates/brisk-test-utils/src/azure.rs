//! A real Azure Blob Storage server for tests: Azurite (Microsoft's emulator, from npm), started
//! on 127.0.0.1 with a free port and a fresh data folder, and stopped (by its PID) when the
//! [`Azurite`] is dropped.
//!
//! Azurite checks Shared Key signatures with its well-known development account
//! ([`ACCOUNT`], [`KEY`]); containers are made by a Python setup script with
//! `azure-storage-blob` (see `.ci/requirements-test.txt`), as the S3 tests make buckets with
//! boto3. The executable comes from `BRISK_AZURITE` (falling back to
//! `$HOME/.cache/brisk-test-node/node_modules/.bin/azurite-blob`, where
//! `.ci/setup.d/30-azurite.sh` installs it). Without it, [`Azurite::start`] returns `None` after
//! a note, unless `BRISK_REQUIRE_AZURITE=1`, where it panics.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::s3::{free_port, python, python_has};

/// Azurite's development account name.
pub const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's development account key (public, documented by Microsoft).
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const SETUP: &str = r#"
import sys
from azure.storage.blob import BlobServiceClient
endpoint, account, key, containers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
conn = (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
        f"BlobEndpoint={endpoint};")
client = BlobServiceClient.from_connection_string(conn)
for c in containers:
    client.create_container(c)
print("ok")
"#;

/// A running Azurite blob server.
pub struct Azurite {
    child: Child,
    /// `http://127.0.0.1:PORT/devstoreaccount1`: the account's blob endpoint.
    pub endpoint: String,
    data: PathBuf,
}

fn required() -> bool {
    std::env::var("BRISK_REQUIRE_AZURITE").as_deref() == Ok("1")
}

fn skip(why: &str) -> Option<Azurite> {
    if required() {
        panic!("BRISK_REQUIRE_AZURITE=1 but {why}");
    }
    eprintln!("note: {why}; skipping the Azure tests");
    None
}

impl Azurite {
    /// Start a server with these containers. `None` when Azurite or the Python setup is not
    /// available and `BRISK_REQUIRE_AZURITE` is not `1`.
    pub fn start(containers: &[&str]) -> Option<Azurite> {
        let exe = std::env::var("BRISK_AZURITE").ok().or_else(|| {
            let home = std::env::var("HOME").ok()?;
            Some(format!(
                "{home}/.cache/brisk-test-node/node_modules/.bin/azurite-blob"
            ))
        });
        let Some(exe) = exe.filter(|e| std::path::Path::new(e).exists()) else {
            return skip("no azurite-blob (set BRISK_AZURITE)");
        };
        let Some(python) = python() else {
            return skip("no Python for the container setup");
        };
        if !python_has(&python, "azure.storage.blob") {
            return skip(&format!("{python} lacks azure-storage-blob"));
        }
        let port = free_port();
        let data = std::env::temp_dir().join(format!("brisk-azurite-{port}"));
        let _ = std::fs::create_dir_all(&data);
        let child = Command::new(&exe)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(&data)
            .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
        let mut server = Azurite {
            child,
            endpoint: format!("http://127.0.0.1:{port}/{ACCOUNT}"),
            data,
        };
        server.wait_ready(port);
        let mut args = vec![server.endpoint.as_str(), ACCOUNT, KEY];
        args.extend(containers);
        crate::run_setup(&python, SETUP, &args, "Azurite", String::new);
        Some(server)
    }

    fn wait_ready(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("azurite-blob exited with {status}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("azurite-blob did not listen on port {port} within 30 s");
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
