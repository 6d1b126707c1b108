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
