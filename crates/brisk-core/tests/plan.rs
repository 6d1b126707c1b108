//! Compiling graphs: culling, validation errors, aliases, inlining, fusion and order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brisk_core::plan::{PArg, PlanNode};
use brisk_core::{Error, Graph, Key, Plan, PlanOptions, graph, lit};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}

fn keys(ks: &[&str]) -> Vec<Key> {
    ks.iter().map(|k| Key::from(*k)).collect()
}

#[test]
fn culls_to_requested_keys_and_inlines_literals() {
    let g = graph! {
        "a" => 1, "x" => 10, "b" => (inc, "a"), "y" => (inc, "x"), "z" => (add, "b", "y"),
        "unused" => (inc, "z"),
    };
    let p = Plan::compile(&g, &keys(&["b"]), &PlanOptions::default()).unwrap();
    assert_eq!(p.len(), 1, "only b runs; a is inlined");
    let PlanNode::Task(t) = p.node(0) else {
        panic!()
    };
    assert!(matches!(t.args[0], PArg::Lit(_)));
    let p = Plan::compile(&g, &keys(&["z"]), &PlanOptions::default()).unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p.num_tasks(), 3);
    let z = p.outputs()[0];
    assert_eq!(p.key(z), &Key::from("z"));
    assert_eq!(p.deps(z).len(), 2);
    assert_eq!(*p.order().last().unwrap(), z);
}

#[test]
fn missing_dependency_names_both_keys() {
    let g = graph! { "b" => (inc, "a") };
    let err = Plan::compile(&g, &keys(&["b"]), &PlanOptions::default()).unwrap_err();
    match &err {
        Error::MissingDependency { key, dependency } => {
            assert_eq!(key, &Key::from("b"));
            assert_eq!(dependency, &Key::from("a"));
        }
        e => panic!("wrong error {e}"),
    }
    assert_eq!(err.to_string(), "task b needs a, which is not in the graph");
}

#[test]
fn unknown_output_is_an_error() {
    let g = graph! { "a" => 1 };
    let err = g.validate(&keys(&["nope"])).unwrap_err();
    assert!(matches!(err, Error::UnknownKey { .. }));
    assert_eq!(err.to_string(), "requested key nope is not in the graph");
}

#[test]
fn cycles_list_their_keys() {
    let g = graph! {
        "a" => (inc, "c"), "b" => (inc, "a"), "c" => (inc, "b"), "top" => (inc, "a"),
    };
    let err = g.validate(&keys(&["top"])).unwrap_err();
    let Error::Cycle { keys: cyc } = &err else {
        panic!("{err}")
    };
    let mut names: Vec<String> = cyc.iter().map(|k| k.to_string()).collect();
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(
        err.to_string().starts_with("the graph has a cycle: "),
        "{err}"
    );

    let selfloop = graph! { "a" => (inc, "a") };
    let err = selfloop.validate(&keys(&["a"])).unwrap_err();
    assert_eq!(err.to_string(), "the graph has a cycle: a -> a");

    let aliases = graph! { "a" => "b", "b" => "a" };
    assert!(matches!(
        aliases.validate(&keys(&["a"])),
        Err(Error::Cycle { .. })
    ));
}

#[test]
fn duplicate_keys_in_a_literal_are_reported() {
    let g = graph! { "a" => 1, "a" => 2 };
    let err = g.validate(&keys(&["a"])).unwrap_err();
    assert_eq!(err.to_string(), "key a appears twice in the graph");
    let mut g = Graph::new();
    g.insert("k", 1).unwrap();
    assert!(matches!(g.insert("k", 2), Err(Error::DuplicateKey { .. })));
}

#[test]
fn aliases_resolve_to_their_target() {
    let g = graph! { "a" => 1, "b" => (inc, "a"), "c" => "b", "d" => (inc, "c"), "e" => "a" };
    let p = Plan::compile(&g, &keys(&["d", "c", "e"]), &PlanOptions::default()).unwrap();
    assert_eq!(p.len(), 3, "b, d, and the literal a requested through e");
    assert_eq!(p.key(p.outputs()[1]), &Key::from("b"));
    assert!(matches!(p.node(p.outputs()[2]), PlanNode::Value(_)));
}

