//! A worker's memory is its process's, not only the values it stores: memory a task holds
//! outside the store (a library's cache, a big intermediate, a leak) makes the worker spill
//! its values and pause, as Dask's process-memory thresholds do, and it resumes when that
//! memory is given back.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::ensure;

use crate::{Proc, connect, start_scheduler};

static HOG: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Hold `mb` MB outside the store for `ms` milliseconds, every page touched.
pub(crate) fn hog(mb: i64, ms: i64) -> i64 {
    let mut v = vec![0u8; (mb.max(0) as usize) << 20];
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
    if let Ok(mut h) = HOG.lock() {
        h.push(v);
    }
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms.max(0) as u64));
        if let Ok(mut h) = HOG.lock() {
            h.clear();
        }
    });
    mb
}

/// 10 MB of `n`.
pub(crate) fn ten_mb(n: i64) -> Vec<f64> {
    vec![n as f64; 1_250_000]
}

brisk::register!(hog, ten_mb);

pub(crate) fn a_worker_spills_and_pauses_on_process_memory() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&[])?;
    let _w = Proc(
        Command::new(std::env::current_exe()?)
            .env("BRISK_WORKER_OF", &address)
            .env("BRISK_WORKER_NTHREADS", "1")
            .env("BRISK_WORKER_NAME", "rss")
            .env("BRISK_WORKER_MEMORY_LIMIT", "400000000")
            .env_remove("BRISK_TOKEN")
            .stdin(Stdio::null())
            .spawn()?,
    );
    let client = connect(&address, None)?;
    client.wait_for_workers(1, Duration::from_secs(20))?;
    // 80 MB of values: well under the 240 MB (60 %) the store spills at by itself.
    let held = client.map(ten_mb, 0..8i64)?;
    let t = Instant::now();
    while !held.iter().all(|f| f.done()) {
        ensure!(
            t.elapsed() < Duration::from_secs(30),
            "the values are not made"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let metrics = |client: &brisk::Client| -> anyhow::Result<(bool, u64, u64)> {
        let info = client.scheduler_info()?;
        let w = info
            .workers
            .first()
            .ok_or_else(|| anyhow::anyhow!("no worker"))?;
        Ok((w.paused, w.metrics.spill_count, w.metrics.managed_bytes))
    };
    std::thread::sleep(Duration::from_millis(700));
    let (paused, spills, managed) = metrics(&client)?;
    ensure!(
        !paused && spills == 0 && managed >= 80_000_000,
        "nothing spilled yet: paused {paused}, {spills} spills, {managed} managed"
    );
    // A task holds 350 MB outside the store for 4 s: the process is past the spill (70 %) and
    // pause (80 %) thresholds of its 400 MB although the store holds 80 MB.
    ensure!(client.submit(hog, (350i64, 4000i64))?.result()? == 350);
    let t = Instant::now();
    let managed_then = loop {
        let (paused, spills, managed) = metrics(&client)?;
        if paused && spills > 0 {
            break managed;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(3),
            "the worker neither paused nor spilled on its process memory: paused {paused}, \
             {spills} spills"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    ensure!(
        managed_then < 80_000_000,
        "values were spilled: {managed_then} bytes still in memory"
    );
    // Paused: new work waits until the memory is given back, then runs.
    let after = client.submit(crate::inc, (1i64,))?;
    std::thread::sleep(Duration::from_millis(300));
    let started_while_paused = after.done() && t.elapsed() < Duration::from_millis(3500);
    ensure!(!started_while_paused, "a paused worker started a task");
    ensure!(after.result()? == 2);
    // Nothing was lost: the spilled values come back from disk.
    let v: Vec<Vec<f64>> = client.gather(&held)?;
    ensure!(
        v.iter()
            .enumerate()
            .all(|(i, x)| x.len() == 1_250_000 && x[0] == i as f64)
    );
    let (paused, _, _) = metrics(&client)?;
    ensure!(!paused, "resumed once the memory was given back");
    Ok(())
}
