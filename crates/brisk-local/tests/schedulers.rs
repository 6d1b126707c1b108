//! The local schedulers against the talk's example, failures, memory and random DAGs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use brisk_core::{Error, FailureKind, Func, Graph, Key, Task, Value, graph};
use brisk_local::{LocalScheduler, sync, threaded};
use brisk_test_utils::{LiveCounter, node_key, random_dag, tracked_tree};
use proptest::prelude::*;

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}

fn talk() -> Graph {
    graph! {
        "a" => 1,
        "x" => 10,
        "b" => (inc, "a"),
        "y" => (inc, "x"),
        "z" => (add, "b", "y"),
    }
}

fn schedulers() -> Vec<LocalScheduler> {
    vec![
        LocalScheduler::sync(),
        LocalScheduler::threaded(),
        LocalScheduler::threaded().num_threads(4),
    ]
}

#[test]
fn the_talks_graph_gives_13() {
    let g = talk();
    assert_eq!(sync::get::<i64>(&g, "z").unwrap(), 13);
    assert_eq!(threaded::get::<i64>(&g, "z").unwrap(), 13);
    let many = threaded::get_many(&g, &["z".into(), "b".into(), "a".into(), "z".into()]).unwrap();
    let many: Vec<i64> = many.iter().map(|v| v.get().unwrap()).collect();
    assert_eq!(many, [13, 2, 1, 13]);
}

#[test]
fn wrong_type_names_the_key() {
    let err = threaded::get::<String>(&talk(), "z").unwrap_err();
    assert!(matches!(err, Error::WrongType { .. }));
    assert_eq!(
        err.to_string(),
        "the value of z has the wrong type: expected a value of type alloc::string::String, found i64"
    );
}

#[test]
fn errors_and_panics_name_the_key_and_keep_the_message() {
    fn parse(s: String) -> Result<i64, std::num::ParseIntError> {
        s.parse()
    }
    fn boom(_: i64) -> i64 {
        panic!("the disk is on fire")
    }
    let g = graph! {
        "s" => brisk_core::lit("12x"),
        "n" => (parse, "s"),
        "m" => (add, "n", 1),
        "p" => (boom, 1),
    };
    for s in schedulers() {
        let err = s.get::<i64>(&g, "m").unwrap_err();
        let Error::TaskFailed { key, failure } = &err else {
            panic!("{err}")
        };
        assert_eq!(key, &Key::from("n"));
        assert_eq!(failure.kind, FailureKind::Error);
        assert!(failure.downcast_ref::<std::num::ParseIntError>().is_some());
        assert_eq!(
            err.to_string(),
            "task n failed: invalid digit found in string"
        );

        let err = s.get::<i64>(&g, "p").unwrap_err();
        assert_eq!(
            err.to_string(),
            "task p failed: panicked: the disk is on fire"
        );
        // The pool stays usable.
        assert_eq!(s.get::<i64>(&talk(), "z").unwrap(), 13);
    }
}

