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

// ---- distinct, pluck, fold, reduction, foldby, groupby as named kernels ----

/// Registers a one-argument function the way `#[brisk::func]` does (the facade's attribute is
/// not a dependency of this crate): the registered form reads the argument as exactly its
/// type (no `FromValue` needed, as for `serde_json::Value`) and, for `&T`, lends it. So
/// `Func::registered::<F>()` finds `fn(&T) -> K` items.
macro_rules! user_func {
    ($f:ident(&$t:ty) as $name:literal) => {
        user_func!(@ $f, $t, $name, |x: $t| $f(&x));
    };
    ($f:ident($t:ty) as $name:literal) => {
        user_func!(@ $f, $t, $name, |x: $t| $f(x));
    };
    (@ $f:ident, $t:ty, $name:literal, $call:expr) => {
        brisk_core::__private::inventory::submit! {
            brisk_core::func::FunctionEntry {
                name: $name,
                type_id: || brisk_core::func::type_id_of_val(&$f),
                make: || Func::named_raw($name, stringify!($f), |args: &[Value]| {
                    let x = args
                        .first()
                        .ok_or_else(|| brisk_core::func::arity_failure(stringify!($f), 1, 0))?;
                    let x = brisk_core::value::clone_exact::<$t>(x)
                        .map_err(|m| brisk_core::TaskFailure::msg(m.to_string()))?;
                    Ok(Value::new(($call)(x)))
                }),
            }
        }
    };
}

/// Pseudo-random numbers (an LCG), so that the data has ties and repeats but no seed to keep.
fn lcg(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        })
        .collect()
}

/// Integers with many repeats, in 23 partitions of which `nonneg` empties five (the runs of
/// negative numbers), so reductions see empty partitions in the middle of the tree.
fn ints() -> (Bag<i64>, Vec<i64>) {
    let mut xs: Vec<i64> = lcg(2300, 7).into_iter().map(|v| (v % 61) as i64).collect();
    for p in [0usize, 4, 5, 11, 22] {
        for x in &mut xs[p * 100..(p + 1) * 100] {
            *x = -1 - *x;
        }
    }
    let kept: Vec<i64> = xs.iter().copied().filter(|x| *x >= 0).collect();
    let b = Bag::from_sequence(xs, 23).filter_func(Func::new(nonneg));
    (b, kept)
}

fn nonneg(x: i64) -> bool {
    x >= 0
}
fn add(a: i64, b: i64) -> i64 {
    a + b
}
fn add_square(acc: i64, x: i64) -> i64 {
    acc + x * x
}
fn add_u64(a: u64, b: u64) -> u64 {
    a + b
}
fn add_f64(a: f64, b: f64) -> f64 {
    a + b
}
fn count_one(acc: u64, _w: String) -> u64 {
    acc + 1
}
fn concat(a: String, b: String) -> String {
    a + &b
}
fn checked_add(acc: i64, x: i64) -> Result<i64, String> {
    if x == 42 {
        Err(format!("refusing {x}"))
    } else {
        Ok(acc + x)
    }
}
fn part_len(p: Vec<i64>) -> u64 {
    p.len() as u64
}
fn total(ps: Vec<u64>) -> u64 {
    ps.into_iter().sum()
}
fn firsts(p: Vec<String>) -> Vec<String> {
    p.into_iter().take(1).collect()
}
fn concat_all(ps: Vec<Vec<String>>) -> Vec<String> {
    ps.concat()
}
fn mod7(x: &i64) -> i64 {
    x.rem_euclid(7)
}
fn mod13(x: &i64) -> i64 {
    x.rem_euclid(13)
}
fn mod7_owned(x: i64) -> i64 {
    x.rem_euclid(7)
}
fn initial(w: String) -> String {
    w.chars().next().map(String::from).unwrap_or_default()
}
fn bucket(x: f64) -> i64 {
    x.floor() as i64
}
fn user_of(v: &serde_json::Value) -> String {
    v["user"].as_str().unwrap_or("?").to_string()
}
brisk_core::register!(
    nonneg as "tests::nonneg",
    add as "tests::add",
    add_square as "tests::add_square",
    add_u64 as "tests::add_u64",
    add_f64 as "tests::add_f64",
    count_one as "tests::count_one",
    concat as "tests::concat",
    checked_add as "tests::checked_add",
    part_len as "tests::part_len",
    total as "tests::total",
    firsts as "tests::firsts",
    concat_all as "tests::concat_all",
    mod7_owned as "tests::mod7_owned",
    initial as "tests::initial",
    bucket as "tests::bucket"
);
user_func!(mod7(&i64) as "tests::mod7");
user_func!(mod13(&i64) as "tests::mod13");
user_func!(user_of(&serde_json::Value) as "tests::user_of");

