//! The scheduler's state machine driven by hand through a recording fake transport.

use std::time::{Duration, Instant};

use brisk_core::Key;
use brisk_protocol::messages::{
    FromClient, FromWorker, NewTask, TaskTiming, ToClient, ToWorker, WorkerRegistration,
};
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{Payload, WorkerId};
use brisk_scheduler::{SchedulerConfig, SchedulerState, TaskState};

mod common;

use common::{Rec, task};

fn reg(name: &str, nthreads: u32) -> WorkerRegistration {
    common::registration(name, nthreads, 0)
}

fn finished(key: &Key, nbytes: u64) -> FromWorker {
    common::finished_at(key, nbytes, 0, 100)
}

fn setup(workers: &[(WorkerId, u32)]) -> (SchedulerState, Rec, Instant) {
    let mut s = SchedulerState::new(SchedulerConfig::default());
    let mut c = Rec::default();
    let now = Instant::now();
    for &(w, n) in workers {
        s.add_worker(w, reg(&w.to_string(), n), now, &mut c);
    }
    s.add_client(7, &mut c);
    c.to_workers.clear();
    c.to_clients.clear();
    (s, c, now)
}

#[test]
fn chain_runs_where_its_data_lives_and_is_forgotten_after_release() {
    let (mut s, mut c, now) = setup(&[(1, 1), (2, 1)]);
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("a", &[], 0), task("b", &["a"], 1)],
            wanted: vec!["b".into()],
        },
        &mut c,
    );
    let sent = c.computes();
    assert_eq!(sent.len(), 1);
    let (wa, ka) = sent[0].clone();
    assert_eq!(ka, Key::from("a"));
    assert_eq!(s.task_state(&"b".into()), Some(TaskState::Waiting));
    s.handle_worker(wa, finished(&ka, 1_000_000), now, &mut c);
    let sent = c.computes();
    assert_eq!(
        sent,
        vec![(wa, Key::from("b"))],
        "b goes where a's bytes are"
    );
    // a is still needed by b: not freed yet.
    assert!(c.frees().is_empty());
    s.handle_worker(wa, finished(&"b".into(), 8), now, &mut c);
    assert_eq!(
        c.frees(),
        vec![(wa, Key::from("a"))],
        "a is freed once b is done"
    );
    let msgs = c.client_msgs();
    assert!(
        matches!(&msgs[..], [ToClient::InMemory { key, who_has, .. }] if *key == Key::from("b") && who_has == &vec![wa])
    );
    assert_eq!(s.num_tasks(), 2, "a's record stays for b's lineage");
    s.handle_client(
        7,
        FromClient::Release {
            keys: vec!["b".into()],
        },
        &mut c,
    );
    assert_eq!(c.frees(), vec![(wa, Key::from("b"))]);
    assert_eq!(s.num_tasks(), 0, "everything is forgotten");
    c.assert_quiet();
}

