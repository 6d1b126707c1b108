//! The worker's thread pool: runs tasks by function name, reads inputs from the store, puts
//! results into it, and reports each outcome to the shell.

use std::sync::Arc;
use std::time::Instant;

use brisk_core::eval::run_task;
use brisk_protocol::spec::{WireFailure, decode_task, encode_value};
use tokio::sync::mpsc;

use crate::state::{Execute, Outcome};
use crate::store::DataStore;

/// A finished job: key, outcome, duration in µs.
pub(crate) type Done = (brisk_core::Key, Outcome, u64);

pub(crate) struct Pool {
    tx: Option<std::sync::mpsc::Sender<Execute>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    pub(crate) fn new(
        nthreads: usize,
        store: Arc<DataStore>,
        done: mpsc::UnboundedSender<Done>,
        inline_limit: u64,
    ) -> std::io::Result<Pool> {
        let (tx, rx) = std::sync::mpsc::channel::<Execute>();
        let rx = Arc::new(parking_lot::Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..nthreads.max(1) {
            let rx = Arc::clone(&rx);
            let store = Arc::clone(&store);
            let done = done.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("brisk-worker-{i}"))
                    .spawn(move || {
                        loop {
                            let job = rx.lock().recv();
                            let Ok(job) = job else { break };
                            let key = job.key.clone();
                            let (outcome, us) = run(job, &store, inline_limit);
                            if done.send((key, outcome, us)).is_err() {
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

fn run(job: Execute, store: &DataStore, inline_limit: u64) -> (Outcome, u64) {
    let failed = |m: String| (Outcome::Failed(WireFailure::msg("error", m)), 0);
    let task = match decode_task(&job.key, &job.spec) {
        Ok(t) => t,
        Err(e) => return failed(e.to_string()),
    };
    let mut inputs = Vec::with_capacity(job.inputs.len());
    for k in &job.inputs {
        match store.get(k) {
            Ok(Some(v)) => inputs.push(v),
            Ok(None) => return failed(format!("internal: input {k} is not on this worker")),
            Err(e) => return failed(e.to_string()),
        }
    }
    drop(job.spec);
    let t0 = Instant::now();
    let r = run_task(&task, &inputs);
    let us = t0.elapsed().as_micros() as u64;
    drop(inputs);
    match r {
        Ok(v) => {
            let value = if job.send_result && (v.nbytes() as u64) <= inline_limit {
                encode_value(&v).ok()
            } else {
                None
            };
            let nbytes = store.put(job.key, v);
            (Outcome::Done { nbytes, value }, us)
        }
        Err(f) => (Outcome::Failed(WireFailure::from(&f)), us),
    }
}