fn first_seen<T: Clone + std::hash::Hash + Eq>(xs: &[T]) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    xs.iter()
        .filter(|x| seen.insert((*x).clone()))
        .cloned()
        .collect()
}

fn word_data(n: usize) -> Vec<String> {
    lcg(n, 3)
        .into_iter()
        .map(|v| {
            format!(
                "{}{}",
                ["ab", "b", "ca", "d", "ab"][(v % 5) as usize],
                v % 17
            )
        })
        .collect()
}

#[test]
fn distinct_is_named_for_the_hashable_records_and_keeps_first_appearances() {
    let _ = brisk_local::LocalScheduler::threaded();
    let (b, kept) = ints();
    let d = b.distinct();
    assert!(all_named(&d), "distinct<i64> has closures");
    assert_eq!(d.compute().unwrap(), first_seen(&kept));
    let u = Bag::from_sequence(lcg(3000, 11).into_iter().map(|v| v % 97).collect(), 31);
    assert!(all_named(&u.distinct()));
    assert_eq!(
        u.distinct().compute().unwrap(),
        first_seen(&u.compute().unwrap())
    );
    let w = word_data(2500);
    let s = Bag::from_sequence(w.clone(), 17).distinct();
    assert!(all_named(&s));
    assert_eq!(s.compute().unwrap(), first_seen(&w));
    let json: Vec<serde_json::Value> = lcg(900, 5)
        .into_iter()
        .map(|v| serde_json::json!({"k": v % 13, "tags": [v % 2]}))
        .collect();
    let j = Bag::from_sequence(json.clone(), 10).distinct();
    assert!(all_named(&j));
    assert_eq!(j.compute().unwrap(), first_seen(&json));
    // Empty bags, and a record type without named kernels (the same functions, in closures).
    assert!(
        Bag::from_sequence(Vec::<String>::new(), 4)
            .distinct()
            .compute()
            .unwrap()
            .is_empty()
    );
    assert!(
        b.filter_func(Func::new(nonneg))
            .map(|x: i64| -x - 1)
            .filter_func(Func::new(nonneg))
            .distinct()
            .compute()
            .unwrap()
            .is_empty()
    );
    let pairs: Vec<(u8, char)> = (0..500u32)
        .map(|i| ((i % 7) as u8, ['x', 'y'][(i % 2) as usize]))
        .collect();
    let p = Bag::from_sequence(pairs.clone(), 9).distinct();
    assert!(!all_named(&p), "a type without kernels counted as named");
    assert_eq!(p.compute().unwrap(), first_seen(&pairs));
}

fn records() -> Vec<serde_json::Value> {
    lcg(1200, 9)
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let mut r = serde_json::json!({
                "id": i,
                "user": format!("u{}", v % 9),
                "tags": ["t", v % 4, {"deep": v % 3}],
            });
            if v % 5 == 0 {
                r["amount"] = serde_json::json!(v % 100);
            }
            r
        })
        .collect()
}

