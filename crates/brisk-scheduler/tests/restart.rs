//! A scheduler rebuilt after a restart (the journal replayed with no worker) and clients that
//! lose their connection: detached clients, recovery, workers offering the values they kept.

use std::time::{Duration, Instant};

use brisk_core::Key;
use brisk_protocol::messages::{EncodedValue, FromClient, FromWorker, ToClient};
use brisk_protocol::{Payload, WorkerId};
use brisk_scheduler::{SchedulerConfig, SchedulerState, TaskState};

mod common;

use common::{Rec, task};

fn finished(key: &str, nbytes: u64) -> FromWorker {
    common::finished_at(&Key::from(key), nbytes, 0, 100)
}

/// a → b → c, and x alone; the client wants c and x.
fn graph() -> FromClient {
    FromClient::UpdateGraph {
        tasks: vec![
            task("a", &[], 0),
            task("b", &["a"], 1),
            task("c", &["b"], 2),
            task("x", &[], 3),
        ],
        wanted: vec!["c".into(), "x".into()],
    }
}

/// The state after replaying one client's graph with no worker, recovering until `until`.
fn replayed(expected: &[&str], until: Instant) -> (SchedulerState, Rec) {
    let mut s = SchedulerState::new(SchedulerConfig::default());
    let mut c = Rec::default();
    s.set_journaled(true);
    s.begin_recovery(expected.iter().map(|n| n.to_string()), until);
    s.add_client(7, &mut c);
    s.handle_client(7, graph(), &mut c);
    s.detach_client(7, until + Duration::from_secs(60));
    c.to_clients.clear();
    (s, c)
}

fn holds(keys: &[(&str, u64)]) -> FromWorker {
    FromWorker::Holds {
        keys: keys.iter().map(|(k, n)| (Key::from(*k), *n)).collect(),
    }
}

#[test]
fn nothing_runs_until_the_workers_of_before_are_back_and_held_values_are_not_recomputed() {
    let now = Instant::now();
    let (mut s, mut c) = replayed(&["w1", "w2"], now + Duration::from_secs(10));
    assert!(s.recovering());
    s.add_worker(1, common::registration("w1", 2, 0), now, &mut c);
    // w1 kept b (c's input) and a value nobody knows.
    s.handle_worker(1, holds(&[("b", 800), ("stale", 5)]), now, &mut c);
    assert!(
        c.computes().is_empty(),
        "nothing is placed while recovering"
    );
    assert_eq!(s.task_state(&"b".into()), Some(TaskState::Memory));
    assert_eq!(c.frees(), vec![(1, Key::from("stale"))]);
    assert!(s.recovering(), "w2 is not back yet");
    s.add_worker(2, common::registration("w2", 2, 0), now, &mut c);
    s.handle_worker(2, holds(&[]), now, &mut c);
    assert!(!s.recovering());
    // Only c (from the held b) and x run; a is never computed again.
    let mut sent: Vec<Key> = c.computes().into_iter().map(|(_, k)| k).collect();
    sent.sort();
    assert_eq!(sent, vec![Key::from("c"), Key::from("x")]);
    assert_eq!(
        s.task_state(&"a".into()),
        Some(TaskState::Released),
        "a waits no more: b is in memory"
    );
    s.validate().unwrap();
}

#[test]
fn the_recovery_ends_at_its_deadline_and_recomputes_what_is_missing() {
    let now = Instant::now();
    let until = now + Duration::from_secs(5);
    let (mut s, mut c) = replayed(&["w1", "gone"], until);
    s.add_worker(1, common::registration("w1", 1, 0), now, &mut c);
    s.handle_worker(1, holds(&[]), now, &mut c);
    s.tick(now + Duration::from_secs(1), &mut c);
    assert!(s.recovering() && c.computes().is_empty());
    s.tick(until, &mut c);
    assert!(!s.recovering());
    let sent: Vec<Key> = c.computes().into_iter().map(|(_, k)| k).collect();
    assert!(sent.contains(&Key::from("a")), "a from the start: {sent:?}");
    s.validate().unwrap();
}