#[test]
fn wide_graphs_queue_root_tasks() {
    let (mut s, mut c, now) = setup(&[(1, 1), (2, 1)]);
    // 1000 roots, each pair summed: 500 reductions.
    let mut tasks = Vec::new();
    let mut order = 0;
    for i in 0..500 {
        tasks.push(task(&format!("load-{}", 2 * i), &[], order));
        tasks.push(task(&format!("load-{}", 2 * i + 1), &[], order + 1));
        let a = format!("load-{}", 2 * i);
        let b = format!("load-{}", 2 * i + 1);
        tasks.push(task(&format!("sum-{i}"), &[&a, &b], order + 2));
        order += 3;
    }
    let wanted: Vec<Key> = (0..500).map(|i| Key::from(format!("sum-{i}"))).collect();
    s.handle_client(7, FromClient::UpdateGraph { tasks, wanted }, &mut c);
    let first = c.computes();
    assert_eq!(
        first.len(),
        4,
        "1.1 × 1 thread rounds up to 2 roots per worker: {first:?}"
    );
    let info = s.snapshot();
    assert_eq!(info.queued, 996);
    // Run everything: at each step finish every task sent; in memory at once stays small.
    let mut in_flight = first;
    let mut max_in_memory = 0;
    let mut done = 0;
    while !in_flight.is_empty() {
        let (w, k) = in_flight.remove(0);
        let nbytes = if k.name().starts_with("load") {
            10_000_000
        } else {
            8
        };
        s.handle_worker(
            w,
            FromWorker::Finished {
                key: k,
                nbytes,
                timing: Some(TaskTiming {
                    start_us: 0,
                    stop_us: 50_000,
                    thread: 0,
                }),
                value: None,
            },
            now,
            &mut c,
        );
        done += 1;
        in_flight.extend(c.computes());
        c.frees();
        let loads = (0..1000)
            .filter(|i| s.task_state(&Key::from(format!("load-{i}"))) == Some(TaskState::Memory))
            .count();
        max_in_memory = max_in_memory.max(loads);
    }
    assert_eq!(done, 1500);
    let loads_in_memory_peak = max_in_memory;
    assert!(
        loads_in_memory_peak < 20,
        "root outputs held at once: {loads_in_memory_peak}"
    );
    assert_eq!(c.client_msgs().len(), 500);
}

#[test]
fn quick_roots_open_the_window() {
    let (mut s, mut c, now) = setup(&[(1, 1)]);
    let tasks: Vec<NewTask> = (0..10_000)
        .map(|i| task(&format!("noop-{i}"), &[], i))
        .collect();
    let wanted = tasks.iter().map(|t| t.key.clone()).collect();
    s.handle_client(7, FromClient::UpdateGraph { tasks, wanted }, &mut c);
    let first = c.computes();
    assert_eq!(first.len(), 2);
    s.handle_worker(
        1,
        FromWorker::Finished {
            key: first[0].1.clone(),
            nbytes: 8,
            timing: Some(TaskTiming {
                start_us: 0,
                stop_us: 5,
                thread: 0,
            }),
            value: None,
        },
        now,
        &mut c,
    );
    let more = c.computes();
    assert!(
        more.len() > 100,
        "a 5 µs task kind gets a deep queue: {}",
        more.len()
    );
    assert!(more.len() <= 2000);
}

#[test]
fn a_lost_worker_is_recovered_from_lineage() {
    let (mut s, mut c, now) = setup(&[(1, 1), (2, 1)]);
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![
                task("a", &[], 0),
                task("b", &[], 1),
                task("c", &["a", "b"], 2),
            ],
            wanted: vec!["c".into()],
        },
        &mut c,
    );
    let sent = c.computes();
    assert_eq!(sent.len(), 2);
    for (w, k) in &sent {
        s.handle_worker(*w, finished(k, 100), now, &mut c);
    }
    let sent = c.computes();
    assert_eq!(sent.len(), 1);
    let (wc, _) = sent[0];
    let other = if wc == 1 { 2 } else { 1 };
    // The worker holding one input of c dies while c runs on the other worker.
    s.remove_worker(other, "killed", &mut c);
    let frees = c.frees();
    assert_eq!(
        frees,
        vec![(wc, Key::from("c"))],
        "c is cancelled: an input is gone"
    );
    let sent = c.computes();
    assert_eq!(sent.len(), 1, "the lost input is recomputed: {sent:?}");
    assert_eq!(sent[0].0, wc);
    s.handle_worker(wc, finished(&sent[0].1, 100), now, &mut c);
    let sent = c.computes();
    assert_eq!(sent, vec![(wc, Key::from("c"))]);
    s.handle_worker(wc, finished(&"c".into(), 8), now, &mut c);
    assert!(
        c.client_msgs()
            .iter()
            .any(|m| matches!(m, ToClient::InMemory { key, .. } if *key == Key::from("c")))
    );
}