#[test]
fn pluck_and_pluck_or_are_named_and_match_plain_rust() {
    let _ = brisk_local::LocalScheduler::threaded();
    let recs = records();
    let b = Bag::from_sequence(recs.clone(), 13);
    let ids = b.pluck("id");
    assert!(all_named(&ids), "pluck has closures");
    let want: Vec<serde_json::Value> = recs.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids.compute().unwrap(), want);
    // An array index, and a field of a nested object.
    let deep = b.pluck("tags").pluck(2).pluck("deep");
    assert!(all_named(&deep));
    let want: Vec<serde_json::Value> = recs.iter().map(|r| r["tags"][2]["deep"].clone()).collect();
    assert_eq!(deep.compute().unwrap(), want);
    let amounts = b.pluck_or("amount", serde_json::json!(-1));
    assert!(all_named(&amounts));
    let want: Vec<serde_json::Value> = recs
        .iter()
        .map(|r| r.get("amount").cloned().unwrap_or(serde_json::json!(-1)))
        .collect();
    assert_eq!(amounts.compute().unwrap(), want);
    assert!(want.iter().any(|a| a == -1) && want.iter().any(|a| a != -1));
    // Named all the way to a reduction.
    let users = b.pluck("user").distinct();
    assert!(all_named(&users));
    assert_eq!(users.compute().unwrap().len(), 9);
    // pluck_or of records that are not objects: the default (dask's `pluck(key, default)`).
    let mixed = Bag::from_sequence(
        vec![
            serde_json::json!(5),
            serde_json::json!({"a": 1}),
            serde_json::json!(null),
        ],
        2,
    );
    assert_eq!(
        mixed.pluck_or("a", serde_json::json!(0)).compute().unwrap(),
        [
            serde_json::json!(0),
            serde_json::json!(1),
            serde_json::json!(0)
        ]
    );
    assert!(
        Bag::from_sequence(Vec::<serde_json::Value>::new(), 3)
            .pluck("a")
            .compute()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn pluck_of_a_missing_field_is_an_error_naming_the_field_and_the_record() {
    let _ = brisk_local::LocalScheduler::threaded();
    let b = Bag::from_sequence(records(), 7);
    let e = b.pluck("amount").compute().unwrap_err().to_string();
    assert!(
        e.contains("no field \"amount\"") && e.contains("an object {"),
        "{e}"
    );
    let e = b.pluck("tags").pluck(7).compute().unwrap_err().to_string();
    assert!(
        e.contains("no field [7]") && e.contains("an array [\"t\""),
        "{e}"
    );
    let not_objects =
        Bag::from_sequence(vec![serde_json::json!({"a": 1}), serde_json::json!(5)], 1);
    let e = not_objects
        .pluck("a")
        .count()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no field \"a\"") && e.contains("a number 5"),
        "{e}"
    );
    let long = Bag::from_sequence(vec![serde_json::json!({"text": "x".repeat(500)})], 1);
    let e = long.pluck("a").compute().unwrap_err().to_string();
    assert!(
        e.contains('…') && e.len() < 300,
        "the record is not cut short: {e}"
    );
}

#[test]
fn fold_and_reduction_with_registered_functions_are_named_and_match_the_closures() {
    let _ = brisk_local::LocalScheduler::threaded();
    let (b, kept) = ints();
    let named = b.fold(0i64, add_square, add);
    assert!(
        all_named(&named),
        "fold with registered functions has closures"
    );
    let closure = b
        .fold(0i64, |a, x| a + x * x, |a, c| a + c)
        .compute()
        .unwrap();
    assert_eq!(closure, kept.iter().map(|x| x * x).sum::<i64>());
    assert_eq!(named.compute().unwrap(), closure);
    assert_eq!(
        b.fold_func(0i64, add_square, add).compute().unwrap(),
        closure
    );
    assert!(
        !all_named(&b.fold(0i64, |a, x| a + x, add)),
        "a closure counted as named"
    );
    // Order: concatenation is not commutative, and 40 partitions make a two-level tree.
    let w = word_data(1000);
    let s = Bag::from_sequence(w.clone(), 40);
    let cat = s.fold(String::new(), concat, concat);
    assert!(all_named(&cat));
    assert_eq!(cat.compute().unwrap(), w.concat());
    // Empty bags: the initial value.
    let empty = Bag::from_sequence(Vec::<i64>::new(), 3);
    assert_eq!(empty.fold(5i64, add_square, add).compute().unwrap(), 5);
    // reduction: the partition sizes, and the first record of each partition in order.
    let r = b.reduction(part_len, total);
    assert!(all_named(&r));
    assert_eq!(r.compute().unwrap(), kept.len() as u64);
    let closure = b
        .reduction(
            |p: Vec<i64>| p.len() as u64,
            |ps: Vec<u64>| ps.into_iter().sum::<u64>(),
        )
        .compute()
        .unwrap();
    assert_eq!(closure, kept.len() as u64);
    let heads = s
        .reduction_func::<Vec<String>, _, _>(firsts, concat_all)
        .compute()
        .unwrap();
    let want: Vec<String> = w.chunks(25).map(|c| c[0].clone()).collect();
    assert_eq!(heads, want);
    assert_eq!(empty.reduction(part_len, total).compute().unwrap(), 0);
}

