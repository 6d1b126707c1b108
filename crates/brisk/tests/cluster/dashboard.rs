//! The live dashboard of a real cluster (a `brisk scheduler` process and two worker processes
//! on 127.0.0.1): its JSON API and metrics, the page in headless Chromium while a computation
//! runs (screenshots under `target/`), and a performance report of a distributed computation.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use brisk::{Arg, Graph, Key, Task, Value};

use crate::{DASHBOARD, connect, f, http_get, start_scheduler, start_self_worker};

/// A graph that keeps two single-threaded workers busy for a few seconds: `n` slow loads,
/// a pairwise `add` of each with its neighbour, and a tree of sums.
fn busy_graph(n: usize) -> (Graph, Key) {
    let mut g = Graph::new();
    for i in 0..n {
        g.insert(
            ("load", i),
            Task::new(f("slow_inc"), vec![Arg::Literal(Value::from(i as i64))]),
        )
        .unwrap();
    }
    for i in 0..n {
        g.insert(
            ("pair", i),
            Task::new(
                f("add"),
                vec![
                    Arg::Key(Key::from(("load", i))),
                    Arg::Key(Key::from(("load", (i + 1) % n))),
                ],
            ),
        )
        .unwrap();
    }
    let mut level: Vec<Key> = (0..n).map(|i| Key::from(("pair", i))).collect();
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        level = level
            .chunks(8)
            .enumerate()
            .map(|(i, c)| {
                let k = Key::from((&*format!("total-{depth}"), i));
                let args = vec![Arg::List(c.iter().map(|k| Arg::Key(k.clone())).collect())];
                g.insert(k.clone(), Task::new(f("sum"), args)).unwrap();
                k
            })
            .collect();
    }
    (g, level[0].clone())
}

fn node_path() -> Option<String> {
    std::env::var("BRISK_NODE_PATH").ok().or_else(|| {
        let p =
            PathBuf::from(std::env::var("HOME").ok()?).join(".cache/brisk-browser/node_modules");
        p.exists().then(|| p.display().to_string())
    })
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn api(base: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let text = http_get(format!("{base}{path}"))?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).with_context(|| format!("{path}: {text}"))
}

