//! Where the scheduler's memory per held task goes, without any I/O: the state machine alone,
//! fed a map of `n` no-op tasks shaped like `Client::map`'s (keys `noop-<32 hex digits>`, real
//! encoded specs), streamed in pieces of `piece` tasks, all finished on 2 simulated workers and
//! held by the client. Prints the RSS growth per task after submission (queued) and once every
//! task is held in memory, the CPU per task, and the sizes of the record's parts.
//!
//! `cargo run --release -p brisk-scheduler --example state_memory -- [n] [piece]`
//! prints `BRISK case=state_memory n=<n> queued_bytes=<B/task> held_bytes=<B/task> ...`.

use std::time::Instant;

use brisk_core::Key;
use brisk_protocol::messages::{
    FromClient, FromWorker, NewTask, TaskTiming, ToClient, ToWorker, WorkerRegistration,
};
use brisk_protocol::{ClientId, WorkerId};
use brisk_scheduler::{Comm, SchedulerConfig, SchedulerState};

#[global_allocator]
static A: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn noop(x: i64) -> i64 {
    x
}
brisk_core::register!(noop);

#[derive(Default)]
struct Sim {
    assigned: Vec<(WorkerId, Key)>,
}

impl Comm for Sim {
    fn send_worker(&mut self, w: WorkerId, msg: ToWorker) {
        if let ToWorker::Compute(t) = msg {
            self.assigned.push((w, t.key));
        }
    }
    fn send_client(&mut self, _c: ClientId, _msg: ToClient) {}
}

fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

/// One task as `Client::map(noop, ..)` makes it.
fn map_task(i: i64) -> NewTask {
    let func = brisk_core::Func::new(noop);
    let (task, deps) = (
        brisk_core::plan::PlanTask {
            func: func.clone(),
            args: vec![brisk_core::plan::PArg::Lit(brisk_core::Value::from(i))],
            fused_key: None,
        },
        Vec::<Key>::new(),
    );
    let label = Key::from("noop");
    let spec = brisk_protocol::spec::encode_task(&label, &task).expect("noop is registered");
    let key = Key::from(format!("noop-{:016x}{:016x}", i as u64 * 0x9e37, !i as u64));
    NewTask {
        key,
        deps,
        priority: i as u32,
        spec,
        retries: 0,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let piece = args.get(1).copied().unwrap_or(100_000).max(1);
    let mut s = SchedulerState::new(SchedulerConfig::default());
    let mut sim = Sim::default();
    let now = Instant::now();
    for w in 1..=2 {
        let reg = WorkerRegistration {
            name: format!("w{w}"),
            nthreads: 1,
            memory_limit: 0,
            peer_address: format!("tcp://127.0.0.1:{}", 1000 + w),
            pid: w,
            clock_us: 0,
        };
        s.add_worker(w as WorkerId, reg, now, &mut sim);
    }
    s.add_client(1, &mut sim);
    let spec_len = map_task(0).spec.len();
    let rss0 = rss();
    let (mut cpu_submit, mut cpu_run) = (0.0, 0.0);
    let mut i = 0usize;
    while i < n {
        let m = piece.min(n - i);
        let tasks: Vec<NewTask> = (i..i + m).map(|j| map_task(j as i64)).collect();
        let wanted: Vec<Key> = tasks.iter().map(|t| t.key.clone()).collect();
        let c0 = cpu_s();
        s.handle_client(1, FromClient::UpdateGraph { tasks, wanted }, &mut sim);
        cpu_submit += cpu_s() - c0;
        i += m;
    }
    let rss_queued = rss();
    let c0 = cpu_s();
    let mut done = 0u64;
    while let Some((w, key)) = sim.assigned.pop() {
        done += 1;
        let timing = TaskTiming {
            start_us: done,
            stop_us: done + 1,
            thread: 0,
        };
        let msg = FromWorker::Finished {
            key,
            nbytes: 8,
            timing: Some(timing),
            value: None,
        };
        s.handle_worker(w, msg, now, &mut sim);
    }
    cpu_run += cpu_s() - c0;
    sim.assigned = Vec::new();
    let rss_held = rss();
    assert_eq!(done as usize, n, "every task ran");
    assert_eq!(s.num_tasks(), n, "every task is held");
    let per = |b: u64| b.saturating_sub(rss0) as f64 / n as f64;
    println!(
        "BRISK case=state_memory n={n} piece={piece} queued_bytes={:.0} held_bytes={:.0} \
         submit_us_per_task={:.3} run_us_per_task={:.3} spec_bytes={spec_len}",
        per(rss_queued),
        per(rss_held),
        cpu_submit * 1e6 / n as f64,
        cpu_run * 1e6 / n as f64,
    );
    for (field, bytes) in SchedulerState::record_fields() {
        println!("BRISK field={field} bytes={bytes}");
    }
    for (part, bytes) in s.memory_parts() {
        println!(
            "BRISK part={part} bytes_per_task={:.1}",
            bytes as f64 / n as f64
        );
    }
}
