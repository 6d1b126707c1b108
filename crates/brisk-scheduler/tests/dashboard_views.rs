//! What the dashboard reads from the state machine: progress per prefix, the task stream on
//! the scheduler's clock, why a task waits, the graph, and task-stream recordings for reports.

use std::time::{Duration, Instant};

use brisk_core::Key;
use brisk_protocol::messages::{
    FromClient, FromWorker, NewTask, TaskTiming, WorkerMetrics, WorkerRegistration,
};
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{ClientId, WorkerId};
use brisk_scheduler::{SchedulerConfig, SchedulerState, parse_key};

mod common;

use common::{Rec, task};

fn reg(name: &str, clock_us: u64) -> WorkerRegistration {
    common::registration(name, 1, clock_us)
}

fn ran(key: &Key, nbytes: u64, start_us: u64, stop_us: u64) -> FromWorker {
    common::finished_at(key, nbytes, start_us, stop_us)
}

/// Worker 1's clock reads 1 s when the scheduler's reads 0; worker 2's reads 5 s.
fn setup(config: SchedulerConfig) -> (SchedulerState, Rec, Instant) {
    let mut s = SchedulerState::new(config);
    let mut c = Rec::default();
    let t0 = Instant::now();
    s.set_epoch(t0);
    s.add_worker(1, reg("alice", 1_000_000), t0, &mut c);
    s.add_worker(2, reg("bob", 5_000_000), t0, &mut c);
    s.add_client(7, &mut c);
    c.to_workers.clear();
    c.to_clients.clear();
    (s, c, t0)
}

#[test]
fn progress_spans_and_explanations_follow_the_computation() {
    let (mut s, mut c, t0) = setup(SchedulerConfig::default());
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![
                task("load-1", &[], 0),
                task("load-2", &[], 1),
                task("join", &["load-1", "load-2"], 2),
            ],
            wanted: vec!["join".into()],
        },
        &mut c,
    );
    let rows = s.prefix_rows();
    let load = rows.iter().find(|r| r.prefix == "load").expect("load row");
    let join = rows.iter().find(|r| r.prefix == "join").expect("join row");
    assert_eq!((load.processing, load.waiting), (2, 0), "{rows:?}");
    assert_eq!((join.waiting, join.processing, join.done), (1, 0, 0));
    let sent = c.computes();
    let on = |k: &str| sent.iter().find(|(_, x)| *x == Key::from(k)).map(|x| x.0);
    let (w1, w2) = (on("load-1").expect("sent"), on("load-2").expect("sent"));
    let name = |w: WorkerId| if w == 1 { "alice" } else { "bob" };

    // Why does join wait? Both inputs run, each on its worker.
    let d = s.task_detail("join").expect("known");
    assert_eq!(d.state, "waiting");
    assert!(
        d.explanation.starts_with("Waiting for 2 of its 2 inputs")
            && d.explanation
                .contains(&format!("load-1 (running on {})", name(w1)))
            && d.explanation
                .contains(&format!("load-2 (running on {})", name(w2))),
        "{}",
        d.explanation
    );
    assert_eq!(d.dependencies.len(), 2);
    assert_eq!(
        s.task_detail("load-1").unwrap().queued_on.as_deref(),
        Some(name(w1))
    );

    // load-1 ran on its worker from clock 1.5 s to 1.75 s (worker 1) or 5.5 s to 5.75 s.
    let base = if w1 == 1 { 1_000_000 } else { 5_000_000 };
    s.handle_worker(
        w1,
        ran(&"load-1".into(), 2_000_000, base + 500_000, base + 750_000),
        t0 + Duration::from_secs(1),
        &mut c,
    );
    let d = s.task_detail("join").unwrap();
    assert!(
        d.explanation.starts_with("Waiting for 1 of its 2 inputs"),
        "{}",
        d.explanation
    );
    let dep = d.dependencies.iter().find(|x| x.key == "load-1").unwrap();
    assert_eq!(
        (dep.state.as_str(), dep.workers.clone(), dep.nbytes),
        ("memory", vec![name(w1).to_string()], Some(2_000_000))
    );
    let b2 = if w2 == 1 { 1_000_000 } else { 5_000_000 };
    s.handle_worker(
        w2,
        ran(&"load-2".into(), 10, b2 + 800_000, b2 + 900_000),
        t0 + Duration::from_secs(1),
        &mut c,
    );
    // join goes where its 2 MB input is; it fetches the small one from the other worker.
    assert_eq!(c.computes(), vec![(w1, Key::from("join"))]);
    let d = s.task_detail("join").unwrap();
    assert_eq!(d.state, "processing");
    assert!(
        d.explanation
            .contains(&format!("Assigned to worker {}", name(w1)))
            && d.explanation.contains(&format!(
                "fetches 1 input(s) from its peers: load-2 (10 B, on {})",
                name(w2)
            )),
        "{}",
        d.explanation
    );
    let rows = s.prefix_rows();
    let load = rows.iter().find(|r| r.prefix == "load").unwrap();
    assert_eq!((load.memory, load.done, load.processing), (2, 2, 0));

    // The task stream is on the scheduler's clock: 0.5–0.75 s and 0.8–0.9 s.
    s.handle_client(
        7,
        FromClient::TaskStream {
            request: 1,
            since: 0,
            keep: false,
        },
        &mut c,
    );
    let st = c.stream_reply();
    assert_eq!((st.cursor, st.dropped), (2, 0));
    let spans: Vec<(String, String, f64, f64)> = st
        .spans
        .iter()
        .map(|x| (x.key.to_string(), x.worker.clone(), x.start, x.stop))
        .collect();
    assert_eq!(
        spans,
        vec![
            ("load-1".into(), name(w1).into(), 0.5, 0.75),
            ("load-2".into(), name(w2).into(), 0.8, 0.9),
        ]
    );
    assert!((st.time - 1.0).abs() < 1e-9, "{}", st.time);

    // A later heartbeat shows worker 1's clock was really 0.1 s further ahead (its
    // registration arrived late): later spans use the better offset.
    s.handle_worker(
        1,
        FromWorker::Heartbeat(WorkerMetrics {
            clock_us: 3_100_000,
            running: 1,
            cpu_percent: 87.0,
            rss_bytes: 50_000_000,
            managed_bytes: 2_000_000,
            bytes_in: 10,
            ..WorkerMetrics::default()
        }),
        t0 + Duration::from_secs(2),
        &mut c,
    );
    s.handle_worker(
        w1,
        ran(
            &"join".into(),
            8,
            if w1 == 1 {
                3_200_000
            } else {
                5_000_000 + 2_100_000
            },
            if w1 == 1 {
                3_300_000
            } else {
                5_000_000 + 2_200_000
            },
        ),
        t0 + Duration::from_secs(2),
        &mut c,
    );
    assert_eq!(s.task_stream_cursor(), 3);
    s.handle_client(
        7,
        FromClient::TaskStream {
            request: 2,
            since: 2,
            keep: false,
        },
        &mut c,
    );
    let st = c.stream_reply();
    assert_eq!(st.spans.len(), 1);
    assert!((st.spans[0].start - 2.1).abs() < 1e-9, "{:?}", st.spans);

    // The worker table carries the heartbeat's numbers.
    let alice = s
        .worker_rows()
        .into_iter()
        .find(|w| w.name == "alice")
        .unwrap();
    assert_eq!(alice.cpu_percent, 87.0);
    assert_eq!(
        (alice.memory_managed, alice.memory_unmanaged, alice.bytes_in),
        (2_000_000, 48_000_000, 10)
    );
    let d = s.task_detail("join").unwrap();
    assert!(
        d.explanation
            .starts_with("Done: its result (8 B) is in memory on"),
        "{}",
        d.explanation
    );
    s.validate().unwrap();
}