#[test]
fn a_resumed_client_hears_what_it_wants_and_an_expired_one_releases_everything() {
    let now = Instant::now();
    let (mut s, mut c) = replayed(&["w1"], now + Duration::from_secs(10));
    s.add_worker(1, common::registration("w1", 1, 0), now, &mut c);
    // The values were computed before the restart and kept.
    s.handle_worker(1, holds(&[("x", 8), ("c", 8)]), now, &mut c);
    assert!(
        c.computes().is_empty(),
        "c and x are in memory: nothing to run"
    );
    assert!(s.is_detached(7));
    // (What was said to it while detached went nowhere.)
    c.to_clients.clear();
    s.resume_client(7, 1, &mut c);
    assert!(!s.is_detached(7));
    let msgs = c.client_msgs();
    assert!(
        matches!(
            &msgs[0],
            ToClient::Welcome {
                id: 7,
                journal: true,
                resumed: Some(1)
            }
        ),
        "{msgs:?}"
    );
    let mut in_memory: Vec<Key> = msgs
        .iter()
        .filter_map(|m| match m {
            ToClient::InMemory { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    in_memory.sort();
    assert_eq!(in_memory, vec![Key::from("c"), Key::from("x")]);
    // It leaves again and never comes back: its work is released at the deadline.
    s.detach_client(7, now + Duration::from_secs(1));
    assert!(s.expire_detached(now, &mut c).is_empty());
    assert_eq!(
        s.expire_detached(now + Duration::from_secs(2), &mut c),
        vec![7]
    );
    assert_eq!(s.num_tasks(), 0, "everything is forgotten");
    s.validate().unwrap();
}

#[test]
fn scattered_values_wait_for_their_holder_and_err_without_one() {
    let now = Instant::now();
    let mut s = SchedulerState::new(SchedulerConfig::default());
    let mut c = Rec::default();
    s.begin_recovery(["w1".to_string()], now + Duration::from_secs(3));
    s.add_client(7, &mut c);
    let v = |n: u8| EncodedValue {
        tag: "i64".into(),
        bytes: Payload::from(vec![n; 8]),
    };
    s.handle_client(
        7,
        FromClient::Scatter {
            items: vec![("kept".into(), v(1)), ("lost".into(), v(2))],
        },
        &mut c,
    );
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("use-lost", &["lost"], 0)],
            wanted: vec!["use-lost".into()],
        },
        &mut c,
    );
    c.to_clients.clear();
    let w: WorkerId = 1;
    s.add_worker(w, common::registration("w1", 1, 0), now, &mut c);
    s.handle_worker(w, holds(&[("kept", 8)]), now, &mut c);
    assert!(!s.recovering());
    assert_eq!(s.task_state(&"kept".into()), Some(TaskState::Memory));
    assert_eq!(s.task_state(&"lost".into()), Some(TaskState::Erred));
    assert_eq!(s.task_state(&"use-lost".into()), Some(TaskState::Erred));
    let msgs = c.client_msgs();
    assert!(msgs.iter().any(
        |m| matches!(m, ToClient::Erred { key, failure, .. } if *key == Key::from("use-lost") && failure.message.contains("no worker held it"))
    ), "{msgs:?}");
    s.validate().unwrap();
}

#[test]
fn a_worker_back_from_a_blip_offers_replicas_of_values_recomputed_meanwhile() {
    let now = Instant::now();
    let mut s = SchedulerState::new(SchedulerConfig::default());
    let mut c = Rec::default();
    s.add_worker(1, common::registration("w1", 1, 0), now, &mut c);
    s.add_client(7, &mut c);
    s.handle_client(7, graph(), &mut c);
    let sent = c.computes();
    assert!(!sent.is_empty());
    for (w, k) in sent {
        s.handle_worker(w, finished(&k.to_string(), 8), now, &mut c);
    }
    // w1 drops off: its values are lost and recomputation starts — with no worker, it waits.
    s.remove_worker(1, "connection closed", &mut c);
    c.to_clients.clear();
    // It comes back under a new id with what it kept.
    s.add_worker(2, common::registration("w1", 1, 0), now, &mut c);
    s.handle_worker(2, holds(&[("a", 8), ("x", 8)]), now, &mut c);
    assert_eq!(s.task_state(&"x".into()), Some(TaskState::Memory));
    s.validate().unwrap();
    // Whatever still runs finishes; the client gets c and x.
    for _ in 0..10 {
        let sent = c.computes();
        if sent.is_empty() {
            break;
        }
        for (w, k) in sent {
            s.handle_worker(w, finished(&k.to_string(), 8), now, &mut c);
        }
    }
    assert_eq!(s.task_state(&"c".into()), Some(TaskState::Memory));
    s.validate().unwrap();
}