#[test]
fn validation_errors_come_before_running() {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    let mut g = graph! { "b" => (inc, "missing") };
    g.insert(
        "other",
        Task::new(
            move |x: i64| {
                r.fetch_add(1, Ordering::SeqCst);
                x
            },
            vec![brisk_core::Arg::Literal(Value::from(1))],
        ),
    )
    .unwrap();
    g.insert("both", brisk_core::task!(add, "b", "other"))
        .unwrap();
    let err = threaded::get::<i64>(&g, "both").unwrap_err();
    assert_eq!(
        err.to_string(),
        "task b needs missing, which is not in the graph"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    let err = threaded::get::<i64>(&g, "nope").unwrap_err();
    assert!(matches!(err, Error::UnknownKey { .. }));
}

#[test]
fn many_tiny_tasks_and_many_failures_never_hang() {
    let n = 20_000usize;
    let mut g = Graph::with_capacity(n + 1);
    let mut parts = Vec::new();
    for i in 0..n {
        g.insert(("x", i), brisk_core::task!(inc, i as i64))
            .unwrap();
        parts.push(brisk_core::Arg::Key(Key::from(("x", i))));
    }
    g.insert(
        "total",
        Task::new(
            |v: Vec<i64>| v.iter().sum::<i64>(),
            vec![brisk_core::Arg::List(parts)],
        ),
    )
    .unwrap();
    let expect: i64 = (1..=n as i64).sum();
    for _ in 0..5 {
        for s in schedulers() {
            assert_eq!(s.get::<i64>(&g, "total").unwrap(), expect);
        }
    }
    // Every other task fails: one error comes back, every time, and the pool survives.
    let mut bad = Graph::with_capacity(n + 1);
    let mut parts = Vec::new();
    for i in 0..n {
        let f = Func::new(move |x: i64| -> Result<i64, String> {
            if x % 2 == 0 {
                Err(format!("even {x}"))
            } else {
                Ok(x)
            }
        });
        bad.insert(
            ("y", i),
            Task {
                func: f,
                args: vec![brisk_core::Arg::Literal(Value::from(i as i64))],
            },
        )
        .unwrap();
        parts.push(brisk_core::Arg::Key(Key::from(("y", i))));
    }
    bad.insert(
        "total",
        Task::new(
            |v: Vec<i64>| v.len() as i64,
            vec![brisk_core::Arg::List(parts)],
        ),
    )
    .unwrap();
    for _ in 0..20 {
        let err = threaded::get::<i64>(&bad, "total").unwrap_err();
        assert!(err.to_string().contains("failed: even"), "{err}");
    }
    assert_eq!(threaded::get::<i64>(&g, "total").unwrap(), expect);
}

#[test]
fn tree_reduction_holds_few_values() {
    let leaves = 10_000;
    for s in schedulers() {
        let counter = LiveCounter::new();
        let (g, root) = tracked_tree(leaves, &counter);
        let v = s.get::<Value>(&g, root).unwrap();
        let total = v.downcast_ref::<brisk_test_utils::Tracked>().unwrap().value;
        assert_eq!(total, (0..leaves as i64).sum::<i64>());
        drop(v);
        assert_eq!(counter.live(), 0, "every value is released");
        // Depth is 14; with a few threads a few dozen values may be alive, never thousands.
        eprintln!(
            "{}: peak {}",
            brisk_core::Scheduler::name(&s),
            counter.peak()
        );
        assert!(counter.peak() <= 64, "peak {} values alive", counter.peak());
    }
}

#[test]
fn nested_computations_do_not_deadlock() {
    let inner = Arc::new(talk());
    let mut g = Graph::new();
    for i in 0..16usize {
        let inner = Arc::clone(&inner);
        let f = Func::new(move |x: i64| -> Result<i64, Error> {
            Ok(threaded::get::<i64>(&inner, "z")? + x)
        });
        g.insert(
            ("outer", i),
            Task {
                func: f,
                args: vec![brisk_core::Arg::Literal(Value::from(i as i64))],
            },
        )
        .unwrap();
    }
    let keys: Vec<Key> = (0..16usize).map(|i| Key::from(("outer", i))).collect();
    let out = LocalScheduler::threaded()
        .num_threads(2)
        .get_many(&g, &keys)
        .unwrap();
    for (i, v) in out.iter().enumerate() {
        assert_eq!(v.get::<i64>().unwrap(), 13 + i as i64);
    }
}

#[test]
fn values_are_shared_not_copied() {
    let big = Arc::new(vec![7u8; 1 << 20]);
    let b2 = Arc::clone(&big);
    let mut g = Graph::new();
    g.insert("big", Value::from_arc(b2)).unwrap();
    g.insert("same", brisk_core::task!(|v: Arc<Vec<u8>>| v, "big"))
        .unwrap();
    let v = threaded::get::<Arc<Vec<u8>>>(&g, "same").unwrap();
    assert!(Arc::ptr_eq(&v, &big));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every scheduler returns what a plain recursive evaluation returns, runs no task twice,
    /// and reports a failure for exactly the keys that depend on a failing task.
    #[test]
    fn random_dags_match_recursive_evaluation(dag in random_dag(60, 0.08)) {
        let keys: Vec<Key> = (0..dag.len()).map(node_key).collect();
        let mut memo = HashMap::new();
        let expected: Vec<_> = (0..dag.len()).map(|i| dag.reference(i, &mut memo)).collect();
        for s in schedulers() {
            let runs = dag.counters();
            let g = dag.graph(&runs);
            let got = s.get_each(&g, &keys).unwrap();
            for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
                match (got, want) {
                    (Ok(v), Ok(w)) => prop_assert_eq!(v.get::<i64>().unwrap(), *w),
                    (Err(e), Err(failing)) => {
                        let cause = match e {
                            Error::TaskFailed { key, .. } => key.clone(),
                            Error::DependencyFailed { cause, .. } => cause.clone(),
                            other => panic!("unexpected error {other}"),
                        };
                        let idx = cause.index()[0] as usize;
                        prop_assert!(failing.contains(&idx), "node {} blamed {} not in {:?}", i, idx, failing);
                    }
                    (got, want) => prop_assert!(false, "node {}: got {:?}, want {:?}", i, got.as_ref().map(|v| v.get::<i64>()), want),
                }
            }
            for (i, r) in runs.iter().enumerate() {
                prop_assert!(r.load(Ordering::SeqCst) <= 1, "node {} ran twice", i);
            }
            // With stop-on-error, a key is an error exactly when it depends on a failure.
            for (i, want) in expected.iter().enumerate() {
                let runs = dag.counters();
                let g = dag.graph(&runs);
                let r = s.get::<i64>(&g, node_key(i));
                prop_assert_eq!(r.is_err(), want.is_err());
                for (j, c) in runs.iter().enumerate() {
                    if c.load(Ordering::SeqCst) > 0 {
                        prop_assert!(dag.ancestors(i).contains(&j), "culled node {} ran", j);
                    }
                }
            }
        }
    }
}

#[test]
fn many_threads_computing_at_once_share_the_pool() {
    let g = Arc::new(talk());
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let g = Arc::clone(&g);
            std::thread::spawn(move || {
                for _ in 0..200 {
                    assert_eq!(threaded::get::<i64>(&g, "z").unwrap(), 13);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
