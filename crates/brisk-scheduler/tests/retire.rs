//! Graceful retirement in the pure state machine: values move before the worker closes, no
//! key is lost, nothing is recomputed; a retirement with nowhere to put the values is called
//! off (asked by a client) or closes the worker anyway (asked by the worker).

use std::time::Instant;

use brisk_core::Key;
use brisk_protocol::WorkerId;
use brisk_protocol::messages::{FromClient, FromWorker, ToClient, ToWorker};
use brisk_scheduler::{SchedulerConfig, SchedulerState};

mod common;

use common::{Rec, task};

fn setup(workers: &[WorkerId]) -> (SchedulerState, Rec, Instant) {
    let mut s = SchedulerState::new(SchedulerConfig::default());
    let mut c = Rec::default();
    let now = Instant::now();
    for &w in workers {
        s.add_worker(w, common::registration(&format!("w{w}"), 1, 0), now, &mut c);
    }
    s.add_client(7, &mut c);
    c.to_workers.clear();
    c.to_clients.clear();
    (s, c, now)
}

/// Run two independent tasks to memory, one per worker; returns (key on 1, key on 2).
fn two_values(s: &mut SchedulerState, c: &mut Rec, now: Instant) -> (Key, Key) {
    let tasks = vec![task("a", &[], 0), task("b", &[], 1)];
    let wanted = tasks.iter().map(|t| t.key.clone()).collect();
    s.handle_client(7, FromClient::UpdateGraph { tasks, wanted }, c);
    let sent = c.computes();
    assert_eq!(sent.len(), 2, "{sent:?}");
    for (w, k) in &sent {
        s.handle_worker(*w, common::finished_at(k, 100, 0, 10), now, c);
    }
    c.client_msgs();
    c.assert_quiet();
    let on = |w: WorkerId| sent.iter().find(|(x, _)| *x == w).map(|(_, k)| k.clone());
    (on(1).expect("a task on 1"), on(2).expect("a task on 2"))
}

fn acquires(c: &mut Rec) -> Vec<(WorkerId, Vec<Key>, WorkerId)> {
    let mut out = Vec::new();
    c.to_workers.retain(|(w, m)| match m {
        ToWorker::Acquire { keys, from } => {
            out.push((*w, keys.clone(), *from));
            false
        }
        _ => true,
    });
    out
}

fn closes(c: &mut Rec) -> Vec<WorkerId> {
    let mut out = Vec::new();
    c.to_workers.retain(|(w, m)| match m {
        ToWorker::Close { .. } => {
            out.push(*w);
            false
        }
        _ => true,
    });
    out
}

#[test]
fn a_retiring_worker_hands_its_values_over_before_it_closes() {
    let (mut s, mut c, now) = setup(&[1, 2]);
    let (a, _b) = two_values(&mut s, &mut c, now);
    s.handle_client(
        7,
        FromClient::RetireWorkers {
            workers: vec!["w1".into()],
        },
        &mut c,
    );
    // Worker 2 is asked for a copy of what only 1 holds; 1 is not closed yet.
    assert_eq!(acquires(&mut c), vec![(2, vec![a.clone()], 1)]);
    assert!(closes(&mut c).is_empty());
    c.assert_quiet();
    let info = s.snapshot();
    assert!(
        info.workers
            .iter()
            .any(|w| w.id == 1 && w.retiring && w.paused)
    );
    // New work avoids the retiring worker.
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("c", &[], 2)],
            wanted: vec!["c".into()],
        },
        &mut c,
    );
    assert_eq!(c.computes(), vec![(2, Key::from("c"))]);
    // The copy arrives: clients learn the new holder, and worker 1 closes.
    s.handle_worker(
        2,
        FromWorker::Stored {
            key: a.clone(),
            nbytes: 100,
        },
        now,
        &mut c,
    );
    let msgs = c.client_msgs();
    assert!(
        msgs.iter()
            .any(|m| matches!(m, ToClient::InMemory { key, who_has, .. }
            if *key == a && who_has.contains(&2))),
        "{msgs:?}"
    );
    s.tick(now, &mut c);
    assert_eq!(closes(&mut c), vec![1]);
    c.to_workers.clear();
    let msgs = c.client_msgs();
    assert!(
        !msgs.iter().any(|m| matches!(m, ToClient::Lost { .. })),
        "nothing is lost: {msgs:?}"
    );
    let info = s.snapshot();
    assert_eq!(info.workers.len(), 1);
    assert_eq!((info.workers_lost, info.workers_retired), (0, 1));
    assert_eq!(info.tasks_done, 2, "nothing recomputed");
}

