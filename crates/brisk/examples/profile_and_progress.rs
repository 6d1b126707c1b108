//! Diagnostics: a profiler trace (open it in https://ui.perfetto.dev), callbacks, and a
//! picture of the graph. `cargo run --example profile_and_progress`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use brisk::diagnostics::{Callback, Profiler, RunInfo, TaskInfo, with_callbacks};
use brisk::{Collection, Delayed, TaskFailure, delayed};

fn slow_square(x: i64) -> i64 {
    std::thread::sleep(std::time::Duration::from_millis(2));
    x * x
}
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// A callback of our own: counts finished tasks.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Callback for Counter {
    fn on_task_finish(
        &self,
        _: &RunInfo,
        _: &TaskInfo<'_>,
        _: Instant,
        _: Result<(), &TaskFailure>,
    ) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() -> anyhow::Result<()> {
    let parts: Vec<Delayed<i64>> = (0..200).map(|i| delayed(slow_square).call(i)).collect();
    let result = delayed(total).call(parts);

    let profiler = Profiler::new();
    let counter = Arc::new(Counter::default());
    let value = with_callbacks(&[profiler.clone(), counter.clone()], || result.compute())?;
    println!(
        "sum of squares = {value}; {} tasks ran",
        counter.0.load(Ordering::Relaxed)
    );

    let out = std::env::temp_dir().join("brisk-example");
    std::fs::create_dir_all(&out)?;
    profiler.write_chrome_trace(out.join("profile.json"))?;
    for (prefix, s) in profiler.summary() {
        println!("{prefix:>14}: {} tasks, {:?} in all", s.count, s.total);
    }
    let picture = result.visualize(out.join("graph.dot"))?;
    println!(
        "trace: {}  graph: {}",
        out.join("profile.json").display(),
        picture.display()
    );
    Ok(())
}
