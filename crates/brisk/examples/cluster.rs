//! The cluster (the guide's cluster chapter): a local cluster of this very program, futures,
//! scatter, `as_completed`, a collection computed on the workers, and the dashboard.
//!
//! `cargo run --example cluster`. Against a running cluster instead, start
//! `brisk scheduler` and `brisk worker tcp://127.0.0.1:8786` in two terminals and use
//! `Client::connect("tcp://127.0.0.1:8786")`: a stock worker runs built-in kernels, and this
//! program's own functions run on workers of this program (`main_if_worker`).

use brisk::{Client, Collection, delayed};

/// Functions that run on workers are registered by name (`#[brisk::func]`): every process of
/// this program finds them in its registry.
#[brisk::func]
fn inc(x: i64) -> i64 {
    x + 1
}
#[brisk::func]
fn add(x: i64, y: i64) -> i64 {
    x + y
}
#[brisk::func]
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}
/// `dot.with(weights)` binds a `Vec<f64>`: the bound parameter is read as `&Vec<f64>`.
#[allow(clippy::ptr_arg)]
#[brisk::func]
fn dot(weights: &Vec<f64>, x: f64) -> f64 {
    weights.iter().map(|w| w * x).sum()
}

fn main() -> anyhow::Result<()> {
    // The first line of `main`: when this process was started as a worker, it serves tasks
    // here and exits instead of running the rest of `main`.
    brisk::worker::main_if_worker();

    // Two worker processes of this program and a scheduler thread; the client becomes the
    // default scheduler, so `compute()` below runs on the cluster.
    let client = Client::local(2)?;
    match client.dashboard_link() {
        Some(link) => println!("dashboard: {link}"),
        None => println!("this cluster runs without a dashboard"),
    }

    // Futures: submit returns at once; result() waits.
    let a = client.submit(inc, (1i64,))?;
    let b = client.submit(add, (&a, 10i64))?; // a future as an argument: no round trip
    assert_eq!(b.result()?, 12);

    // map and gather.
    let futures = client.map(inc, 0..1000i64)?;
    let values: Vec<i64> = client.gather(&futures)?;
    assert_eq!(values.iter().sum::<i64>(), (1..=1000).sum::<i64>());

    // Results as they finish.
    let mut seen = 0;
    for f in client.as_completed(client.map(inc, 0..10i64)?) {
        let _value = f.result()?;
        seen += 1;
    }
    assert_eq!(seen, 10);

    // Scatter: put data on the workers once, use it from many tasks.
    let weights = client.scatter([vec![0.5, 0.25, 0.25]])?;
    let w = &weights[0];
    let scored = client.map_args(dot_with_weights, (0..5).map(|i| (w, i as f64)))?;
    println!("scores: {:?}", client.gather(&scored)?);

    // A collection computed on the cluster (the client is the default scheduler).
    let parts: Vec<_> = (0..10).map(|i| delayed(inc).call(i)).collect();
    let sum = delayed(total).call(parts);
    assert_eq!(sum.compute()?, 55);
    let fut = client.compute(&sum)?; // returns at once
    assert_eq!(fut.result()?, 55);
    println!("sum on the cluster: {}", fut.result()?);

    // A bound parameter travels with the task, serialized.
    use brisk::Bind;
    let y = client.submit(dot.with(vec![1.0, 2.0]), (2.0f64,))?;
    assert_eq!(y.result()?, 6.0);
    Ok(())
}

#[brisk::func]
fn dot_with_weights(weights: Vec<f64>, x: f64) -> f64 {
    weights.iter().map(|w| w * x).sum()
}
