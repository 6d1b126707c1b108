//! The status page in a real headless Chromium, fed by a fake source that keeps changing.
//! Needs Debian's chromium and playwright-core (`.ci/setup.d/20-browser.sh` installs both and
//! sets BRISK_REQUIRE_BROWSER=1, which turns a missing browser into a failure).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brisk_dashboard::server::Running;
use brisk_dashboard::*;

struct Moving {
    start: Instant,
    cursor: AtomicU64,
}

impl Source for Moving {
    fn snapshot(&self, since: u64) -> Snapshot {
        let t = self.start.elapsed().as_secs_f64();
        let n = (t * 200.0) as u64;
        self.cursor.store(n, Ordering::SeqCst);
        let stream = (since.min(n)..n)
            .map(|i| TaskSpan {
                key: format!("('inc-00', {i})"),
                prefix: if i % 3 == 0 {
                    "inc".into()
                } else {
                    "add".into()
                },
                worker: format!("w{}", i % 2 + 1),
                thread: 0,
                start: i as f64 / 200.0,
                stop: i as f64 / 200.0 + 0.004,
                ok: true,
            })
            .collect();
        Snapshot {
            time: t,
            cursor: n,
            workers: (1..=2)
                .map(|w| WorkerRow {
                    name: format!("w{w}"),
                    address: format!("tcp://127.0.0.1:{}", 40000 + w),
                    nthreads: 1,
                    memory_managed: n * 1000,
                    memory_limit: 10_000_000,
                    running: 1,
                    status: "running".into(),
                    ..Default::default()
                })
                .collect(),
            prefixes: vec![PrefixRow {
                prefix: "inc".into(),
                waiting: 10_000 - n.min(10_000),
                memory: 5,
                done: n,
                ..Default::default()
            }],
            stream,
            totals: Totals {
                completed: n,
                tasks_per_second: 200.0,
                ..Default::default()
            },
        }
    }
    fn task(&self, _: &str) -> Option<TaskDetail> {
        None
    }
    fn graph(&self, _: usize) -> GraphView {
        GraphView::default()
    }
}

fn node_path() -> Option<String> {
    std::env::var("BRISK_NODE_PATH").ok().or_else(|| {
        let p =
            PathBuf::from(std::env::var("HOME").ok()?).join(".cache/brisk-browser/node_modules");
        p.exists().then(|| p.display().to_string())
    })
}

#[test]
fn the_status_page_updates_live_in_chromium() {
    let required = std::env::var("BRISK_REQUIRE_BROWSER").is_ok();
    let chromium = std::env::var("BRISK_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let (Some(node_path), true) = (node_path(), PathBuf::from(&chromium).exists()) else {
        assert!(
            !required,
            "BRISK_REQUIRE_BROWSER is set but chromium or playwright-core is missing"
        );
        eprintln!("skipped: no chromium or playwright-core (run .ci/setup.d/20-browser.sh)");
        return;
    };
    let dash = Running::start(
        "127.0.0.1:0",
        Arc::new(Moving {
            start: Instant::now(),
            cursor: AtomicU64::new(0),
        }),
        Duration::from_millis(200),
    )
    .unwrap();
    let target = manifest_dir().join("../../target");
    std::fs::create_dir_all(&target).unwrap();
    let shot = target.join("dashboard-status-fake.png");
    let script = manifest_dir().join("tests/browser/check_status.mjs");
    let out = Command::new("node")
        .arg(&script)
        .arg(dash.link())
        .arg(&shot)
        .arg("2")
        .env("NODE_PATH", &node_path)
        .env("BRISK_CHROMIUM", &chromium)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK workers=2"), "{text}");
    assert!(shot.exists());
}

/// This package's folder, as cargo gives it when running the test (the compile-time one may be
/// another checkout's: a shared target directory reuses test binaries across checkouts).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}