#[test]
fn queued_roots_failures_and_graphs_are_explained() {
    let (mut s, mut c, t0) = setup(SchedulerConfig::default());
    let mut tasks: Vec<NewTask> = (0..20)
        .map(|i| task(&format!("leaf-{i:x}"), &[], i))
        .collect();
    tasks.push(task("total", &["leaf-0", "leaf-1"], 30));
    let wanted = tasks.iter().map(|t| t.key.clone()).collect();
    s.handle_client(7, FromClient::UpdateGraph { tasks, wanted }, &mut c);
    let sent = c.computes();
    assert!(sent.len() < 20, "roots are queued: {}", sent.len());
    let d = s.task_detail("leaf-13").unwrap();
    assert_eq!(d.state, "queued");
    assert!(
        d.explanation
            .contains("queued in the scheduler at position")
            && d.explanation.contains(&format!("of {}", 20 - sent.len())),
        "{}",
        d.explanation
    );
    let leaf = s
        .prefix_rows()
        .into_iter()
        .find(|r| r.prefix == "leaf")
        .unwrap();
    assert_eq!(leaf.waiting + leaf.processing, 20);

    // The graph: 21 nodes, 2 edges into total.
    let g = s.graph_view(100);
    assert_eq!((g.nodes.len(), g.edges.len(), g.truncated), (21, 2, false));
    let total = g.nodes.iter().position(|n| n.key == "total").unwrap() as u32;
    assert!(g.edges.iter().all(|e| e.1 == total));
    assert!(s.graph_view(5).truncated);

    // A failure names its cause, also on the dependents.
    let (w, k) = sent
        .iter()
        .find(|(_, k)| *k == Key::from("leaf-0"))
        .cloned()
        .unwrap();
    s.handle_worker(
        w,
        FromWorker::Erred {
            key: k,
            failure: WireFailure::msg("error", "disk on fire"),
            timing: Some(TaskTiming {
                start_us: 1_000_000,
                stop_us: 1_000_010,
                thread: 0,
            }),
        },
        t0,
        &mut c,
    );
    // The dependent `total` is erred too and (wanted by the client) keeps its record.
    let d = s.task_detail("total").unwrap();
    assert_eq!(d.state, "erred");
    assert_eq!(
        d.explanation,
        "Failed because its input leaf-0 failed: disk on fire"
    );
    let leaf = s
        .prefix_rows()
        .into_iter()
        .find(|r| r.prefix == "leaf")
        .unwrap();
    assert_eq!(leaf.done, 0);
    s.validate().unwrap();
    assert!(s.task_detail("nonsense").is_none());
    assert_eq!(parse_key("('x', 1, 2)"), Key::from(("x", 1, 2)));
}