#[test]
fn fusion_merges_linear_chains_only() {
    let mut g = graph! { "a0" => 0 };
    for i in 1..=10 {
        g.insert(
            format!("a{i}"),
            brisk_core::task!(inc, format!("a{}", i - 1)),
        )
        .unwrap();
    }
    g.insert("fork", brisk_core::task!(add, "a5", "a10"))
        .unwrap();
    let fused = PlanOptions {
        fuse: true,
        max_fuse: 64,
    };
    let p = Plan::compile(&g, &keys(&["a10"]), &fused).unwrap();
    assert_eq!(p.len(), 1, "a1..a10 fuse into one task");
    assert_eq!(p.key(0), &Key::from("a10"));
    let p = Plan::compile(&g, &keys(&["fork"]), &fused).unwrap();
    // a1..a5 fuse into a5 (a5 has two dependents: a6 and fork), a6..a10 into a10.
    assert_eq!(p.len(), 3);
    let p = Plan::compile(&g, &keys(&["a10", "a3"]), &fused).unwrap();
    assert_eq!(p.len(), 2, "a requested key is never fused away");
    let short = PlanOptions {
        fuse: true,
        max_fuse: 3,
    };
    let p = Plan::compile(&g, &keys(&["a10"]), &short).unwrap();
    assert_eq!(p.len(), 4, "chains are capped");
}

#[test]
fn fusion_skips_tasks_that_use_their_input_twice() {
    let g = graph! { "a" => (inc, 1), "b" => (add, "a", "a") };
    let p = Plan::compile(
        &g,
        &keys(&["b"]),
        &PlanOptions {
            fuse: true,
            max_fuse: 8,
        },
    )
    .unwrap();
    assert_eq!(p.len(), 2);
}

#[test]
fn order_is_topological_and_depth_first() {
    // A binary tree over 16 leaves: each internal node must come after its inputs, and the
    // first internal node must come right after its two leaves.
    let mut g = Graph::new();
    for i in 0..16usize {
        g.insert(("t0", i), brisk_core::task!(inc, lit(i as i64)))
            .unwrap();
    }
    let mut width = 16usize;
    let mut level = 0usize;
    while width > 1 {
        for i in 0..width / 2 {
            let a = Key::from((format!("t{level}").as_str(), 2 * i));
            let b = Key::from((format!("t{level}").as_str(), 2 * i + 1));
            g.insert(
                Key::from((format!("t{}", level + 1).as_str(), i)),
                brisk_core::task!(add, a, b),
            )
            .unwrap();
        }
        width /= 2;
        level += 1;
    }
    let root = Key::from(("t4", 0));
    let p = Plan::compile(&g, std::slice::from_ref(&root), &PlanOptions::default()).unwrap();
    assert_eq!(p.len(), 31);
    for &id in p.order() {
        for &d in p.deps(id) {
            assert!(p.priority(d) < p.priority(id));
        }
    }
    let first_internal = p
        .order()
        .iter()
        .position(|&id| p.key(id).name() == "t1")
        .unwrap();
    assert_eq!(first_internal, 2);
}

#[test]
fn huge_fan_in_compiles_quickly() {
    let n = 200_000usize;
    let mut g = Graph::with_capacity(n + 1);
    let mut args = Vec::with_capacity(n);
    for i in 0..n {
        g.insert(("x", i), brisk_core::task!(inc, 1)).unwrap();
        args.push(brisk_core::Arg::Key(Key::from(("x", i))));
    }
    g.insert(
        "sum",
        brisk_core::Task::new(
            |v: Vec<i64>| v.len() as i64,
            vec![brisk_core::Arg::List(args)],
        ),
    )
    .unwrap();
    let p = Plan::compile(&g, &keys(&["sum"]), &PlanOptions::default()).unwrap();
    assert_eq!(p.len(), n + 1);
    assert_eq!(p.deps(p.outputs()[0]).len(), n);
}
