//! Graphs streamed in pieces (`GraphPiece`): work starts with the first piece, tasks of later
//! pieces find the results of earlier ones, and a whole graph is checked at its last piece
//! (missing keys and cycles are errors to the client, with nothing left behind).

use std::time::Instant;

use brisk_core::Key;
use brisk_protocol::messages::{FromClient, NewTask, ToClient};
use brisk_scheduler::{SchedulerConfig, SchedulerState, TaskState};

mod common;

use common::{Rec, task};

fn setup() -> (SchedulerState, Rec, Instant) {
    let mut s = SchedulerState::new(SchedulerConfig::default());
    let mut c = Rec::default();
    let now = Instant::now();
    for w in [1, 2] {
        s.add_worker(w, common::registration(&w.to_string(), 1, 0), now, &mut c);
    }
    s.add_client(7, &mut c);
    c.to_workers.clear();
    c.to_clients.clear();
    (s, c, now)
}

fn piece(graph: u64, tasks: Vec<NewTask>, wanted: &[&str], last: bool) -> FromClient {
    FromClient::GraphPiece {
        graph,
        tasks,
        wanted: wanted.iter().map(|k| Key::from(*k)).collect(),
        last,
    }
}

/// Run every task the scheduler hands out until none is left; returns how many ran.
fn drain(s: &mut SchedulerState, c: &mut Rec, now: Instant) -> usize {
    let mut ran = 0;
    for _ in 0..10_000 {
        let sent = c.computes();
        if sent.is_empty() {
            break;
        }
        for (w, k) in sent {
            s.handle_worker(w, common::finished_at(&k, 8, 0, 10), now, c);
            ran += 1;
            s.validate().expect("the invariants hold");
        }
    }
    ran
}

fn erred(c: &mut Rec) -> Vec<(Key, Key, String)> {
    c.client_msgs()
        .into_iter()
        .filter_map(|m| match m {
            ToClient::Erred {
                key,
                cause,
                failure,
            } => Some((key, cause, failure.message)),
            _ => None,
        })
        .collect()
}

#[test]
fn work_starts_with_the_first_piece_and_unwanted_results_wait_for_their_dependents() {
    let (mut s, mut c, now) = setup();
    s.handle_client(
        7,
        piece(1, vec![task("a", &[], 0), task("b", &[], 1)], &[], false),
        &mut c,
    );
    s.validate().expect("the invariants hold");
    assert_eq!(
        drain(&mut s, &mut c, now),
        2,
        "roots of the first piece run at once"
    );
    assert_eq!(s.task_state(&"a".into()), Some(TaskState::Memory));
    assert!(
        c.frees().is_empty(),
        "nothing needs a and b yet, but the graph is open"
    );
    s.handle_client(
        7,
        piece(1, vec![task("z", &["a", "b"], 2)], &["z"], true),
        &mut c,
    );
    s.validate().expect("the invariants hold");
    assert_eq!(drain(&mut s, &mut c, now), 1);
    let mut freed: Vec<Key> = c.frees().into_iter().map(|(_, k)| k).collect();
    freed.sort();
    assert_eq!(freed, vec![Key::from("a"), Key::from("b")]);
    assert_eq!(s.task_state(&"z".into()), Some(TaskState::Memory));
    assert_eq!(s.num_tasks(), 3, "z's lineage stays");
    s.handle_client(
        7,
        FromClient::Release {
            keys: vec!["z".into()],
        },
        &mut c,
    );
    s.validate().expect("the invariants hold");
    assert_eq!(s.num_tasks(), 0);
}

#[test]
fn a_task_before_its_dependency_waits_for_it() {
    let (mut s, mut c, now) = setup();
    s.handle_client(
        7,
        piece(4, vec![task("z", &["a"], 1)], &["z"], false),
        &mut c,
    );
    assert_eq!(s.num_tasks(), 0, "z is held until a arrives");
    assert!(c.computes().is_empty());
    s.handle_client(7, piece(4, vec![task("a", &[], 0)], &[], true), &mut c);
    s.validate().expect("the invariants hold");
    assert_eq!(drain(&mut s, &mut c, now), 2);
    assert_eq!(s.task_state(&"z".into()), Some(TaskState::Memory));
    assert!(
        matches!(&c.client_msgs()[..], [ToClient::InMemory { key, .. }] if *key == Key::from("z"))
    );
}