#[test]
fn a_failing_or_mistyped_function_is_an_error_naming_it() {
    let _ = brisk_local::LocalScheduler::threaded();
    let b = Bag::from_sequence((0..100i64).collect(), 6);
    let e = b
        .fold_func(0i64, checked_add, add)
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("checked_add") && e.contains("refusing 42"),
        "{e}"
    );
    // A key function returning another type than the bag's keys.
    let e = b
        .foldby_func::<u64, i64, _, _, _>(Func::new(mod7_owned), 0, Func::new(add), Func::new(add))
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mod7_owned") && e.contains("i64") && e.contains("u64"),
        "{e}"
    );
    let e = b
        .groupby_func::<String, _>(Func::new(mod7_owned), None)
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("mod7_owned") && e.contains("String"), "{e}");
    // A function that takes another record type.
    let e = b
        .fold_func(0i64, Func::new(count_one), Func::new(add))
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("count_one"), "{e}");
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn foldby_with_registered_functions_is_named_and_matches_the_closures() {
    let _ = brisk_local::LocalScheduler::threaded();
    let (b, kept) = ints();
    let named = b.foldby(mod7, 0i64, add, add);
    assert!(
        all_named(&named),
        "foldby with registered functions has closures"
    );
    let got = named.compute().unwrap();
    let closure = b
        .foldby(|x| x.rem_euclid(7), 0i64, |a, x| a + x, |a, c| a + c)
        .compute()
        .unwrap();
    let mut want = std::collections::BTreeMap::<i64, i64>::new();
    for x in &kept {
        *want.entry(x.rem_euclid(7)).or_default() += x;
    }
    assert_eq!(sorted(got.clone()), sorted(closure));
    assert_eq!(sorted(got.clone()), want.into_iter().collect::<Vec<_>>());
    // Keys in order of first appearance.
    let order: Vec<i64> = first_seen(&kept.iter().map(|x| x.rem_euclid(7)).collect::<Vec<_>>());
    assert_eq!(got.iter().map(|p| p.0).collect::<Vec<_>>(), order);
    // String keys and u64 counts over words; f64 sums by an i64 bucket.
    let w = word_data(3000);
    let s = Bag::from_sequence(w.clone(), 19);
    let counts = s.foldby_func::<String, u64, _, _, _>(initial, 0, count_one, add_u64);
    assert!(all_named(&counts));
    let mut want = std::collections::BTreeMap::<String, u64>::new();
    for x in &w {
        *want.entry(x[..1].to_string()).or_default() += 1;
    }
    assert_eq!(
        sorted(counts.compute().unwrap()),
        want.into_iter().collect::<Vec<_>>()
    );
    let fs: Vec<f64> = lcg(1000, 2)
        .into_iter()
        .map(|v| (v % 400) as f64 / 8.0)
        .collect();
    let f = Bag::from_sequence(fs.clone(), 12);
    let sums = f.foldby_func::<i64, f64, _, _, _>(bucket, 0.0, add_f64, add_f64);
    assert!(all_named(&sums));
    let closure = f.foldby(|x| x.floor() as i64, 0.0, |a, x| a + x, |a, c| a + c);
    let by_key = |v: Vec<(i64, f64)>| {
        let mut v = v;
        v.sort_by_key(|p| p.0);
        v
    };
    assert_eq!(
        by_key(sums.compute().unwrap()),
        by_key(closure.compute().unwrap())
    );
    // Empty bags.
    let empty = Bag::from_sequence(Vec::<i64>::new(), 2);
    assert!(
        empty
            .foldby(mod7, 0i64, add, add)
            .compute()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn groupby_with_a_registered_key_is_named_and_matches_the_closure() {
    let _ = brisk_local::LocalScheduler::threaded();
    let (b, kept) = ints();
    for out in [None, Some(1), Some(5), Some(40)] {
        let named = b.groupby(mod13, out);
        assert!(all_named(&named), "groupby({out:?}) has closures");
        let closure = b.groupby(|x| x.rem_euclid(13), out);
        assert_eq!(named.npartitions(), closure.npartitions());
        // The same buckets and the same gathering: the very same partitions.
        let got = named.compute().unwrap();
        assert_eq!(got, closure.compute().unwrap(), "groupby({out:?})");
        let mut want = std::collections::BTreeMap::<i64, Vec<i64>>::new();
        for &x in &kept {
            want.entry(x.rem_euclid(13)).or_default().push(x);
        }
        assert_eq!(sorted(got), want.into_iter().collect::<Vec<_>>());
    }
    // JSON records by a String key.
    let recs = records();
    let j = Bag::from_sequence(recs.clone(), 8).groupby(user_of, Some(3));
    assert!(all_named(&j));
    let mut want = std::collections::BTreeMap::<String, Vec<serde_json::Value>>::new();
    for r in &recs {
        want.entry(r["user"].as_str().unwrap().to_string())
            .or_default()
            .push(r.clone());
    }
    let got = j.compute().unwrap();
    assert_eq!(got.len(), 9);
    let got: std::collections::BTreeMap<String, Vec<serde_json::Value>> = got.into_iter().collect();
    assert_eq!(got, want);
    let empty = Bag::from_sequence(Vec::<i64>::new(), 2);
    assert!(empty.groupby(mod13, None).compute().unwrap().is_empty());
}

#[test]
fn json_lines_pluck_and_distinct_are_named_from_the_file_on() {
    let _ = brisk_local::LocalScheduler::threaded();
    let dir = tempfile::tempdir().unwrap();
    let recs = records();
    let mut text = String::new();
    for (i, r) in recs.iter().enumerate() {
        text.push_str(&r.to_string());
        text.push('\n');
        if i == 500 {
            text.push_str("{not json\n\n");
        }
    }
    let url = dir.path().join("recs.json").display().to_string();
    std::fs::write(&url, text).unwrap();
    let src = brisk_bag::TextSource::new(&url).blocksize(Some(20_000));
    let users = src
        .json_as::<serde_json::Value>(brisk_bag::OnError::Skip)
        .unwrap()
        .pluck("user")
        .distinct();
    assert!(
        all_named(&users),
        "read_json(..).pluck(..).distinct() has closures"
    );
    let want = first_seen(&recs.iter().map(|r| r["user"].clone()).collect::<Vec<_>>());
    assert_eq!(users.compute().unwrap(), want);
    // The malformed line still names its file and line.
    let e = brisk_bag::read_json(&url)
        .unwrap()
        .pluck("user")
        .count()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("recs.json line 502"), "{e}");
}

// ---- try_map, random_sample, take and to_textfiles (issue 13, third round) ----

/// Runs `f` refusing any task a cluster's stock workers could not run (a closure), on the
/// threads otherwise.
fn named_only<R>(f: impl FnOnce() -> R) -> R {
    brisk_test_utils::named_only::named_only(
        std::sync::Arc::new(brisk_local::LocalScheduler::threaded()),
        f,
    )
}

fn parse_i64(line: String) -> Result<i64, String> {
    let word = line.split_whitespace().next().unwrap_or_default();
    word.parse::<i64>()
        .map_err(|e| format!("{word:?} is not a number: {e}"))
}
fn parse_f64(line: String) -> Result<f64, std::num::ParseFloatError> {
    line.trim().parse()
}
fn half_or_err(x: i64) -> Result<u64, String> {
    if x % 2 == 0 {
        Ok((x / 2) as u64)
    } else {
        Err(format!("{x} is odd"))
    }
}
fn even(x: i64) -> bool {
    x % 2 == 0
}
fn not_a_result(x: i64) -> String {
    x.to_string()
}
brisk_core::register!(
    parse_i64 as "tests::parse_i64",
    parse_f64 as "tests::parse_f64",
    half_or_err as "tests::half_or_err",
    not_a_result as "tests::not_a_result",
    even as "tests::even"
);

#[test]
fn try_map_with_a_registered_function_is_named_and_matches_the_closure_and_plain_rust() {
    let _ = brisk_local::LocalScheduler::threaded();
    let b = lines();
    let named = b.try_map(parse_i64);
    assert!(all_named(&named), "try_map has closures");
    let closure: Vec<i64> = b
        .try_map(|l: String| l.split_whitespace().next().unwrap_or("").parse::<i64>())
        .compute()
        .unwrap();
    let plain: Vec<i64> = (0..1000).collect();
    assert_eq!(closure, plain);
    assert_eq!(named.compute().unwrap(), plain);
    assert_eq!(named_only(|| named.compute()).unwrap(), plain);
    // The function value twin, and other record types.
    let f: Vec<f64> = Bag::from_sequence(vec![" 1.5".to_string(), "2".to_string()], 2)
        .try_map_func::<f64, _>(parse_f64)
        .compute()
        .unwrap();
    assert_eq!(f, [1.5, 2.0]);
    let (ints, kept) = ints();
    let evens = ints.filter_func(even);
    let halves = evens.try_map(half_or_err);
    assert!(all_named(&halves));
    let want: Vec<u64> = kept
        .iter()
        .filter(|x| *x % 2 == 0)
        .map(|x| (x / 2) as u64)
        .collect();
    assert_eq!(named_only(|| halves.compute()).unwrap(), want);
    // Empty partitions (the filter empties all of them) and an empty bag.
    let none = b.filter_func(contains("zzz")).try_map(parse_i64);
    assert!(all_named(&none));
    assert_eq!(named_only(|| none.compute()).unwrap(), Vec::<i64>::new());
    let empty = Bag::<String>::from_sequence(vec![], 3).try_map(parse_i64);
    assert_eq!(named_only(|| empty.compute()).unwrap(), Vec::<i64>::new());
    // Other record types: the same kernel, in a closure (a local run).
    let small: Vec<u32> = Bag::from_sequence(vec!["7".to_string(), "8".to_string()], 2)
        .try_map_func::<u32, _>(Func::new(|s: String| s.parse::<u32>()))
        .compute()
        .unwrap();
    assert_eq!(small, [7, 8]);
    // A closure is refused by a cluster, not run.
    let e = named_only(|| {
        b.try_map(|l: String| l.len().checked_sub(1).ok_or("empty"))
            .compute()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("#[brisk::func]") && e.contains("try-map"), "{e}");
}

#[test]
fn a_failing_try_map_names_the_function_the_value_and_the_line() {
    let _ = brisk_local::LocalScheduler::threaded();
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("numbers.txt").display().to_string();
    std::fs::write(&url, "1\n2\nthree\n4\n").unwrap();
    let b = brisk_bag::read_text(&url).unwrap();
    let named = b.try_map(parse_i64);
    assert!(all_named(&named));
    let e = named_only(|| named.compute()).unwrap_err().to_string();
    assert!(
        e.contains("try_map")
            && e.contains("parse_i64")
            && e.contains("\"three\"")
            && e.contains("numbers.txt line 3"),
        "{e}"
    );
    // The closure names the same line.
    let e = b
        .try_map(|l: String| l.parse::<i64>())
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("try_map") && e.contains("numbers.txt line 3"),
        "{e}"
    );
    // A function that returns another type than the bag's is an error naming it.
    let e = named_only(|| {
        Bag::from_sequence(vec![1i64, 2], 1)
            .try_map_func::<u64, _>(not_a_result)
            .compute()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("try_map") && e.contains("not_a_result") && e.contains("String"),
        "{e}"
    );
}

/// What `random_sample` kept before it was a named kernel: each partition's records drawn
/// with `SmallRng::seed_from_u64(seed ^ i * 0x9e37_79b9_7f4a_7c15)`.
fn sampled_by_hand<T: Clone>(parts: &[Vec<T>], prob: f64, seed: u64) -> Vec<T> {
    use rand::{Rng, SeedableRng};
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let part_seed = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(part_seed);
        for x in part {
            if rng.random::<f64>() < prob {
                out.push(x.clone());
            }
        }
    }
    out
}

#[test]
fn random_sample_is_named_and_keeps_the_same_records_for_a_seed() {
    let _ = brisk_local::LocalScheduler::threaded();
    let xs: Vec<u64> = (0..5000).collect();
    let parts: Vec<Vec<u64>> = xs.chunks(500).map(<[u64]>::to_vec).collect();
    let b = Bag::from_sequence(xs.clone(), 10);
    for (prob, seed) in [(0.1, 1u64), (0.5, 42), (0.0, 3), (1.0, 9)] {
        let s = b.random_sample(prob, Some(seed)).unwrap();
        assert!(all_named(&s), "random_sample has closures");
        let got = named_only(|| s.compute()).unwrap();
        assert_eq!(
            got,
            sampled_by_hand(&parts, prob, seed),
            "p={prob} seed={seed}"
        );
    }
    assert_eq!(
        b.random_sample(1.0, None).unwrap().compute().unwrap(),
        xs,
        "p=1 keeps everything"
    );
    // A record type without a named kernel runs the same code in a closure: same draws.
    let small: Vec<u32> = b
        .map(|x| x as u32)
        .random_sample(0.3, Some(5))
        .unwrap()
        .compute()
        .unwrap();
    let want: Vec<u32> = sampled_by_hand(&parts, 0.3, 5)
        .into_iter()
        .map(|x| x as u32)
        .collect();
    assert_eq!(small, want);
    // Strings (7 partitions of 143 lines), empty partitions, an empty bag.
    let text: Vec<String> = lines().compute().unwrap();
    let parts: Vec<Vec<String>> = text.chunks(143).map(<[String]>::to_vec).collect();
    let s = lines().random_sample(0.2, Some(8)).unwrap();
    assert!(all_named(&s));
    assert_eq!(
        named_only(|| s.compute()).unwrap(),
        sampled_by_hand(&parts, 0.2, 8)
    );
    let (ints, _) = ints();
    let s = ints.random_sample(0.5, Some(11)).unwrap();
    assert!(all_named(&s));
    assert_eq!(named_only(|| s.compute()).unwrap(), s.compute().unwrap());
    let empty = Bag::<String>::from_sequence(vec![], 2)
        .random_sample(0.5, Some(1))
        .unwrap();
    assert_eq!(
        named_only(|| empty.compute()).unwrap(),
        Vec::<String>::new()
    );
    // A probability outside [0, 1] (or NaN) is refused, naming the argument.
    for bad in [-0.1, 1.5, f64::NAN] {
        let e = b.random_sample(bad, Some(1)).unwrap_err().to_string();
        assert!(e.contains("prob"), "{e}");
    }
}

#[test]
fn take_is_named_and_reads_only_what_it_needs() {
    let _ = brisk_local::LocalScheduler::threaded();
    let (ints, kept) = ints();
    for n in [0, 1, 99, 100, 101, 1000, kept.len(), kept.len() + 5] {
        let got = named_only(|| ints.take(n)).unwrap();
        let want: Vec<i64> = kept.iter().copied().take(n).collect();
        assert_eq!(got, want, "take({n})");
    }
    // The first partition is empty (the filter empties it): take goes on to the next.
    assert_eq!(named_only(|| ints.take(1)).unwrap(), vec![kept[0]]);
    let words = lines().split_whitespace();
    assert_eq!(named_only(|| words.take(3)).unwrap(), ["0", "python", "1"]);
    let empty = Bag::<serde_json::Value>::from_sequence(vec![], 3);
    assert_eq!(
        named_only(|| empty.take(5)).unwrap(),
        Vec::<serde_json::Value>::new()
    );
    // Other record types take the same kernel in a closure.
    let pairs = Bag::from_sequence(vec![(1u8, 'a'), (2, 'b'), (3, 'c')], 2);
    assert_eq!(pairs.take(2).unwrap(), [(1, 'a'), (2, 'b')]);
    // The stage of a bag built with a closure is refused by a cluster, naming it.
    let e = named_only(|| ints.map(|x| x + 1).take(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("#[brisk::func]") && e.contains("`map`"), "{e}");
}

#[test]
fn to_textfiles_is_named_and_writes_what_read_text_reads_back() {
    let _ = brisk_local::LocalScheduler::threaded();
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    // Lines, with empty partitions in the middle (compressed by the extension).
    let (ints, kept) = ints();
    let urls = named_only(|| ints.to_textfiles(&at("ints/part-*.txt.gz"))).unwrap();
    assert_eq!(urls.len(), 23);
    assert!(urls[4].ends_with("part-4.txt.gz"), "{}", urls[4]);
    let back: Vec<i64> = brisk_bag::read_text(&at("ints/part-*.txt.gz"))
        .unwrap()
        .compute()
        .unwrap()
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(sorted(back), sorted(kept.clone()));
    // Each partition's file holds that partition, in order.
    let second = brisk_bag::read_text(&urls[1]).unwrap().compute().unwrap();
    let want: Vec<String> = kept.iter().take(100).map(i64::to_string).collect();
    assert_eq!(second, want);
    // The same as the closure path (a record type without a named kernel) writes.
    let small = ints.map(|x| x as i32);
    let small_urls = small.to_textfiles(&at("small")).unwrap();
    for (a, b) in urls.iter().zip(&small_urls) {
        let a = brisk_bag::read_text(a).unwrap().compute().unwrap();
        let b = brisk_bag::read_text(b).unwrap().compute().unwrap();
        assert_eq!(a, b);
    }
    // f64 and JSON records, and strings.
    let floats = Bag::from_sequence(vec![0.5f64, -2.0, 1e-7], 2);
    named_only(|| floats.to_textfiles(&at("f/*.txt"))).unwrap();
    let back = brisk_bag::read_text(&at("f/*.txt"))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(back, ["0.5", "-2", "0.0000001"]);
    let recs = records();
    let json = Bag::from_sequence(recs.clone(), 3);
    named_only(|| json.to_textfiles(&at("j/*.json"))).unwrap();
    let back = brisk_bag::read_json(&at("j/*.json"))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(back, recs);
    // An empty bag writes its one (empty) file.
    let empty = Bag::<String>::from_sequence(vec![], 1);
    let u = named_only(|| empty.to_textfiles(&at("empty/*.txt"))).unwrap();
    assert_eq!(std::fs::read(&u[0]).unwrap(), b"");
    // A path that cannot be written (under a file) is an error naming it, and leaves nothing.
    std::fs::write(at("plain"), "x").unwrap();
    let e = named_only(|| lines().to_textfiles(&at("plain/out-*.txt")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("plain/out-"), "{e}");
}

#[allow(clippy::ptr_arg)] // the record type is `String`: a key function takes `&T`
fn language_of(line: &String) -> String {
    line.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}
fn residue(x: &i64) -> u64 {
    x.rem_euclid(5) as u64
}
fn residue_owned(x: i64) -> u64 {
    x.rem_euclid(5) as u64
}
user_func!(language_of(&String) as "tests::language_of");
user_func!(residue(&i64) as "tests::residue");
brisk_core::register!(residue_owned as "tests::residue_owned");

#[test]
fn join_with_a_registered_key_is_named_and_matches_the_closure_and_plain_rust() {
    let _ = brisk_local::LocalScheduler::threaded();
    let b = lines();
    let others: Vec<serde_json::Value> = vec![
        serde_json::json!({"lang": "python", "year": 1991}),
        serde_json::json!({"lang": "rust", "year": 2015}),
        serde_json::json!({"lang": "python", "year": 2008}),
        serde_json::json!({"lang": "cobol", "year": 1959}),
    ];
    let lang = |v: &serde_json::Value| v["lang"].as_str().unwrap_or_default().to_string();
    let named = b.join(others.clone(), language_of, lang);
    assert!(all_named(&named), "join has closures");
    let closure = b
        .join(others.clone(), |l: &String| language_of(l), lang)
        .compute()
        .unwrap();
    let mut plain = Vec::new();
    for l in b.compute().unwrap() {
        for o in &others {
            if language_of(&l) == lang(o) {
                plain.push((l.clone(), o.clone()));
            }
        }
    }
    assert_eq!(plain.len(), 334 * 2 + 333);
    assert_eq!(closure, plain);
    assert_eq!(named_only(|| named.compute()).unwrap(), plain);
    // Integer records and keys, empty partitions in the middle, the function value twin.
    let (ints, kept) = ints();
    let names: Vec<String> = ["zero", "one", "two", "three"].map(String::from).to_vec();
    let by_index = |n: &String| names.iter().position(|m| m == n).unwrap_or(99) as u64;
    let joined = ints.join_func(names.clone(), residue_owned, by_index);
    assert!(all_named(&joined));
    let want: Vec<(i64, String)> = kept
        .iter()
        .filter(|x| x.rem_euclid(5) < 4)
        .map(|x| (*x, names[x.rem_euclid(5) as usize].clone()))
        .collect();
    assert_eq!(named_only(|| joined.compute()).unwrap(), want);
    assert_eq!(
        ints.join(names.clone(), residue, by_index)
            .compute()
            .unwrap(),
        want
    );
    // Nothing to join with, and an empty bag.
    let none = ints.join(Vec::<String>::new(), residue, |_: &String| 0u64);
    assert_eq!(named_only(|| none.compute()).unwrap(), vec![]);
    let empty = Bag::<i64>::from_sequence(vec![], 2).join(names.clone(), residue, by_index);
    assert_eq!(named_only(|| empty.compute()).unwrap(), vec![]);
    // A key function of another type than the other side's keys is an error naming it.
    let e = named_only(|| {
        ints.join_func(vec!["a".to_string()], residue_owned, |s: &String| s.clone())
            .compute()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("join") && e.contains("residue_owned") && e.contains("u64"),
        "{e}"
    );
}
