//! The named bag stages (what a cluster runs) give what the closures give.

#![allow(clippy::unwrap_used)]

use brisk_bag::{Bag, contains};
use brisk_core::{Collection, Func, Value};

fn lines() -> Bag<String> {
    let v: Vec<String> = (0..1000)
        .map(|i| format!("{i} {}", ["python", "rust", "julia"][i % 3]))
        .collect();
    Bag::from_sequence(v, 7)
}

fn has_word(word: String, line: String) -> bool {
    line.split_whitespace().any(|w| w == word)
}
fn length(line: String) -> u64 {
    line.len() as u64
}
fn words(line: String) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}
brisk_core::register!(
    has_word as "tests::has_word",
    length as "tests::length",
    words as "tests::words"
);

#[test]
fn registered_map_and_flat_map_use_the_named_kernels_and_match_the_closures() {
    let _ = brisk_local::LocalScheduler::threaded();
    let b = lines();
    let named = b.map(length);
    let graph = named.graph();
    fn calls(t: &brisk_core::Task, name: &str) -> bool {
        t.func.name() == Some(name)
            || t.args.iter().any(|a| match a {
                brisk_core::Arg::Task(inner) => calls(inner, name),
                _ => false,
            })
    }
    assert!(
        graph
            .iter()
            .any(|(_, n)| matches!(n, brisk_core::Node::Task(t)
            if calls(t, "brisk_bag::map<String,u64>"))),
        "the map stage is not the named kernel"
    );
    let closure: Vec<u64> = b.map(|l: String| l.len() as u64).compute().unwrap();
    assert_eq!(named.compute().unwrap(), closure);
    let w: Vec<String> = b.flat_map(words).compute().unwrap();
    let want: Vec<String> = b
        .flat_map(|l: String| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .compute()
        .unwrap();
    assert_eq!(w, want);
    assert_eq!(w.len(), 2000);
}

#[test]
fn filter_func_and_count_match_the_closures() {
    let _ = brisk_local::LocalScheduler::threaded();
    let b = lines();
    let want = b
        .filter(|l| l.contains("python"))
        .count()
        .compute()
        .unwrap();
    assert_eq!(want, 334);
    assert_eq!(
        b.filter_func(contains("python")).count().compute().unwrap(),
        want
    );
    // A bound user function (the general path: called per record).
    let bound = Func::new(has_word).bind(vec![Value::new("rust".to_string())]);
    let got = b.filter_func(bound).compute().unwrap();
    let want: Vec<String> = b.filter(|l| l.ends_with(" rust")).compute().unwrap();
    assert_eq!(got, want);
    assert_eq!(b.count().compute().unwrap(), 1000);
}

#[test]
fn a_predicate_that_is_not_a_bool_is_an_error_naming_it() {
    let _ = brisk_local::LocalScheduler::threaded();
    let e = lines()
        .filter_func(Func::by_name("tests::length").unwrap())
        .count()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("length") && e.contains("bool"), "{e}");
}

fn count_key(pair: (String, u64)) -> u64 {
    pair.1
}
fn word_key(pair: (String, u64)) -> String {
    pair.0
}
fn unorderable(_: (String, u64)) -> Vec<u64> {
    vec![1]
}
fn doubled(part: Vec<u64>) -> Vec<u64> {
    part.into_iter().map(|x| 2 * x).collect()
}
brisk_core::register!(
    count_key as "tests::count_key",
    word_key as "tests::word_key",
    unorderable as "tests::unorderable",
    doubled as "tests::doubled"
);

/// Every task of the graph calls a registered function (what a cluster's workers can run).
fn all_named<C: Collection>(c: &C) -> bool {
    fn named(t: &brisk_core::Task) -> bool {
        t.func.name().is_some()
            && t.args.iter().all(|a| match a {
                brisk_core::Arg::Task(inner) => named(inner),
                _ => true,
            })
    }
    c.graph().iter().all(|(_, n)| match n {
        brisk_core::Node::Task(t) => named(t),
        _ => true,
    })
}