#[test]
fn a_task_that_kills_three_workers_fails_naming_itself() {
    let (mut s, mut c, now) = setup(&[(1, 1)]);
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("boom", &[], 0)],
            wanted: vec!["boom".into()],
        },
        &mut c,
    );
    for round in 0..3u32 {
        let sent = c.computes();
        assert_eq!(sent.len(), 1, "round {round}");
        let w = sent[0].0;
        s.remove_worker(w, "killed", &mut c);
        s.add_worker(10 + round, reg(&format!("w{round}"), 1), now, &mut c);
    }
    let msgs = c.client_msgs();
    let err = msgs.iter().find_map(|m| match m {
        ToClient::Erred { key, failure, .. } => Some((key.clone(), failure.clone())),
        _ => None,
    });
    let (key, failure) = err.expect("the task failed");
    assert_eq!(key, Key::from("boom"));
    assert_eq!(failure.kind, "killed-worker");
    assert!(
        failure.message.contains("boom") && failure.message.contains("3 workers"),
        "{}",
        failure.message
    );
}

#[test]
fn errors_reach_dependents_and_retries_rerun() {
    let (mut s, mut c, now) = setup(&[(1, 2)]);
    let mut flaky = task("flaky", &[], 0);
    flaky.retries = 1;
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![flaky, task("bad", &[], 1), task("after", &["bad"], 2)],
            wanted: vec!["flaky".into(), "after".into()],
        },
        &mut c,
    );
    let sent = c.computes();
    assert_eq!(sent.len(), 2);
    let fail = |k: &str| FromWorker::Erred {
        key: k.into(),
        failure: WireFailure::msg("error", format!("{k} went wrong")),
        timing: Some(TaskTiming {
            start_us: 0,
            stop_us: 1,
            thread: 0,
        }),
    };
    s.handle_worker(1, fail("flaky"), now, &mut c);
    assert_eq!(c.computes(), vec![(1, Key::from("flaky"))], "one retry");
    s.handle_worker(1, fail("bad"), now, &mut c);
    let msgs = c.client_msgs();
    assert!(msgs.iter().any(|m| matches!(m, ToClient::Erred { key, cause, failure }
        if *key == Key::from("after") && *cause == Key::from("bad") && failure.message == "bad went wrong")));
    s.handle_worker(1, finished(&"flaky".into(), 8), now, &mut c);
    assert!(
        c.client_msgs()
            .iter()
            .any(|m| matches!(m, ToClient::InMemory { key, .. } if *key == Key::from("flaky")))
    );
}

#[test]
fn missing_dependencies_and_unknown_keys_are_errors() {
    let (mut s, mut c, _) = setup(&[(1, 1)]);
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("x", &["nowhere"], 0)],
            wanted: vec!["x".into(), "ghost".into()],
        },
        &mut c,
    );
    let msgs = c.client_msgs();
    assert!(msgs.iter().any(|m| matches!(m, ToClient::Erred { key, failure, .. } if *key == Key::from("x") && failure.message.contains("nowhere"))));
    assert!(
        msgs.iter()
            .any(|m| matches!(m, ToClient::Erred { key, .. } if *key == Key::from("ghost")))
    );
    assert!(c.computes().is_empty());
}

