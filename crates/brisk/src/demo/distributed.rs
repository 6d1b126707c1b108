//! `brisk demo`, part 4: the same code on a cluster (the talk's dask.distributed): a local
//! cluster of 2 worker processes, `delayed` computing there unchanged, futures, and the
//! per-task overhead of the whole round trip.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use brisk::{Client, Collection, LocalOptions, delayed};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}
brisk::register!(inc as "brisk.demo.dist.inc", add as "brisk.demo.dist.add", total as "brisk.demo.dist.total");

/// Run the cluster examples, printing each result and its time.
pub fn run(out: &mut dyn Write, _pictures: &Path) -> anyhow::Result<()> {
    writeln!(out, "8. The same code on a cluster (2 worker processes)")?;
    let t = Instant::now();
    let mut o = LocalOptions::new(2);
    o.threads_per_worker = 1;
    let client = match Client::local_with(o) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "   (skipped: {e})")?;
            return Ok(());
        }
    };
    line(out, "Client::local(2)", "2 workers".into(), t)?;
    let t = Instant::now();
    let b = delayed(inc).call(1);
    let y = delayed(inc).call(10);
    let z = delayed(add).call(&b, &y);
    let v = z.compute()?;
    line(
        out,
        "add(inc(1), inc(10)).compute() on the cluster",
        v.to_string(),
        t,
    )?;
    let t = Instant::now();
    let parts: Vec<_> = (0..1000).map(|i| delayed(inc).call(i)).collect();
    let v = delayed(total).call(parts).compute()?;
    line(out, "total([inc(i) for i in 0..1000])", v.to_string(), t)?;
    let t = Instant::now();
    let futures = client.map(inc, 0..10_000i64)?;
    let values: Vec<i64> = client.gather(&futures)?;
    let secs = t.elapsed().as_secs_f64();
    line(
        out,
        &format!(
            "client.map(inc, 0..10_000) + gather ({:.0} tasks/s)",
            1e4 / secs
        ),
        values.iter().sum::<i64>().to_string(),
        t,
    )?;
    let t = Instant::now();
    let n = 200;
    let mut last = 0;
    for i in 0..n {
        last = client.submit(inc, (i + 1_000_000,))?.result()?;
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / f64::from(n as u32);
    line(
        out,
        &format!("submit(..).result() round trip ({per:.0} µs each)"),
        last.to_string(),
        t,
    )?;
    client.shutdown();
    writeln!(out)?;
    Ok(())
}

fn line(out: &mut dyn Write, name: &str, result: String, t: Instant) -> std::io::Result<()> {
    let d = t.elapsed();
    let shown = if d.as_secs_f64() < 1.0 {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    };
    writeln!(out, "   {name:<44} = {result:<22} [{shown}]")
}
