//! The worker's thread pool: runs tasks by function name, reads inputs from the store, puts
//! results into it, and reports each outcome to the shell.
//!
//! A result whose type has no wire codec fails its task at once, with an error naming the
//! type and the task: on a cluster any value may have to move (to a dependent on another
//! worker, to a client, to disk), and a value that cannot would otherwise be reported missing
//! at each fetch and recomputed again and again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use brisk_core::eval::run_task;
use brisk_protocol::messages::TaskTiming;
use brisk_protocol::spec::{WireFailure, decode_task, decode_wire_task, encode_value};
use tokio::sync::mpsc;

use crate::state::{Execute, Outcome};
use crate::store::DataStore;

/// A finished job: key, outcome, when and on which thread it ran.
pub(crate) type Done = (brisk_core::Key, Outcome, TaskTiming);

/// What the threads share: the store, the worker's clock, and how many run a task now.
pub(crate) struct PoolShared {
    pub(crate) store: Arc<DataStore>,
    /// The worker's clock starts here (task timings are µs since then).
    pub(crate) epoch: Instant,
    pub(crate) running: AtomicU32,
    pub(crate) inline_limit: u64,
    /// Clients' uploaded programs, for tasks this worker cannot decode.
    pub(crate) programs: Arc<crate::programs::Programs>,
}

pub(crate) struct Pool {
    tx: Option<std::sync::mpsc::Sender<Execute>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    pub(crate) fn new(
        nthreads: usize,
        shared: Arc<PoolShared>,
        done: mpsc::UnboundedSender<Done>,
    ) -> std::io::Result<Pool> {
        let (tx, rx) = std::sync::mpsc::channel::<Execute>();
        let rx = Arc::new(parking_lot::Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..nthreads.max(1) {
            let rx = Arc::clone(&rx);
            let shared = Arc::clone(&shared);
            let done = done.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("brisk-worker-{i}"))
                    .spawn(move || {
                        loop {
                            let job = rx.lock().recv();
                            let Ok(job) = job else { break };
                            let key = job.key.clone();
                            shared.running.fetch_add(1, Ordering::Relaxed);
                            let (outcome, timing) = run(job, &shared, i as u32);
                            shared.running.fetch_sub(1, Ordering::Relaxed);
                            if done.send((key, outcome, timing)).is_err() {
                                break;
                            }
                        }
                    })?,
            );
        }
        Ok(Pool {
            tx: Some(tx),
            threads,
        })
    }

    pub(crate) fn submit(&self, job: Execute) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(job);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.tx = None;
        // Threads finish their current task and exit; a task stuck forever is not waited for.
        for t in self.threads.drain(..) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn run(job: Execute, shared: &PoolShared, thread: u32) -> (Outcome, TaskTiming) {
    let store = &*shared.store;
    let clock = |t: Instant| t.saturating_duration_since(shared.epoch).as_micros() as u64;
    let t0 = Instant::now();
    let failed = |m: String| {
        let at = clock(t0);
        let timing = TaskTiming {
            start_us: at,
            stop_us: at,
            thread,
        };
        (Outcome::Failed(WireFailure::msg("error", m)), timing)
    };
    // A task this program cannot decode (a function or a literal type it does not know)
    // runs in the client's uploaded program, when the task names one.
    let (task, program) = match decode_task(&job.key, &job.spec) {
        Ok(t) => (Some(t), None),
        Err(e) => match decode_wire_task(&job.key, &job.spec)
            .ok()
            .and_then(|w| w.exe)
        {
            Some(h) => (None, Some(h)),
            None => return failed(e.to_string()),
        },
    };
    let mut inputs = Vec::with_capacity(job.inputs.len());
    for k in &job.inputs {
        match store.get(k) {
            Ok(Some(v)) => inputs.push(v),
            Ok(None) => return failed(format!("internal: input {k} is not on this worker")),
            Err(e) => return failed(e.to_string()),
        }
    }
    let start = Instant::now();
    let r = match (&task, &program) {
        (Some(t), _) => run_task(t, &inputs).map_err(|f| WireFailure::from(&f)),
        (None, Some(h)) => shared.programs.run(h, &job.key, &job.spec, &inputs),
        (None, None) => Err(WireFailure::msg("error", "internal: no task")),
    };
    drop(job.spec);
    let timing = TaskTiming {
        start_us: clock(start),
        stop_us: clock(Instant::now()),
        thread,
    };
    drop(inputs);
    match r {
        Ok(v) => {
            if let Err(e) = crossable(&v) {
                let m = format!("the result of {}: {e}", job.key);
                return (Outcome::Failed(WireFailure::msg("error", m)), timing);
            }
            let value = if job.send_result && (v.nbytes() as u64) <= shared.inline_limit {
                encode_value(&v).ok()
            } else {
                None
            };
            let nbytes = store.put(job.key, v);
            (Outcome::Done { nbytes, value }, timing)
        }
        Err(f) => (Outcome::Failed(f), timing),
    }
}

/// Whether `v` (every item, for a list) has a wire codec in this program (or came from
/// another program as an `Opaque`, which travels as it came).
fn crossable(v: &brisk_core::Value) -> Result<(), brisk_core::CodecError> {
    brisk_core::codec::is_encodable(v)
}