#[test]
fn idle_workers_steal_and_a_new_worker_gets_work() {
    let (mut s, mut c, now) = setup(&[(1, 1)]);
    // A root producing data, then 20 dependents of it: all go to worker 1 (locality).
    let mut tasks = vec![task("root", &[], 0)];
    for i in 0..20 {
        tasks.push(task(&format!("dep-{i}"), &["root"], 1 + i));
    }
    let wanted = (0..20).map(|i| Key::from(format!("dep-{i}"))).collect();
    s.handle_client(7, FromClient::UpdateGraph { tasks, wanted }, &mut c);
    let sent = c.computes();
    s.handle_worker(
        1,
        FromWorker::Finished {
            key: sent[0].1.clone(),
            nbytes: 10,
            timing: Some(TaskTiming {
                start_us: 0,
                stop_us: 1_000_000,
                thread: 0,
            }),
            value: None,
        },
        now,
        &mut c,
    );
    let sent = c.computes();
    assert_eq!(sent.len(), 20);
    assert!(sent.iter().all(|(w, _)| *w == 1));
    // A worker joins mid-job and is idle: the next tick steals from worker 1.
    s.add_worker(2, reg("2", 1), now, &mut c);
    c.to_workers
        .retain(|(_, m)| !matches!(m, ToWorker::Peers { .. } | ToWorker::Registered { .. }));
    s.tick(now + Duration::from_millis(100), &mut c);
    let steals: Vec<Key> = c
        .to_workers
        .drain(..)
        .filter_map(|(w, m)| match m {
            ToWorker::Steal { key } if w == 1 => Some(key),
            _ => None,
        })
        .collect();
    assert_eq!(
        steals.len(),
        10,
        "about half the queued work moves: {steals:?}"
    );
    assert_eq!(
        steals[0],
        Key::from("dep-19"),
        "the task that would run last is stolen"
    );
    s.handle_worker(
        1,
        FromWorker::StealReply {
            key: steals[0].clone(),
            accepted: true,
        },
        now,
        &mut c,
    );
    assert_eq!(c.computes(), vec![(2, Key::from("dep-19"))]);
    assert_eq!(s.snapshot().tasks_stolen, 1);
}

#[test]
fn a_client_that_disconnects_releases_its_keys_and_silent_workers_are_removed() {
    let (mut s, mut c, now) = setup(&[(1, 1)]);
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("a", &[], 0)],
            wanted: vec!["a".into()],
        },
        &mut c,
    );
    let sent = c.computes();
    s.handle_worker(1, finished(&sent[0].1, 8), now, &mut c);
    assert_eq!(s.num_tasks(), 1);
    s.remove_client(7, &mut c);
    assert_eq!(c.frees(), vec![(1, Key::from("a"))]);
    assert_eq!(s.num_tasks(), 0);
    s.tick(now + Duration::from_secs(31), &mut c);
    assert!(s.worker_ids().is_empty());
}

#[test]
fn pending_work_nobody_wants_is_cancelled() {
    let (mut s, mut c, _) = setup(&[(1, 1)]);
    let tasks: Vec<NewTask> = (0..10).map(|i| task(&format!("t-{i}"), &[], i)).collect();
    let wanted: Vec<Key> = tasks.iter().map(|t| t.key.clone()).collect();
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks,
            wanted: wanted.clone(),
        },
        &mut c,
    );
    let sent = c.computes();
    assert_eq!(sent.len(), 2);
    s.handle_client(7, FromClient::Release { keys: wanted }, &mut c);
    let frees = c.frees();
    assert_eq!(
        frees.len(),
        2,
        "both processing tasks are cancelled on the worker"
    );
    assert_eq!(s.num_tasks(), 0);
    assert_eq!(s.snapshot().queued, 0);
}

#[test]
fn scattered_values_are_stored_and_losing_them_is_an_error() {
    let (mut s, mut c, now) = setup(&[(1, 1)]);
    let value = brisk_protocol::messages::EncodedValue {
        tag: "i64".into(),
        bytes: Payload::from(vec![7]),
    };
    s.handle_client(
        7,
        FromClient::Scatter {
            items: vec![("data".into(), value)],
        },
        &mut c,
    );
    let stores: Vec<WorkerId> = c
        .to_workers
        .drain(..)
        .filter_map(|(w, m)| matches!(m, ToWorker::Store { .. }).then_some(w))
        .collect();
    assert_eq!(stores, vec![1]);
    s.handle_worker(
        1,
        FromWorker::Stored {
            key: "data".into(),
            nbytes: 8,
        },
        now,
        &mut c,
    );
    assert_eq!(s.task_state(&"data".into()), Some(TaskState::Memory));
    assert!(matches!(&c.client_msgs()[..], [ToClient::InMemory { .. }]));
    s.remove_worker(1, "killed", &mut c);
    let msgs = c.client_msgs();
    assert!(
        msgs.iter()
            .any(|m| matches!(m, ToClient::Erred { failure, .. } if failure.kind == "lost")),
        "{msgs:?}"
    );
}