#[test]
fn the_word_count_is_named_end_to_end_and_matches_the_closures() {
    let _ = brisk_local::LocalScheduler::threaded();
    // Skewed words with many ties, over more partitions than a merge takes (8).
    let v: Vec<String> = (0..3000)
        .map(|i| format!("w{} x{} Common", (i * 7919) % 23, i % 5))
        .collect();
    let b = Bag::from_sequence(v, 19);
    let freq = b.split_whitespace().lower().frequencies();
    for k in [0, 1, 3, 6, 30, 100] {
        let closure = freq.topk_by(k, |(_, n)| *n).compute().unwrap();
        let common = freq.most_common(k);
        assert!(all_named(&common), "most_common({k}) has closures");
        assert_eq!(common.compute().unwrap(), closure, "most_common({k})");
        let by_fn = freq
            .topk_by_func(k, Func::new(count_key))
            .compute()
            .unwrap();
        assert_eq!(by_fn, closure, "topk_by_func({k})");
        let by_word = freq.topk_by_func(k, Func::new(word_key)).compute().unwrap();
        let want = freq.topk_by(k, |(w, _)| w.clone()).compute().unwrap();
        assert_eq!(by_word, want, "string keys, k={k}");
    }
    // Against a plain count.
    let mut want = std::collections::HashMap::<String, u64>::new();
    for l in b.compute().unwrap() {
        for w in l.split_whitespace() {
            *want.entry(w.to_lowercase()).or_default() += 1;
        }
    }
    let got: std::collections::HashMap<String, u64> = freq.compute().unwrap().into_iter().collect();
    assert_eq!(got, want);
    assert!(all_named(&freq));
    // Integer keys.
    let ints = Bag::from_sequence((0..5000u64).map(|i| i % 37).collect::<Vec<_>>(), 9);
    let f = ints.frequencies();
    assert!(all_named(&f.most_common(3)));
    assert_eq!(
        f.most_common(3).compute().unwrap(),
        f.topk_by(3, |(_, n)| *n).compute().unwrap()
    );
}

#[test]
fn a_key_that_cannot_be_ordered_is_an_error_naming_the_function() {
    let _ = brisk_local::LocalScheduler::threaded();
    let b = Bag::from_sequence(vec!["a b a".to_string()], 1);
    let err = b
        .split_whitespace()
        .frequencies()
        .topk_by_func(1, Func::new(unorderable))
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unorderable") && err.contains("Vec<u64>"),
        "{err}"
    );
}

#[test]
fn registered_map_partitions_and_string_stages_are_named() {
    let _ = brisk_local::LocalScheduler::threaded();
    let b = Bag::from_sequence((0..100u64).collect::<Vec<_>>(), 6);
    let d = b.map_partitions(doubled);
    assert!(all_named(&d));
    assert!(
        !all_named(&b.map_partitions(|p: Vec<u64>| p)),
        "a closure counted as named"
    );
    assert_eq!(
        d.compute().unwrap(),
        (0..100u64).map(|x| 2 * x).collect::<Vec<_>>()
    );
    let s = lines().split(" ").trim().lower();
    assert!(all_named(&s));
    assert_eq!(s.compute().unwrap().len(), 2000);
}

#[test]
fn numeric_reductions_are_named_and_right() {
    let _ = brisk_local::LocalScheduler::threaded();
    let ints: Vec<i64> = (0..1000).map(|i| (i * 7919) % 1013 - 500).collect();
    let b = Bag::from_sequence(ints.clone(), 11);
    assert!(all_named(&b.sum()) && all_named(&b.mean()));
    assert!(all_named(&b.min()) && all_named(&b.max()));
    assert_eq!(b.sum().compute().unwrap(), ints.iter().sum::<i64>());
    assert_eq!(b.min().compute().unwrap(), *ints.iter().min().unwrap());
    assert_eq!(b.max().compute().unwrap(), *ints.iter().max().unwrap());
    let mean = ints.iter().sum::<i64>() as f64 / ints.len() as f64;
    assert!((b.mean().compute().unwrap() - mean).abs() < 1e-9);
    let u = Bag::from_sequence((1..=100u64).collect::<Vec<_>>(), 3);
    assert_eq!(u.sum().compute().unwrap(), 5050);
    assert_eq!(u.mean().compute().unwrap(), 50.5);
    // Floats: a NaN never replaces a number already seen (as the closures do).
    let f = Bag::from_sequence(vec![2.5, f64::NAN, -1.0, 7.0], 2);
    assert_eq!(f.min().compute().unwrap(), -1.0);
    assert_eq!(f.max().compute().unwrap(), 7.0);
    // Strings.
    let s = lines();
    assert!(all_named(&s.min()));
    let all = s.compute().unwrap();
    assert_eq!(s.min().compute().unwrap(), *all.iter().min().unwrap());
    assert_eq!(s.max().compute().unwrap(), *all.iter().max().unwrap());
    // Empty bags: the error names the operation.
    let empty = Bag::from_sequence(Vec::<f64>::new(), 1);
    assert_eq!(empty.sum().compute().unwrap(), 0.0);
    for (op, err) in [
        ("mean", empty.mean().compute().unwrap_err()),
        ("min", empty.min().compute().unwrap_err()),
        ("max", empty.max().compute().unwrap_err()),
    ] {
        assert!(err.to_string().contains(op), "{op}: {err}");
    }
}
