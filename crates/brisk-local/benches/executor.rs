//! Executor overhead per task on trivial tasks: `cargo bench -p brisk-local`.
#![allow(missing_docs)]

use brisk_core::{Arg, Graph, Key, Task, task};
use brisk_local::LocalScheduler;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn inc(x: i64) -> i64 {
    x + 1
}
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

fn independent(n: usize) -> Graph {
    let mut g = Graph::with_capacity(n + 1);
    let mut parts = Vec::with_capacity(n);
    for i in 0..n {
        let _ = g.insert(("x", i), task!(inc, i as i64));
        parts.push(Arg::Key(Key::from(("x", i))));
    }
    let _ = g.insert("sum", Task::new(total, vec![Arg::List(parts)]));
    g
}

fn chain(n: usize) -> Graph {
    let mut g = Graph::with_capacity(n);
    let _ = g.insert(("c", 0), task!(inc, 0));
    for i in 1..n {
        let _ = g.insert(("c", i), task!(inc, ("c", i - 1)));
    }
    g
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("executor");
    group.sample_size(20);
    let n = 10_000usize;
    let ind = independent(n);
    let ch = chain(n);
    group.throughput(Throughput::Elements(n as u64));
    for (name, sched) in [
        ("sync", LocalScheduler::sync()),
        ("threads", LocalScheduler::threaded()),
    ] {
        group.bench_function(BenchmarkId::new(format!("{name}/independent"), n), |b| {
            b.iter(|| sched.get::<i64>(&ind, "sum"))
        });
        group.bench_function(BenchmarkId::new(format!("{name}/chain"), n), |b| {
            b.iter(|| sched.get::<i64>(&ch, ("c", n - 1)))
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