#[test]
fn paused_workers_get_no_new_work() {
    let (mut s, mut c, now) = setup(&[(1, 1), (2, 1)]);
    s.handle_worker(1, FromWorker::Paused(true), now, &mut c);
    c.assert_quiet();
    let tasks: Vec<NewTask> = (0..6).map(|i| task(&format!("t-{i}"), &[], i)).collect();
    let wanted = tasks.iter().map(|t| t.key.clone()).collect();
    s.handle_client(7, FromClient::UpdateGraph { tasks, wanted }, &mut c);
    let sent = c.computes();
    assert!(!sent.is_empty());
    assert!(sent.iter().all(|(w, _)| *w == 2), "{sent:?}");
    s.handle_worker(1, FromWorker::Paused(false), now, &mut c);
    let sent = c.computes();
    assert!(
        sent.iter().all(|(w, _)| *w == 1) && !sent.is_empty(),
        "{sent:?}"
    );
    c.assert_quiet();
}

#[test]
fn stale_and_duplicate_reports_are_reconciled() {
    let (mut s, mut c, now) = setup(&[(1, 1), (2, 1)]);
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("a", &[], 0)],
            wanted: vec!["a".into()],
        },
        &mut c,
    );
    let (w, k) = c.computes()[0].clone();
    let other = if w == 1 { 2 } else { 1 };
    // The other worker reports a result it was never asked for (a steal race): accepted, and
    // the assigned worker is told to drop its copy of the work.
    s.handle_worker(other, finished(&k, 8), now, &mut c);
    assert_eq!(s.task_state(&k), Some(TaskState::Memory));
    assert_eq!(c.frees(), vec![(w, k.clone())]);
    // A late duplicate from the first worker becomes a replica.
    s.handle_worker(w, finished(&k, 8), now, &mut c);
    let info = s.snapshot();
    assert_eq!(info.workers.iter().map(|x| x.has_what).sum::<u32>(), 2);
    // A report about a key nobody knows is answered with Free.
    s.handle_worker(w, finished(&"ghost".into(), 8), now, &mut c);
    assert_eq!(c.frees(), vec![(w, Key::from("ghost"))]);
}

#[test]
fn missing_data_is_recomputed() {
    let (mut s, mut c, now) = setup(&[(1, 1), (2, 1)]);
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("a", &[], 0), task("b", &["a"], 1)],
            wanted: vec!["b".into()],
        },
        &mut c,
    );
    let (wa, ka) = c.computes()[0].clone();
    s.handle_worker(wa, finished(&ka, 8), now, &mut c);
    let (wb, _) = c.computes()[0].clone();
    // The worker running b could not get a from its holder (say it lost it).
    s.handle_worker(
        wb,
        FromWorker::Missing {
            key: ka.clone(),
            holder: wa,
        },
        now,
        &mut c,
    );
    let sent = c.computes();
    assert_eq!(sent.len(), 1, "a is recomputed: {sent:?}");
    assert_eq!(sent[0].1, ka);
    assert!(c.frees().contains(&(wb, Key::from("b"))), "b waits again");
}

#[test]
fn a_stalled_scheduler_does_not_blame_the_workers() {
    let (mut s, mut c, now) = setup(&[(1, 1), (2, 1)]);
    // The scheduler was stopped for 31 s (past the 30 s timeout): nobody could be heard.
    let later = now + Duration::from_secs(31);
    s.scheduler_stalled(Duration::from_secs(31), later);
    s.tick(later, &mut c);
    assert_eq!(
        s.worker_ids().len(),
        2,
        "no worker lost to the scheduler's own stall"
    );
    // Worker 1's queued heartbeat arrives; worker 2 stays silent and is lost a timeout later.
    s.handle_worker(
        1,
        FromWorker::Heartbeat(Default::default()),
        later + Duration::from_secs(1),
        &mut c,
    );
    s.tick(later + Duration::from_secs(31), &mut c);
    assert_eq!(s.worker_ids(), vec![1]);
    s.validate().expect("the invariants hold");
}
