//! Graph build + compile (cull, validate, order) per task: `cargo bench -p brisk-core`.
#![allow(missing_docs)]

use brisk_core::{Arg, Graph, Key, Plan, PlanOptions, Task, task};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}

fn tree(leaves: usize) -> (Graph, Key) {
    let mut g = Graph::with_capacity(2 * leaves);
    let mut level: Vec<Key> = (0..leaves).map(|i| Key::from(("leaf", i))).collect();
    for (i, k) in level.iter().enumerate() {
        let _ = g.insert(k.clone(), task!(inc, i as i64));
    }
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        let name = format!("add-{depth}");
        let next: Vec<Key> = level
            .chunks(2)
            .enumerate()
            .map(|(j, pair)| {
                let k = Key::from((name.as_str(), j));
                let args = pair.iter().map(|p| Arg::Key(p.clone())).collect();
                let _ = g.insert(k.clone(), Task::new(add_list, args));
                k
            })
            .collect();
        level = next;
    }
    (g, level.remove(0))
}

fn add_list(x: i64, y: i64) -> i64 {
    add(x, y)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    for n in [10_000usize, 100_000] {
        group.throughput(Throughput::Elements(2 * n as u64));
        group.bench_with_input(BenchmarkId::new("build-tree", n), &n, |b, &n| {
            b.iter(|| tree(n))
        });
        let (g, root) = tree(n);
        group.bench_with_input(BenchmarkId::new("compile-tree", n), &n, |b, _| {
            b.iter(|| Plan::compile(&g, std::slice::from_ref(&root), &PlanOptions::default()))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
