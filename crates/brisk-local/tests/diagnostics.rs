//! Callbacks, the profiler, progress bars and configuration errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brisk_core::{Error, Graph, Key, TaskFailure, graph};
use brisk_local::{
    Callback, LocalScheduler, Profiler, RunInfo, TaskInfo, register, threaded, with_callbacks,
};
use parking_lot::Mutex;

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}
fn nap(x: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(30));
    x
}

fn talk() -> Graph {
    graph! {
        "a" => 1, "x" => 10, "b" => (inc, "a"), "y" => (inc, "x"), "z" => (add, "b", "y"),
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Callback for Recorder {
    fn on_start(&self, run: &RunInfo) {
        self.0.lock().push(format!("start {}", run.tasks));
    }
    fn on_task_start(&self, _: &RunInfo, t: &TaskInfo<'_>) {
        self.0
            .lock()
            .push(format!("task-start {} {}", t.key, t.label));
    }
    fn on_task_finish(
        &self,
        _: &RunInfo,
        t: &TaskInfo<'_>,
        end: Instant,
        r: Result<(), &TaskFailure>,
    ) {
        assert!(end >= t.start);
        self.0
            .lock()
            .push(format!("task-finish {} {}", t.key, r.is_ok()));
    }
    fn on_finish(&self, _: &RunInfo, r: Result<(), &Error>) {
        self.0.lock().push(format!("finish {}", r.is_ok()));
    }
}

#[test]
fn callbacks_see_start_tasks_and_finish_in_order() {
    let rec = Arc::new(Recorder::default());
    let z: i64 = LocalScheduler::sync()
        .callback(rec.clone())
        .get(&talk(), "z")
        .unwrap();
    assert_eq!(z, 13);
    let events = rec.0.lock().clone();
    assert_eq!(events.first().unwrap(), "start 3");
    assert_eq!(events.last().unwrap(), "finish true");
    assert_eq!(events.len(), 2 + 3 * 2);
    for k in ["b", "y", "z"] {
        let s = events
            .iter()
            .position(|e| e == &format!("task-start {k} {}", if k == "z" { "add" } else { "inc" }));
        let f = events
            .iter()
            .position(|e| e == &format!("task-finish {k} true"));
        assert!(s.unwrap() < f.unwrap(), "{events:?}");
    }
    let zs = events
        .iter()
        .position(|e| e.starts_with("task-start z"))
        .unwrap();
    let bf = events
        .iter()
        .position(|e| e == "task-finish b true")
        .unwrap();
    assert!(bf < zs, "z starts after its inputs finish");
}

#[test]
fn registered_and_scoped_callbacks_come_and_go() {
    let rec = Arc::new(Recorder::default());
    {
        let _guard = register(rec.clone());
        threaded::get::<i64>(&talk(), "z").unwrap();
    }
    let n = rec.0.lock().len();
    assert!(n >= 8, "registered callback saw the run");
    threaded::get::<i64>(&talk(), "z").unwrap();
    // Other tests may run concurrently with their own registrations, but this recorder is gone.
    assert_eq!(rec.0.lock().len(), n);

    let scoped = Arc::new(Recorder::default());
    let cbs: [Arc<dyn Callback>; 1] = [scoped.clone()];
    with_callbacks(&cbs, || threaded::get::<i64>(&talk(), "b").unwrap());
    assert_eq!(
        scoped.0.lock().as_slice(),
        [
            "start 1",
            "task-start b inc",
            "task-finish b true",
            "finish true"
        ]
    );
    threaded::get::<i64>(&talk(), "b").unwrap();
    assert_eq!(scoped.0.lock().len(), 4);
}

#[test]
fn failures_reach_callbacks() {
    fn bad(_: i64) -> Result<i64, String> {
        Err("nope".into())
    }
    let rec = Arc::new(Recorder::default());
    let g = graph! { "a" => (bad, 1) };
    let err = LocalScheduler::threaded()
        .callback(rec.clone())
        .get::<i64>(&g, "a")
        .unwrap_err();
    assert_eq!(err.to_string(), "task a failed: nope");
    let events = rec.0.lock().clone();
    assert!(events.contains(&"task-finish a false".to_string()));
    assert_eq!(events.last().unwrap(), "finish false");
}

#[test]
fn the_profiler_records_every_task_and_writes_a_trace() {
    let mut g = Graph::new();
    for i in 0..8usize {
        g.insert(("nap", i), brisk_core::task!(nap, i as i64))
            .unwrap();
    }
    let keys: Vec<Key> = (0..8usize).map(|i| Key::from(("nap", i))).collect();
    let prof = Profiler::new();
    let sched = LocalScheduler::threaded()
        .num_threads(2)
        .callback(prof.clone());
    sched.get_many(&g, &keys).unwrap();
    let records = prof.records();
    assert_eq!(records.len(), 8);
    for r in &records {
        assert!(r.end - r.start >= Duration::from_millis(25), "{r:?}");
        assert!(r.worker < 2);
        assert_eq!(r.label, "nap");
    }
    let workers: std::collections::HashSet<usize> = records.iter().map(|r| r.worker).collect();
    assert_eq!(workers.len(), 2, "both threads worked");
    let summary = prof.summary();
    assert_eq!(summary["nap"].count, 8);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.json");
    prof.write_chrome_trace(&path).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let slices: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(slices.len(), 8);
    assert!(
        slices
            .iter()
            .all(|e| e["dur"].as_f64().unwrap() >= 25_000.0)
    );
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "M" && e["name"] == "thread_name")
    );
    let err = prof
        .write_chrome_trace(dir.path().join("no/such/dir/t.json"))
        .unwrap_err();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

/// Re-run this test binary as a child with `env`, running only `test`; returns its output.
fn child(test: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
#[ignore = "child process of a_progress_bar_appears_for_slow_computations"]
fn child_slow_computation() {
    let mut g = Graph::new();
    for i in 0..12usize {
        g.insert(("nap", i), brisk_core::task!(nap, i as i64))
            .unwrap();
    }
    let keys: Vec<Key> = (0..12usize).map(|i| Key::from(("nap", i))).collect();
    threaded::get_many(&g, &keys).unwrap();
    println!("CHILD DONE");
}

#[test]
fn a_progress_bar_appears_for_slow_computations() {
    let (ok, out) = child(
        "child_slow_computation",
        &[("BRISK_PROGRESS", "on"), ("BRISK_PROGRESS_DELAY_MS", "0")],
    );
    assert!(ok, "{out}");
    assert!(out.contains("100% Completed | 12/12 tasks"), "{out}");
    let done = out.find("CHILD DONE").unwrap();
    let bar = out.rfind("Completed").unwrap();
    assert!(
        bar < done,
        "the bar is finished before the program goes on: {out}"
    );

    let (ok, out) = child("child_slow_computation", &[("BRISK_PROGRESS", "off")]);
    assert!(ok, "{out}");
    assert!(!out.contains("Completed"), "{out}");
    // Not a terminal and not forced: no bar.
    let (ok, out) = child("child_slow_computation", &[("BRISK_PROGRESS", "auto")]);
    assert!(ok && !out.contains("Completed"), "{out}");
}

#[test]
#[ignore = "child process of bad_configuration_is_a_clear_error"]
fn child_reports_config_error() {
    if let Err(err) = threaded::get::<i64>(&talk(), "z") {
        println!("ERROR: {err}");
    }
    if let Err(err) = brisk_core::default_scheduler() {
        println!("DEFAULT: {err}");
    }
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let (_, out) = child(
        "child_reports_config_error",
        &[("BRISK_NUM_THREADS", "lots")],
    );
    assert!(
        out.contains("ERROR: invalid BRISK_NUM_THREADS=\"lots\": expected a positive integer"),
        "{out}"
    );
    let (_, out) = child(
        "child_reports_config_error",
        &[("BRISK_PROGRESS", "sometimes")],
    );
    assert!(
        out.contains("ERROR: invalid BRISK_PROGRESS=\"sometimes\""),
        "{out}"
    );
    let (_, out) = child("child_reports_config_error", &[("BRISK_SCHEDULER", "gpu")]);
    // A raw threaded::get ignores BRISK_SCHEDULER; the default scheduler lookup reports it.
    assert!(!out.contains("ERROR:"), "{out}");
    assert!(
        out.contains("DEFAULT: no scheduler named `gpu` is available (known: sync, threads)"),
        "{out}"
    );
    let (_, out) = child(
        "child_reports_config_error",
        &[("BRISK_SCHEDULER", "Threading")],
    );
    assert!(
        !out.contains("DEFAULT:") && !out.contains("ERROR:"),
        "aliases work: {out}"
    );
}
