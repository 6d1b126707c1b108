//! Held values (what `persist()` returns on a cluster) in plans and on the local engine: never
//! inlined, planned under the held key, fetched when a local task needs them.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use brisk_core::plan::PlanNode;
use brisk_core::{Held, Key, Plan, PlanOptions, Value, graph};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}

fn held(key: &str, v: i64, fetches: &Arc<AtomicUsize>) -> Value {
    let n = Arc::clone(fetches);
    Held::new_value(
        Key::from(key),
        move || {
            n.fetch_add(1, Ordering::SeqCst);
            Ok(Value::from(v))
        },
        (),
    )
}

#[test]
fn held_literals_are_nodes_under_their_held_key() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut g = graph! { "y" => (inc, "x"), "z" => (add, "y", "x") };
    g.set("x", held("on-the-cluster", 41, &fetches));
    let plan = Plan::compile(&g, &[Key::from("z")], &PlanOptions::default()).unwrap();
    let held_ids: Vec<u32> = plan
        .order()
        .iter()
        .copied()
        .filter(|&id| matches!(plan.node(id), PlanNode::Value(v) if Held::of(v).is_some()))
        .collect();
    assert_eq!(held_ids.len(), 1, "one held node, shared by both users");
    assert_eq!(plan.key(held_ids[0]), &Key::from("on-the-cluster"));
    for &id in plan.order() {
        if let PlanNode::Task(_) = plan.node(id) {
            assert!(
                plan.deps(id).contains(&held_ids[0]),
                "{} does not depend on the held node",
                plan.key(id)
            );
        }
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        0,
        "compiling fetches nothing"
    );
}

#[test]
fn the_local_engine_fetches_held_values_once() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut g = graph! { "y" => (inc, "x"), "z" => (add, "y", "x") };
    g.set("x", held("on-the-cluster", 41, &fetches));
    let z: i64 = brisk_local::threaded::get(&g, "z").unwrap();
    assert_eq!(z, 42 + 41);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // A held output is fetched too.
    let x: i64 = brisk_local::sync::get(&g, "x").unwrap();
    assert_eq!(x, 41);
}

#[test]
fn a_failed_fetch_is_an_error_naming_the_key() {
    let mut g = graph! { "y" => (inc, "x") };
    g.set(
        "x",
        Held::new_value(Key::from("gone"), || Err(brisk_core::Error::Cancelled), ()),
    );
    let e = brisk_local::threaded::get::<i64>(&g, "y").unwrap_err();
    // The held key names the task that failed; the holder's own error is the cause.
    assert_eq!(
        e.to_string(),
        "task gone failed: the computation was cancelled"
    );
}