#[test]
fn unanswered_copies_are_asked_again() {
    let (mut s, mut c, now) = setup(&[1, 2, 3]);
    let tasks = vec![task("a", &[], 0)];
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks,
            wanted: vec!["a".into()],
        },
        &mut c,
    );
    let (w, k) = c.computes().remove(0);
    s.handle_worker(w, common::finished_at(&k, 100, 0, 10), now, &mut c);
    c.client_msgs();
    s.handle_worker(w, FromWorker::Retire, now, &mut c);
    let first = acquires(&mut c);
    assert_eq!(first.len(), 1);
    for _ in 0..10 {
        s.tick(now, &mut c);
    }
    assert!(
        acquires(&mut c).is_empty(),
        "no duplicate requests while one is pending"
    );
    for _ in 0..60 {
        s.tick(now, &mut c);
    }
    assert_eq!(acquires(&mut c).len(), 1, "asked again after a while");
    assert!(closes(&mut c).is_empty());
}

#[test]
fn without_another_worker_a_client_retirement_is_called_off() {
    let (mut s, mut c, now) = setup(&[1]);
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("a", &[], 0)],
            wanted: vec!["a".into()],
        },
        &mut c,
    );
    let (w, k) = c.computes().remove(0);
    s.handle_worker(w, common::finished_at(&k, 100, 0, 10), now, &mut c);
    c.client_msgs();
    s.handle_client(
        7,
        FromClient::RetireWorkers {
            workers: vec!["w1".into()],
        },
        &mut c,
    );
    c.assert_quiet();
    let info = s.snapshot();
    assert!(
        !info.workers[0].retiring && !info.workers[0].paused,
        "{info:?}"
    );
    // The worker asks for itself (SIGTERM): it is leaving anyway, so it closes.
    s.handle_worker(1, FromWorker::Retire, now, &mut c);
    assert_eq!(closes(&mut c), vec![1]);
    let info = s.snapshot();
    assert_eq!((info.workers.len(), info.workers_lost), (0, 1));
}

#[test]
fn an_idle_worker_without_values_retires_at_once() {
    let (mut s, mut c, _now) = setup(&[1, 2]);
    s.handle_client(
        7,
        FromClient::RetireWorkers {
            workers: vec!["w2".into(), "nobody".into()],
        },
        &mut c,
    );
    assert_eq!(closes(&mut c), vec![2]);
    let info = s.snapshot();
    assert_eq!((info.workers.len(), info.workers_retired), (1, 1));
}

#[test]
fn two_workers_retiring_together_keep_a_value_they_share() {
    let (mut s, mut c, now) = setup(&[1, 2, 3]);
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("a", &[], 0)],
            wanted: vec!["a".into()],
        },
        &mut c,
    );
    let (w, k) = c.computes().remove(0);
    s.handle_worker(w, common::finished_at(&k, 100, 0, 10), now, &mut c);
    // A second copy on another worker: now two workers hold it.
    let other = if w == 1 { 2 } else { 1 };
    s.handle_worker(
        other,
        FromWorker::Stored {
            key: k.clone(),
            nbytes: 100,
        },
        now,
        &mut c,
    );
    c.client_msgs();
    c.assert_quiet();
    s.handle_client(
        7,
        FromClient::RetireWorkers {
            workers: vec!["w1".into(), "w2".into()],
        },
        &mut c,
    );
    // Worker 3 stays and gets a copy before either leaves.
    let asked = acquires(&mut c);
    assert!(
        !asked.is_empty()
            && asked
                .iter()
                .all(|(to, keys, _)| *to == 3 && keys == &vec![k.clone()]),
        "{asked:?}"
    );
    assert!(
        closes(&mut c).is_empty(),
        "nobody leaves with the only copies"
    );
    s.handle_worker(
        3,
        FromWorker::Stored {
            key: k.clone(),
            nbytes: 100,
        },
        now,
        &mut c,
    );
    c.client_msgs();
    s.tick(now, &mut c);
    let mut closed = closes(&mut c);
    closed.sort_unstable();
    assert_eq!(closed, vec![1, 2]);
    let info = s.snapshot();
    assert_eq!(
        (info.workers_lost, info.workers_retired),
        (0, 2),
        "{info:?}"
    );
}