#[test]
fn a_missing_key_errs_at_the_end_and_leaves_nothing_waiting() {
    let (mut s, mut c, now) = setup();
    s.handle_client(7, piece(2, vec![task("a", &[], 0)], &["a"], false), &mut c);
    s.handle_client(
        7,
        piece(
            2,
            vec![task("b", &["nowhere"], 1), task("c", &["b"], 2)],
            &["c"],
            false,
        ),
        &mut c,
    );
    assert!(erred(&mut c).is_empty(), "the key may still come");
    s.handle_client(7, piece(2, vec![], &[], true), &mut c);
    let errs = erred(&mut c);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let (key, cause, message) = &errs[0];
    assert_eq!((key, cause), (&Key::from("c"), &Key::from("b")));
    assert!(message.contains("needs nowhere"), "{message}");
    drain(&mut s, &mut c, now);
    s.validate().expect("the invariants hold");
    assert_eq!(s.num_tasks(), 1, "only the wanted, valid a is left");
    s.handle_client(
        7,
        FromClient::Release {
            keys: vec!["a".into()],
        },
        &mut c,
    );
    assert_eq!(s.num_tasks(), 0);
}

#[test]
fn a_cycle_is_named_and_nothing_of_it_runs() {
    let (mut s, mut c, now) = setup();
    let tasks = vec![
        task("x", &[], 0),
        task("p", &["x", "r"], 1),
        task("q", &["p"], 2),
        task("r", &["q"], 3),
        task("out", &["q"], 4),
    ];
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks,
            wanted: vec!["out".into(), "x".into()],
        },
        &mut c,
    );
    let errs = erred(&mut c);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let (key, _, message) = &errs[0];
    assert_eq!(key, &Key::from("out"));
    assert!(message.contains("cycle"), "{message}");
    for k in ["p", "q", "r"] {
        assert!(message.contains(k), "{message} names {k}");
    }
    assert_eq!(drain(&mut s, &mut c, now), 1, "only x runs");
    s.validate().expect("the invariants hold");
    assert_eq!(s.num_tasks(), 1);
}

#[test]
fn a_client_leaving_mid_graph_releases_its_pieces() {
    let (mut s, mut c, now) = setup();
    s.handle_client(
        7,
        piece(3, vec![task("a", &[], 0), task("b", &["a"], 1)], &[], false),
        &mut c,
    );
    drain(&mut s, &mut c, now);
    assert_eq!(s.num_tasks(), 2);
    s.remove_client(7, &mut c);
    s.validate().expect("the invariants hold");
    assert_eq!(
        s.num_tasks(),
        0,
        "the open graph's pins are gone with the client"
    );
}

#[test]
fn a_large_map_in_many_pieces_equals_one_message() {
    let (mut s, mut c, now) = setup();
    let n = 1_000;
    let tasks: Vec<NewTask> = (0..n).map(|i| task(&format!("t-{i:x}"), &[], i)).collect();
    for (p, chunk) in tasks.chunks(64).enumerate() {
        let wanted: Vec<Key> = chunk.iter().map(|t| t.key.clone()).collect();
        let last = (p + 1) * 64 >= n as usize;
        s.handle_client(
            7,
            FromClient::GraphPiece {
                graph: 9,
                tasks: chunk.to_vec(),
                wanted,
                last,
            },
            &mut c,
        );
        s.validate().expect("the invariants hold");
    }
    assert_eq!(drain(&mut s, &mut c, now), n as usize);
    let done = c
        .client_msgs()
        .iter()
        .filter(|m| matches!(m, ToClient::InMemory { .. }))
        .count();
    assert_eq!(done, n as usize);
    assert_eq!(s.num_tasks(), n as usize);
}

#[test]
fn a_self_dependency_and_an_unknown_wanted_key_are_errors() {
    let (mut s, mut c, now) = setup();
    s.handle_client(
        7,
        FromClient::UpdateGraph {
            tasks: vec![task("ok", &[], 0), task("me", &["me"], 1)],
            wanted: vec!["me".into(), "nowhere".into(), "ok".into()],
        },
        &mut c,
    );
    let mut errs = erred(&mut c);
    errs.sort();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(errs[0].0, Key::from("me"));
    assert!(
        errs[0].2.contains("cycle") && errs[0].2.contains("me"),
        "{errs:?}"
    );
    assert_eq!(errs[1].0, Key::from("nowhere"));
    assert!(errs[1].2.contains("neither in the graph"), "{errs:?}");
    assert_eq!(drain(&mut s, &mut c, now), 1, "only ok runs");
    s.validate().expect("the invariants hold");
    assert_eq!(s.num_tasks(), 1);
}
