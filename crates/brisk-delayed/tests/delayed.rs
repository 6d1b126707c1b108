//! delayed: laziness, composition, shared work, persist, errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use brisk_core::{Collection, Error, compute};
use brisk_delayed::{Delayed, delayed};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

fn link() {
    // Make sure the local schedulers are linked into this test binary.
    let _ = brisk_local::LocalScheduler::threaded();
}

#[test]
fn composes_with_plain_values_and_other_delayeds() {
    link();
    let a = delayed(inc).call(1);
    let b = delayed(inc).call(10);
    let z = brisk_delayed::delayed!(add(&a, &b));
    assert_eq!(z.compute().unwrap(), 13);
    let parts: Vec<Delayed<i64>> = (0..100).map(|i| delayed(inc).call(i)).collect();
    let t = delayed(total).call(parts);
    assert_eq!(t.compute().unwrap(), (1..=100).sum::<i64>());
    let v = Delayed::value(41i64);
    assert_eq!(delayed(inc).call(v).compute().unwrap(), 42);
}

#[test]
fn nothing_runs_until_compute_and_common_work_runs_once() {
    link();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let expensive = delayed(move |x: i64| {
        c.fetch_add(1, Ordering::SeqCst);
        x * 2
    });
    let shared = expensive.call(21);
    let a = delayed(inc).call(&shared);
    let b = delayed(add).call(&shared, 1000);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "lazy");
    let (ra, rb) = compute((&a, &b)).unwrap();
    assert_eq!((ra, rb), (43, 1042));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "shared work ran once");
    let all = compute(&[a.clone(), b.clone()][..]).unwrap();
    assert_eq!(all, vec![43, 1042]);
}

#[test]
fn persist_keeps_the_value() {
    link();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let x = delayed(move |x: i64| {
        c.fetch_add(1, Ordering::SeqCst);
        x + 1
    })
    .call(1);
    let p = x.persist().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(p.key(), x.key());
    let y = delayed(add).call(&p, &p);
    assert_eq!(y.compute().unwrap(), 4);
    assert_eq!(p.compute().unwrap(), 2);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "persisted values are not recomputed"
    );
}

#[test]
fn errors_name_the_call() {
    link();
    let parse = delayed(|s: String| s.parse::<i64>());
    let n = parse.call("12x".to_string());
    let m = delayed(inc).call(&n);
    let err = m.compute().unwrap_err();
    let Error::TaskFailed { key, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(key, n.key());
    assert!(key.name().starts_with("closure-"), "{key}");
    assert!(
        err.to_string().ends_with("invalid digit found in string"),
        "{err}"
    );
}

#[test]
fn long_chains_build_and_run() {
    link();
    let mut x = delayed(inc).call(0);
    for _ in 0..20_000 {
        x = delayed(inc).call(&x);
    }
    assert_eq!(x.compute().unwrap(), 20_001);
}

#[test]
fn graphs_and_pictures() {
    link();
    let a = delayed(inc).call(1);
    let z = delayed(add).call(&a, &a);
    let g = z.graph();
    assert_eq!(g.len(), 2);
    let dir = std::env::temp_dir().join(format!("brisk-delayed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dot = z.visualize(dir.join("z.dot")).unwrap();
    let text = std::fs::read_to_string(dot).unwrap();
    assert!(
        text.contains("label=\"inc\"") && text.contains("label=\"add\""),
        "{text}"
    );
}
