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
brisk_core::register!(has_word as "tests::has_word", length as "tests::length");

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
