//! Raw graphs on the local schedulers:
//! `brisk-bench-local <independent|chain|tree> <N> [repeats] [threads]`.
//!
//! Prints `brisk shape=… n=… tasks=… build_s=… compile_s=… get_s=… total_s=…` with the best of
//! `repeats` runs; `total_s` (build + get, which compiles) is what the Dask side measures too.

use std::time::Instant;

use brisk_core::{Arg, Graph, Key, Plan, PlanOptions, Task};
use brisk_local::LocalScheduler;

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// N independent `inc` tasks plus one sum over all of them.
fn independent(n: usize) -> (Graph, Key) {
    let mut g = Graph::with_capacity(n + 1);
    let name: std::sync::Arc<str> = "inc".into();
    let mut parts = Vec::with_capacity(n);
    let f = brisk_core::Func::new(inc);
    for i in 0..n {
        let k = Key::with_shared_name(&name, &[i as u32]);
        let _ = g.insert(
            k.clone(),
            Task {
                func: f.clone(),
                args: vec![Arg::Literal((i as i64).into())],
            },
        );
        parts.push(Arg::Key(k));
    }
    let _ = g.insert("sum", Task::new(total, vec![Arg::List(parts)]));
    (g, Key::from("sum"))
}

/// A linear chain of N `inc` tasks.
fn chain(n: usize) -> (Graph, Key) {
    let mut g = Graph::with_capacity(n);
    let name: std::sync::Arc<str> = "chain".into();
    let f = brisk_core::Func::new(inc);
    let mut prev = Key::with_shared_name(&name, &[0]);
    let _ = g.insert(
        prev.clone(),
        Task {
            func: f.clone(),
            args: vec![Arg::Literal(0i64.into())],
        },
    );
    for i in 1..n {
        let k = Key::with_shared_name(&name, &[i as u32]);
        let _ = g.insert(
            k.clone(),
            Task {
                func: f.clone(),
                args: vec![Arg::Key(prev)],
            },
        );
        prev = k;
    }
    (g, prev)
}

/// A binary tree reduction: N/2 leaf tasks, then `add` levels up to one root (N - 1 tasks).
fn tree(n: usize) -> (Graph, Key) {
    let leaves = (n / 2).max(1);
    let mut g = Graph::with_capacity(2 * leaves);
    let f_leaf = brisk_core::Func::new(inc);
    let f_add = brisk_core::Func::new(add);
    let leaf: std::sync::Arc<str> = "leaf".into();
    let mut level: Vec<Key> = (0..leaves)
        .map(|i| {
            let k = Key::with_shared_name(&leaf, &[i as u32]);
            let _ = g.insert(
                k.clone(),
                Task {
                    func: f_leaf.clone(),
                    args: vec![Arg::Literal((i as i64).into())],
                },
            );
            k
        })
        .collect();
    let mut depth = 0u32;
    while level.len() > 1 {
        depth += 1;
        let name: std::sync::Arc<str> = format!("add-{depth}").into();
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for (j, pair) in level.chunks(2).enumerate() {
            let k = Key::with_shared_name(&name, &[j as u32]);
            let task = if pair.len() == 2 {
                Task {
                    func: f_add.clone(),
                    args: vec![Arg::Key(pair[0].clone()), Arg::Key(pair[1].clone())],
                }
            } else {
                Task {
                    func: f_add.clone(),
                    args: vec![Arg::Key(pair[0].clone()), Arg::Literal(0i64.into())],
                }
            };
            let _ = g.insert(k.clone(), task);
            next.push(k);
        }
        level = next;
    }
    (g, level.remove(0))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let shape = args.get(1).map(String::as_str).unwrap_or("independent");
    let n: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let repeats: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let threads: usize = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let build = match shape {
        "independent" => independent,
        "chain" => chain,
        "tree" => tree,
        other => anyhow::bail!("unknown shape {other}; use independent, chain or tree"),
    };
    let sched = if threads > 0 {
        LocalScheduler::threaded().num_threads(threads)
    } else {
        LocalScheduler::threaded()
    }
    .progress(false);
    let mut best = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    let mut tasks = 0;
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        let (g, key) = build(n);
        let build_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let plan = Plan::compile(&g, std::slice::from_ref(&key), &PlanOptions::default())?;
        let compile_s = t1.elapsed().as_secs_f64();
        tasks = plan.len();
        drop(plan);
        let t2 = Instant::now();
        let v: i64 = sched.get(&g, key)?;
        let get_s = t2.elapsed().as_secs_f64();
        std::hint::black_box(v);
        let t3 = Instant::now();
        drop(g);
        let drop_s = t3.elapsed().as_secs_f64();
        let total_s = build_s + get_s + drop_s;
        if total_s < best.3 {
            best = (build_s, compile_s, get_s, total_s);
        }
    }
    println!(
        "brisk shape={shape} n={n} tasks={tasks} build_s={:.6} compile_s={:.6} get_s={:.6} total_s={:.6}",
        best.0, best.1, best.2, best.3
    );
    Ok(())
}
