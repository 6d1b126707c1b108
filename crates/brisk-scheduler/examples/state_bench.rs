//! The state machine's cost per task, with and without the task-stream log (what a dashboard
//! page or a performance report adds per task), without any I/O: maps of `n` independent
//! tasks from one client onto 2 simulated workers, each finished and released.
//!
//! `cargo run --release -p brisk-scheduler --example state_bench -- [n] [rounds] [window]`
//! (window: `task_stream_length`) prints
//! `BRISK case=state_machine_per_task logged=<bool> ns=<ns per task>` (median of the rounds)
//! and the difference.

use std::time::Instant;

use brisk_core::Key;
use brisk_protocol::messages::{
    FromClient, FromWorker, NewTask, TaskTiming, ToClient, ToWorker, WorkerRegistration,
};
use brisk_protocol::{ClientId, Payload, WorkerId};
use brisk_scheduler::{Comm, SchedulerConfig, SchedulerState};

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

/// Nanoseconds per task for one map of `n` tasks.
fn one_map(n: usize, logged: bool, round: usize, window: usize) -> f64 {
    let mut s = SchedulerState::new(SchedulerConfig {
        task_stream_length: window,
        ..SchedulerConfig::default()
    });
    s.set_task_stream_watched(logged);
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
    let name = format!("noop-{round}");
    let keys: Vec<Key> = (0..n).map(|i| Key::from((name.as_str(), i))).collect();
    let tasks: Vec<NewTask> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| NewTask {
            key: k.clone(),
            deps: Vec::new(),
            priority: i as u32,
            spec: Payload::from(vec![1u8]),
            retries: 0,
        })
        .collect();
    let t = Instant::now();
    s.handle_client(
        1,
        FromClient::UpdateGraph {
            tasks,
            wanted: keys.clone(),
        },
        &mut sim,
    );
    let mut i = 0u64;
    while let Some((w, key)) = sim.assigned.pop() {
        i += 1;
        let timing = TaskTiming {
            start_us: i,
            stop_us: i + 1,
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
    s.handle_client(1, FromClient::Release { keys }, &mut sim);
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(s.num_tasks(), 0, "every task finished and was released");
    ns
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(10_000);
    let rounds = args.get(1).copied().unwrap_or(3).max(1);
    let window = args
        .get(2)
        .copied()
        .unwrap_or(SchedulerConfig::default().task_stream_length);
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        off.push(one_map(n, false, 2 * r, window));
        on.push(one_map(n, true, 2 * r + 1, window));
    }
    let (off, on) = (median(off), median(on));
    println!("BRISK case=state_machine_per_task logged=false ns={off:.1} n={n} rounds={rounds}");
    println!("BRISK case=state_machine_per_task logged=true ns={on:.1} n={n} rounds={rounds}");
    println!(
        "BRISK case=task_stream_log_per_task ns={:.1} pct={:.1}",
        on - off,
        (on - off) / off * 100.0
    );
}