pub(crate) fn dashboard_of_a_real_cluster() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&["--dashboard-port", "0"])?;
    let base = DASHBOARD
        .with(|d| d.borrow().clone())
        .context("the scheduler file names the dashboard")?;
    let _w1 = start_self_worker(&address, "alpha", None)?;
    let _w2 = start_self_worker(&address, "beta", None)?;
    let client = connect(&address, None)?;
    client.wait_for_workers(2, Duration::from_secs(20))?;
    ensure!(
        client.dashboard_link() == Some(format!("{base}/status")),
        "dashboard_link {:?} vs {base}",
        client.dashboard_link()
    );

    let n = 800;
    let (g, root) = busy_graph(n);
    let waiting = root.to_string();
    let started = Instant::now();
    let fut = client.submit_graph(&g, &[root], false)?;

    // The JSON API and the metrics while it runs.
    let t = Instant::now();
    loop {
        let snap = api(&base, "/api/snapshot")?;
        let workers = snap["workers"].as_array().map_or(0, Vec::len);
        let done = snap["totals"]["completed"].as_u64().unwrap_or(0);
        let prefixes: Vec<&str> = snap["prefixes"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["prefix"].as_str()).collect())
            .unwrap_or_default();
        if workers == 2 && done > 10 && prefixes.contains(&"load") && prefixes.contains(&"pair") {
            ensure!(
                snap["stream"].as_array().is_some_and(|s| !s.is_empty()),
                "no task spans: {snap}"
            );
            break;
        }
        ensure!(t.elapsed() < Duration::from_secs(30), "no progress: {snap}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = http_get(format!("{base}/metrics"))?;
    ensure!(metrics.contains("\nbrisk_workers 2\n"), "{metrics}");
    ensure!(
        metrics.contains("brisk_prefix_tasks{prefix=\"load\",state=\"waiting\"}"),
        "{metrics}"
    );
    // Why does the final sum wait?
    let detail = api(&base, &format!("/api/task?key={}", url_encode(&waiting)))?;
    ensure!(detail["key"] == waiting.as_str(), "{detail}");
    ensure!(detail["state"] == "waiting", "{detail}");
    let explanation = detail["explanation"].as_str().unwrap_or("");
    ensure!(
        explanation.starts_with("Waiting for") && explanation.contains("('total-"),
        "{detail}"
    );

    // The page in a real browser, while the computation runs.
    let required = std::env::var("BRISK_REQUIRE_BROWSER").is_ok();
    let chromium = std::env::var("BRISK_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    match (node_path(), PathBuf::from(&chromium).exists()) {
        (Some(node_path), true) => {
            let target = manifest_dir().join("../../target");
            std::fs::create_dir_all(&target)?;
            let script = manifest_dir().join("tests/cluster/check_dashboard.mjs");
            let out = Command::new("node")
                .arg(&script)
                .arg(format!("{base}/status"))
                .arg(&target)
                .arg("2")
                .arg(&waiting)
                .env("NODE_PATH", &node_path)
                .env("BRISK_CHROMIUM", &chromium)
                .output()
                .context("running node")?;
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            ensure!(out.status.success(), "the browser check failed: {text}");
            ensure!(
                text.contains("OK workers=2 names=alpha,beta"),
                "the browser check: {text}"
            );
            ensure!(
                target.join("dashboard-status-cluster.png").exists(),
                "no screenshot"
            );
            println!("{}", text.trim());
        }
        _ => {
            ensure!(
                !required,
                "BRISK_REQUIRE_BROWSER is set but chromium or playwright-core is missing"
            );
            println!(
                "browser part skipped: no chromium or playwright-core (.ci/setup.d/20-browser.sh)"
            );
        }
    }

    let v = fut[0].result()?;
    let want: i64 = (0..n as i64)
        .map(|i| (i + 1) + ((i + 1) % n as i64 + 1))
        .sum();
    ensure!(v.get::<i64>()? == want, "the sum");
    println!(
        "the computation took {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The worker table's numbers come from the workers' heartbeats.
    std::thread::sleep(Duration::from_millis(700));
    let snap = api(&base, "/api/snapshot")?;
    let rows = snap["workers"].as_array().context("workers")?;
    for w in rows {
        ensure!(w["nthreads"] == 1, "{w}");
        ensure!(
            w["memory_unmanaged"].as_u64().unwrap_or(0) > 1 << 20,
            "rss: {w}"
        );
        ensure!(
            w["bytes_in"].as_u64().unwrap_or(0) > 0,
            "a pair fetched a load: {w}"
        );
        ensure!(w["bytes_out"].as_u64().unwrap_or(0) > 0, "{w}");
    }
    Ok(())
}

pub(crate) fn performance_report_of_a_cluster() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&["--dashboard-port", "0"])?;
    let _w1 = start_self_worker(&address, "alpha", None)?;
    let _w2 = start_self_worker(&address, "beta", None)?;
    let client = connect(&address, None)?;
    client.wait_for_workers(2, Duration::from_secs(20))?;
    client.set_as_default();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("report.html");
    let (g, root) = busy_graph(40);
    let v = brisk::diagnostics::performance_report(&path, || {
        brisk::Scheduler::get(
            &client,
            &g,
            std::slice::from_ref(&root),
            &Default::default(),
        )
    })??;
    client.close();
    ensure!(v[0].get::<i64>()? > 0);
    let html = std::fs::read_to_string(&path)?;
    let data = html
        .split("window.BRISK_REPORT = ")
        .nth(1)
        .and_then(|s| s.split(";</script>").next())
        .context("report data")?;
    let report: serde_json::Value = serde_json::from_str(data)?;
    let spans = report["spans"].as_array().context("spans")?;
    ensure!(
        spans.len() == g.len(),
        "{} spans for {} tasks",
        spans.len(),
        g.len()
    );
    let workers: std::collections::BTreeSet<&str> =
        spans.iter().filter_map(|s| s["worker"].as_str()).collect();
    ensure!(
        workers == ["alpha", "beta"].into_iter().collect(),
        "{workers:?}"
    );
    let prefixes: Vec<&str> = report["profile"]
        .as_array()
        .context("profile")?
        .iter()
        .filter_map(|p| p["prefix"].as_str())
        .collect();
    ensure!(
        prefixes.first() == Some(&"load"),
        "slow loads take the most time: {prefixes:?}"
    );
    // Each slow load sleeps 20 ms on its worker.
    let load_total = report["profile"][0]["total"].as_f64().unwrap_or(0.0);
    ensure!(load_total >= 40.0 * 0.019, "load time {load_total}");
    let meta = report["metadata"].to_string();
    ensure!(
        meta.contains(&address) && meta.contains("tasks run on the cluster"),
        "{meta}"
    );
    Ok(())
}

/// This package's folder, as cargo gives it when running the test (the compile-time one may be
/// another checkout's: a shared target directory reuses test binaries across checkouts).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}
