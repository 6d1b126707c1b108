//! Benchmarks of the distributed runtime, in the shape of `bench/distributed/run.sh`: a
//! scheduler and 2 single-threaded worker processes on this machine.
//!
//! `cargo run --release -p brisk --example distributed_bench -- [--quick] [--case NAME]`
//! prints one `BRISK case=<name> seconds=<s> ...` line per case. Without arguments it runs a
//! quick smoke version (what CI does with every example).

use std::time::{Duration, Instant};

use brisk::{Client, LocalOptions};

mod bench_cluster;
use bench_cluster::{BenchCluster, brisk_bin, tree};

fn noop(x: i64) -> i64 {
    x
}
fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}
brisk::register!(noop, inc, add);

fn main() -> anyhow::Result<()> {
    brisk::worker::main_if_worker();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--full");
    let only = args
        .iter()
        .position(|a| a == "--case")
        .and_then(|i| args.get(i + 1).cloned());
    let want = |c: &str| only.as_deref().is_none_or(|o| o == c);
    let scale = if full { 1 } else { 100 };

    let mut o = LocalOptions::new(2);
    o.threads_per_worker = 1;
    o.set_as_default = false;
    let client = Client::local_with(o)?;
    // Warm up connections and function lookups.
    client.gather(&client.map(noop, 0..100i64)?)?;

    for (name, n) in [("map_10k", 10_000i64), ("map_100k", 100_000)] {
        if want(name) {
            let n = n / scale;
            let t = Instant::now();
            let futs = client.map(noop, (0..n).map(|i| i + 1_000_000 * n))?;
            let got = client.gather(&futs)?;
            let s = t.elapsed().as_secs_f64();
            anyhow::ensure!(got.len() == n as usize);
            drop(futs);
            println!(
                "BRISK case={name} seconds={s:.6} tasks={n} tasks_per_s={:.0}",
                n as f64 / s
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    if want("tree_10k") {
        let n = 10_000 / scale;
        let (g, root) = tree(n as usize, brisk::Func::new(inc), brisk::Func::new(add));
        let probe = std::env::var_os("BRISK_BENCH_PROBE").map(|_| {
            let c = client.clone();
            std::thread::spawn(move || {
                for _ in 0..400 {
                    if let Ok(i) = c.scheduler_info() {
                        let p: Vec<(u32, u32, u32, u32)> = i
                            .workers
                            .iter()
                            .map(|w| {
                                (
                                    w.processing,
                                    w.metrics.executing,
                                    w.metrics.ready,
                                    w.metrics.stored_keys,
                                )
                            })
                            .collect();
                        eprintln!(
                            "done={} queued={} processing={p:?} stolen={}",
                            i.tasks_done, i.queued, i.tasks_stolen
                        );
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        });
        let t = Instant::now();
        let v = brisk::Scheduler::get(&client, &g, &[root], &Default::default())?;
        drop(probe);
        let s = t.elapsed().as_secs_f64();
        anyhow::ensure!(v[0].get::<i64>()? == (1..=n).sum::<i64>());
        println!("BRISK case=tree_10k seconds={s:.6} tasks={}", g.len());
    }
    if want("round_trip") {
        let n = 1000 / (scale / 10).max(1);
        let t = Instant::now();
        for i in 0..n {
            let f = client.submit(inc, (i + 7_000_000,))?;
            anyhow::ensure!(f.result()? == i + 7_000_001);
        }
        let s = t.elapsed().as_secs_f64() / n as f64;
        println!("BRISK case=round_trip seconds={s:.6} n={n}");
    }
    if want("round_trip_parts") {
        // Where a round trip goes: the client's own part (compile, encode, hand the message to
        // its connection), a bare client -> scheduler -> client hop (an `Info` request), and
        // the rest (scheduler -> worker, the worker's pickup, run and report, the result back).
        let n = 1000 / (scale / 10).max(1);
        let (mut submit, mut full) = (0.0, 0.0);
        for i in 0..n {
            let t = Instant::now();
            let f = client.submit(inc, (i + 9_000_000,))?;
            submit += t.elapsed().as_secs_f64();
            anyhow::ensure!(f.result()? == i + 9_000_001);
            full += t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        for _ in 0..n {
            client.scheduler_info()?;
        }
        let hop = t.elapsed().as_secs_f64() / n as f64;
        let (submit, full) = (submit / n as f64, full / n as f64);
        println!(
            "BRISK case=round_trip_parts seconds={full:.6} n={n} submit_us={:.1} \
             client_scheduler_hop_us={:.1} worker_and_result_us={:.1}",
            submit * 1e6,
            hop * 1e6,
            (full - submit - hop) * 1e6
        );
    }
    client.shutdown();

    if (want("scheduler_cpu") || want("scheduler_memory")) && (full || brisk_bin().exists()) {
        let n = 100_000 / scale;
        let (cpu, mem) = scheduler_costs(n as i64)?;
        println!("BRISK case=scheduler_cpu seconds={cpu:.9} per=task n={n}");
        println!("BRISK case=scheduler_memory bytes={mem:.0} per=held_task n={n}");
    }
    Ok(())
}

fn proc_stat(pid: u32) -> anyhow::Result<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = 100.0;
    let cpu = (f[11].parse::<f64>()? + f[12].parse::<f64>()?) / ticks;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm"))?;
    let rss = statm
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse::<u64>()?
        * 4096;
    Ok((cpu, rss))
}

/// Scheduler CPU per task and memory per held task, with the scheduler in its own process.
fn scheduler_costs(n: i64) -> anyhow::Result<(f64, f64)> {
    let cluster = BenchCluster::start(&brisk_bin(), 2, true)?;
    let client = &cluster.client;
    client.gather(&client.map(noop, 0..100i64)?)?;
    std::thread::sleep(Duration::from_millis(300));
    let pid = cluster.scheduler.0.id();
    let (cpu0, rss0) = proc_stat(pid)?;
    let futs = client.map(noop, 0..n)?;
    client.wait(&futs);
    std::thread::sleep(Duration::from_millis(300));
    let (cpu1, rss1) = proc_stat(pid)?;
    let held: u64 = client
        .scheduler_info()?
        .tasks_by_state
        .iter()
        .map(|(_, c)| c)
        .sum();
    anyhow::ensure!(held >= n as u64, "futures held: {held}");
    drop(futs);
    client.shutdown();
    Ok((
        (cpu1 - cpu0) / n as f64,
        rss1.saturating_sub(rss0) as f64 / n as f64,
    ))
}
