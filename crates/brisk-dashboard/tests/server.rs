//! The dashboard's HTTP server over a fake source, on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use brisk_dashboard::server::Running;
use brisk_dashboard::*;

/// A source whose task stream grows by one span per snapshot.
#[derive(Default)]
struct Fake {
    calls: AtomicU64,
}

impl Source for Fake {
    fn snapshot(&self, since: u64) -> Snapshot {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let stream = (since.min(n)..n)
            .map(|i| TaskSpan {
                key: format!("('inc-ab', {i})"),
                prefix: "inc".into(),
                worker: "w1".into(),
                thread: 0,
                start: i as f64,
                stop: i as f64 + 0.5,
                ok: true,
            })
            .collect();
        Snapshot {
            time: n as f64,
            cursor: n,
            workers: vec![
                WorkerRow {
                    name: "w1".into(),
                    nthreads: 1,
                    ..Default::default()
                },
                WorkerRow {
                    name: "w2".into(),
                    nthreads: 1,
                    ..Default::default()
                },
            ],
            prefixes: vec![PrefixRow {
                prefix: "inc".into(),
                waiting: 5,
                memory: n,
                done: n,
                ..Default::default()
            }],
            stream,
            totals: Totals {
                completed: n,
                ..Default::default()
            },
        }
    }
    fn task(&self, key: &str) -> Option<TaskDetail> {
        (key == "x").then(|| TaskDetail {
            key: "x".into(),
            state: "waiting".into(),
            explanation: "x waits for y, which is running on w2".into(),
            ..Default::default()
        })
    }
    fn graph(&self, _max: usize) -> GraphView {
        GraphView {
            nodes: vec![
                GraphNode {
                    key: "y".into(),
                    prefix: "y".into(),
                    state: "processing".into(),
                },
                GraphNode {
                    key: "x".into(),
                    prefix: "x".into(),
                    state: "waiting".into(),
                },
            ],
            edges: vec![(0, 1)],
            truncated: false,
        }
    }
}

fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn pages_api_and_metrics() {
    let dash = Running::start(
        "127.0.0.1:0",
        Arc::new(Fake::default()),
        Duration::from_millis(50),
    )
    .unwrap();
    let addr = dash.addr();
    assert!(dash.link().starts_with("http://127.0.0.1:"));
    let (code, body) = get(addr, "/status");
    assert_eq!(code, 200);
    assert!(body.contains("<canvas id=\"stream\">") && body.contains("/static/app.js"));
    let (code, body) = get(addr, "/static/uPlot.iife.min.js");
    assert_eq!(code, 200);
    assert!(body.len() > 40_000);
    assert_eq!(get(addr, "/static/nope.js").0, 404);
    let (code, body) = get(addr, "/api/snapshot");
    assert_eq!(code, 200);
    let snap: Snapshot = serde_json::from_str(&body).unwrap();
    assert_eq!(snap.workers.len(), 2);
    let (code, body) = get(addr, "/metrics");
    assert_eq!(code, 200);
    assert!(body.contains("brisk_workers 2"), "{body}");
    assert!(body.contains("brisk_tasks{state=\"waiting\"} 5"), "{body}");
    let (code, body) = get(addr, "/api/task?key=x");
    assert_eq!(code, 200);
    assert!(body.contains("which is running on w2"));
    assert_eq!(get(addr, "/api/task?key=unknown").0, 404);
    let (code, body) = get(addr, "/api/graph?max=10");
    assert_eq!(code, 200);
    let g: GraphView = serde_json::from_str(&body).unwrap();
    assert_eq!(g.edges, vec![(0, 1)]);
    assert_eq!(get(addr, "/task?key=x").0, 200);
    assert_eq!(get(addr, "/graph").0, 200);
}

#[test]
fn events_push_snapshots_with_only_new_spans() {
    let dash = Running::start(
        "127.0.0.1:0",
        Arc::new(Fake::default()),
        Duration::from_millis(20),
    )
    .unwrap();
    let mut s = TcpStream::connect(dash.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut snaps: Vec<Snapshot> = Vec::new();
    let mut line = String::new();
    while snaps.len() < 4 {
        line.clear();
        r.read_line(&mut line).unwrap();
        if let Some(json) = line.trim_end().strip_prefix("data: ") {
            snaps.push(serde_json::from_str(json).unwrap());
        }
    }
    for w in snaps.windows(2) {
        assert!(w[1].cursor > w[0].cursor);
        assert!(
            w[1].stream.iter().all(|s| s.start >= w[0].cursor as f64),
            "only new spans"
        );
    }
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let first = Running::start(
        "127.0.0.1:0",
        Arc::new(Fake::default()),
        Duration::from_millis(50),
    )
    .unwrap();
    let taken = first.addr().to_string();
    let err = Running::start(&taken, Arc::new(Fake::default()), Duration::from_millis(50))
        .err()
        .unwrap();
    assert!(err.to_string().contains(&taken), "{err}");
}

#[test]
fn reports_are_written_or_say_where_they_could_not_be() {
    let dir = tempfile::tempdir().unwrap();
    let r = Report::from_spans("t", vec![], vec![]);
    r.write(dir.path().join("r.html")).unwrap();
    assert!(
        std::fs::read_to_string(dir.path().join("r.html"))
            .unwrap()
            .contains("BRISK_REPORT")
    );
    let err = r.write(dir.path().join("missing/r.html")).unwrap_err();
    assert!(err.to_string().contains("missing/r.html"), "{err}");
}
