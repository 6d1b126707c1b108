//! `brisk kubernetes manifests`: no Kubernetes cluster can run on these machines, so the
//! manifests are checked offline — against the Kubernetes API's schemas with
//! `kubernetes-validate --strict` (the test venv's), read back by PyYAML into exactly the
//! objects Brisk meant — and the worker container's command is run for real against a local
//! cluster (pod address and port mapped to 127.0.0.1): it joins under the pod's name on its
//! fixed peer port, shrugs off a TCP liveness probe, and retires on SIGTERM.
//!
//! No test venv: the offline checks skip with a note unless `BRISK_REQUIRE_PYTHON=1`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use brisk::Client;
use brisk::deploy::Cluster;
use brisk::deploy::kubernetes::{KubernetesOptions, objects};

fn python() -> Option<PathBuf> {
    let p = std::env::var("BRISK_PYTHON")
        .ok()
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var("HOME").ok()?;
            Some(PathBuf::from(home).join(".cache/brisk-test-venv/bin/python"))
        })?;
    p.exists().then_some(p)
}

/// The venv's Python with PyYAML and kubernetes-validate, or a skip (or failure when required).
fn validator(test: &str) -> anyhow::Result<Option<PathBuf>> {
    if let Some(p) = python() {
        let ok = Command::new(&p)
            .args(["-c", "import yaml, kubernetes_validate"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(Some(p));
        }
    }
    if std::env::var("BRISK_REQUIRE_PYTHON").is_ok_and(|v| v == "1") {
        bail!(
            "{test}: BRISK_REQUIRE_PYTHON=1 but the test venv lacks kubernetes-validate (re-source .ci/python-venv.sh)"
        );
    }
    println!("note: {test}: offline checks skipped: no kubernetes-validate in the test venv");
    Ok(None)
}

pub(crate) fn kubernetes_manifests_validate_offline() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("brisk.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_brisk"))
        .args([
            "kubernetes",
            "manifests",
            "--image",
            "registry.example/brisk:1.0",
        ])
        .args(["--namespace", "science", "--workers", "3", "--cores", "2"])
        .args(["--memory", "4GB", "-o"])
        .arg(&file)
        .output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)?.permissions().mode() & 0o777;
        ensure!(
            mode == 0o600,
            "the manifests hold the token but are mode {mode:o}"
        );
    }
    let text = std::fs::read_to_string(&file)?;
    // Bad options are errors naming them, before anything is written.
    let bad = Command::new(env!("CARGO_BIN_EXE_brisk"))
        .args([
            "kubernetes",
            "manifests",
            "--image",
            "x",
            "--name",
            "Not_A_Name",
        ])
        .output()?;
    let err = String::from_utf8_lossy(&bad.stderr);
    ensure!(
        !bad.status.success() && err.contains("invalid name"),
        "{err}"
    );

    let Some(py) = validator("kubernetes_manifests_validate_offline")? else {
        return Ok(());
    };
    let v = Command::new(&py)
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--kubernetes-version",
            "1.30.0",
        ])
        .arg(&file)
        .output()?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    ensure!(
        v.status.success() && !report.contains("ERROR"),
        "kubernetes-validate: {report}\n{text}"
    );
    // Read back: the same objects as the library builds for the same options (the token
    // aside, which is fresh each time).
    let read = Command::new(&py)
        .args(["-c", "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))"])
        .arg(&file)
        .output()?;
    ensure!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let mut back: serde_json::Value = serde_json::from_slice(&read.stdout)?;
    let mut o = KubernetesOptions::new("registry.example/brisk:1.0");
    o.namespace = Some("science".into());
    o.workers = 3;
    o.cores = 2;
    o.memory = "4GB".into();
    o.token = back[0]["stringData"]["token"].as_str().map(str::to_string);
    let want = serde_json::Value::Array(objects(&o)?);
    ensure!(
        back == want,
        "PyYAML read {back:#}\nbut Brisk meant {want:#}"
    );
    back[0]["stringData"]["token"].take();
    Ok(())
}

pub(crate) fn kubernetes_worker_command_runs() -> anyhow::Result<()> {
    let cluster = brisk::deploy::LocalCluster::start(crate::local_options(1))?;
    let client = Client::new(&cluster)?;
    let token = cluster.security().token.context("a token")?;
    let o = KubernetesOptions::new("img");
    let docs = objects(&o)?;
    let container = &docs[3]["spec"]["template"]["spec"]["containers"][0];
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    // The pod's world mapped onto this machine: the Service's address to the local
    // scheduler, the pod's IP and every interface to 127.0.0.1, the fixed port to a free one.
    let argv: Vec<String> = container["command"]
        .as_array()
        .context("command")?
        .iter()
        .filter_map(|a| a.as_str())
        .map(|a| match a {
            "tcp://brisk-scheduler:8786" => cluster.scheduler_address(),
            "$(POD_IP)" | "0.0.0.0" => "127.0.0.1".into(),
            "$(POD_NAME)" => "brisk-worker-7d9f-abcde".into(),
            "8788" => port.to_string(),
            other => other.into(),
        })
        .collect();
    ensure!(argv[0] == "brisk" && argv[1] == "worker", "{argv:?}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_brisk"))
        .args(&argv[1..])
        .env("BRISK_TOKEN", &token)
        .stdin(Stdio::null())
        .spawn()?;
    let r = (|| -> anyhow::Result<()> {
        let info = crate::wait_info(
            &client,
            "the pod's worker joining",
            Duration::from_secs(30),
            |i| {
                i.workers
                    .iter()
                    .any(|w| w.name == "brisk-worker-7d9f-abcde")
            },
        )?;
        let w = info
            .workers
            .iter()
            .find(|w| w.name == "brisk-worker-7d9f-abcde")
            .context("joined")?;
        ensure!(
            w.address == format!("tcp://127.0.0.1:{port}"),
            "{}",
            w.address
        );
        ensure!(w.nthreads == 1 && w.memory_limit == 2_000_000_000, "{w:?}");
        // The liveness probe: a TCP connection opened and closed.
        for _ in 0..3 {
            drop(std::net::TcpStream::connect(("127.0.0.1", port))?);
        }
        let f = client.submit(crate::stock::inc, (41i64,))?;
        ensure!(f.result()? == 42);
        ensure!(child.try_wait()?.is_none(), "the probe stopped the worker");
        Ok(())
    })();
    // Pod termination: SIGTERM, the worker retires and exits by itself.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    r?;
    ensure!(status.is_some_and(|s| s.success()), "SIGTERM: {status:?}");
    let info = client.scheduler_info()?;
    ensure!(
        info.workers_lost == 0 && info.workers_retired >= 1,
        "{info:?}"
    );
    client.close();
    cluster.close()?;
    Ok(())
}