#[test]
fn a_recording_keeps_every_span_until_it_stops() {
    let config = SchedulerConfig {
        task_stream_length: 4,
        task_stream_limit: 1000,
        ..SchedulerConfig::default()
    };
    let (mut s, mut c, t0) = setup(config);
    let run = |s: &mut SchedulerState, c: &mut Rec, client: ClientId, from: usize, n: usize| {
        let tasks: Vec<NewTask> = (from..from + n)
            .map(|i| task(&format!("t-{i:x}"), &[], i as u32))
            .collect();
        let wanted = tasks.iter().map(|t| t.key.clone()).collect();
        s.handle_client(client, FromClient::UpdateGraph { tasks, wanted }, c);
        loop {
            let sent = c.computes();
            if sent.is_empty() {
                break;
            }
            for (w, k) in sent {
                let base = if w == 1 { 1_000_000 } else { 5_000_000 };
                s.handle_worker(w, ran(&k, 8, base + 10, base + 20), t0, c);
            }
        }
    };
    run(&mut s, &mut c, 7, 0, 10);
    assert_eq!(s.task_stream_cursor(), 10);
    // Not recording: only the last 4 are kept.
    s.handle_client(
        7,
        FromClient::TaskStream {
            request: 1,
            since: 0,
            keep: false,
        },
        &mut c,
    );
    let st = c.stream_reply();
    assert_eq!((st.spans.len(), st.dropped), (4, 6));
    // Record from now: a report of the next 30 tasks gets all of them.
    s.handle_client(
        7,
        FromClient::TaskStream {
            request: 2,
            since: u64::MAX,
            keep: true,
        },
        &mut c,
    );
    let start = c.stream_reply().cursor;
    assert_eq!(start, 10);
    run(&mut s, &mut c, 7, 100, 30);
    s.handle_client(
        7,
        FromClient::TaskStream {
            request: 3,
            since: start,
            keep: false,
        },
        &mut c,
    );
    let st = c.stream_reply();
    assert_eq!((st.spans.len(), st.dropped, st.cursor), (30, 0, 40));
    // The recording ended: the window is back to 4.
    s.handle_client(
        7,
        FromClient::TaskStream {
            request: 4,
            since: start,
            keep: false,
        },
        &mut c,
    );
    assert_eq!(c.stream_reply().spans.len(), 4);
    // A client that disconnects while recording stops its recording.
    s.handle_client(
        7,
        FromClient::TaskStream {
            request: 5,
            since: u64::MAX,
            keep: true,
        },
        &mut c,
    );
    let _ = c.stream_reply();
    s.remove_client(7, &mut c);
    s.add_client(8, &mut c);
    run(&mut s, &mut c, 8, 200, 10);
    s.handle_client(
        8,
        FromClient::TaskStream {
            request: 6,
            since: 40,
            keep: false,
        },
        &mut c,
    );
    let st = c.stream_reply();
    assert_eq!((st.spans.len(), st.dropped), (4, 6));
}

#[test]
fn spans_are_logged_only_while_watched_or_recorded() {
    let (mut s, mut c, t0) = setup(SchedulerConfig::default());
    let run = |s: &mut SchedulerState, c: &mut Rec, from: usize, n: usize| {
        let tasks: Vec<NewTask> = (from..from + n)
            .map(|i| task(&format!("u-{i:x}"), &[], i as u32))
            .collect();
        let wanted = tasks.iter().map(|t| t.key.clone()).collect();
        s.handle_client(7, FromClient::UpdateGraph { tasks, wanted }, c);
        loop {
            let sent = c.computes();
            if sent.is_empty() {
                break;
            }
            for (w, k) in sent {
                s.handle_worker(w, ran(&k, 8, 1_000_010, 1_000_020), t0, c);
            }
        }
        c.to_clients.clear();
    };
    // No page open (what the scheduler's shell says while nobody looks): nothing is logged,
    // but progress is still counted.
    s.set_task_stream_watched(false);
    run(&mut s, &mut c, 0, 5);
    assert_eq!(s.task_stream_cursor(), 0);
    assert_eq!(s.snapshot().tasks_done, 5);
    // A page opens.
    s.set_task_stream_watched(true);
    run(&mut s, &mut c, 10, 3);
    assert_eq!(s.task_stream_cursor(), 3);
    // It closes, but a client records (a performance report): logged all the same.
    s.set_task_stream_watched(false);
    s.handle_client(
        7,
        FromClient::TaskStream {
            request: 1,
            since: u64::MAX,
            keep: true,
        },
        &mut c,
    );
    run(&mut s, &mut c, 20, 4);
    assert_eq!(s.task_stream_cursor(), 7);
}
