//! Task graphs and delayed (the guide's second chapter): graphs as data, the schedulers that run
//! them, errors that name the key at fault, lazy calls that share work, and functions that can
//! run in another process.
//!
//! `cargo run --example graphs_and_delayed`

use brisk::{Bind, Collection, Error, delayed, graph};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}
fn checked_div(x: i64, y: i64) -> Result<i64, String> {
    if y == 0 {
        Err(format!("cannot divide {x} by zero"))
    } else {
        Ok(x / y)
    }
}

/// Registered by name: a worker process of this program (or a cluster running it) finds it.
/// Its first parameter is bound once (`scale.with(10)`) and travels with the task, serialized.
#[brisk::func]
fn scale(factor: &i64, x: i64) -> i64 {
    factor * x
}

fn main() -> anyhow::Result<()> {
    // Graphs: keys to literals or tasks; a task's arguments name other keys.
    let dsk = graph! {
        "a" => 1,
        "b" => (inc, "a"),
        "c" => (add, "a", "b"),
        ("part", 0) => 10,
        ("part", 1) => 20,
    };
    // The same graph on one thread (for debugging) and on the thread pool.
    assert_eq!(brisk::sync::get::<i64>(&dsk, "c")?, 3);
    assert_eq!(brisk::threaded::get::<i64>(&dsk, "c")?, 3);
    assert_eq!(brisk::threaded::get::<i64>(&dsk, ("part", 1))?, 20);

    // A bad graph is an error naming what is wrong, before anything runs.
    let missing = graph! { "x" => (inc, "nowhere") };
    match brisk::threaded::get::<i64>(&missing, "x") {
        Err(e) => println!("missing key: {e}"),
        Ok(v) => anyhow::bail!("a graph with a missing key gave {v}"),
    }
    let cycle = graph! { "p" => (inc, "q"), "q" => (inc, "p") };
    match brisk::threaded::get::<i64>(&cycle, "p") {
        Err(e) => println!("cycle:       {e}"),
        Ok(v) => anyhow::bail!("a cycle gave {v}"),
    }

    // delayed: a call made lazy. Shared inputs run once; many results compute together.
    let parts: Vec<_> = (0..10).map(|i| delayed(inc).call(i)).collect();
    let sum = delayed(total).call(parts.clone());
    let doubled = delayed(add).call(&sum, &sum);
    let (s, d) = brisk::compute((&sum, &doubled))?;
    assert_eq!((s, d), (55, 110));
    println!("delayed:     sum = {s}, doubled = {d}");

    // A task's error comes back naming the task's key, with the function's own message.
    let bad = delayed(checked_div).call(1, 0);
    match bad.compute() {
        Err(Error::TaskFailed { key, .. }) => println!("task failed: {key}"),
        Err(e) => println!("task failed: {e}"),
        Ok(v) => anyhow::bail!("1/0 gave {v}"),
    }

    // A registered function with a bound parameter: runs here, and on any worker of this binary.
    let y = delayed(scale.with(10i64)).call(&sum);
    assert_eq!(y.compute()?, 550);
    println!(
        "registered:  {} = {}",
        brisk::Func::new(scale.with(10i64)).name().unwrap_or("?"),
        y.compute()?
    );
    Ok(())
}
