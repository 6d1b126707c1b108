//! Shared by the state-machine tests: a recording fake transport and message builders.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use brisk_core::Key;
use brisk_protocol::messages::{
    FromWorker, NewTask, TaskStream, TaskTiming, ToClient, ToWorker, WorkerRegistration,
};
use brisk_protocol::{ClientId, Payload, WorkerId};
use brisk_scheduler::Comm;

/// Records every message the scheduler sends.
#[derive(Default)]
pub struct Rec {
    pub to_workers: Vec<(WorkerId, ToWorker)>,
    pub to_clients: Vec<(ClientId, ToClient)>,
}

impl Comm for Rec {
    fn send_worker(&mut self, w: WorkerId, msg: ToWorker) {
        self.to_workers.push((w, msg));
    }
    fn send_client(&mut self, c: ClientId, msg: ToClient) {
        self.to_clients.push((c, msg));
    }
}

impl Rec {
    /// Fail the test if any message was sent that the test has not consumed: an unexpected
    /// message must not pass unnoticed.
    #[track_caller]
    pub fn assert_quiet(&self) {
        assert!(
            self.to_workers.is_empty() && self.to_clients.is_empty(),
            "unexpected messages: to workers {:?}, to clients {:?}",
            self.to_workers,
            self.to_clients
        );
    }

    /// Compute messages sent since the last call, as (worker, key).
    pub fn computes(&mut self) -> Vec<(WorkerId, Key)> {
        let mut out = Vec::new();
        self.to_workers.retain(|(w, m)| match m {
            ToWorker::Compute(c) => {
                out.push((*w, c.key.clone()));
                false
            }
            _ => true,
        });
        out
    }

    /// Keys freed on workers since the last call, as (worker, key).
    pub fn frees(&mut self) -> Vec<(WorkerId, Key)> {
        let mut out = Vec::new();
        self.to_workers.retain(|(w, m)| match m {
            ToWorker::Free { keys } => {
                out.extend(keys.iter().map(|k| (*w, k.clone())));
                false
            }
            _ => true,
        });
        out
    }

    /// Every message to clients since the last call.
    pub fn client_msgs(&mut self) -> Vec<ToClient> {
        self.to_clients.drain(..).map(|(_, m)| m).collect()
    }

    /// The first task-stream reply to a client (removed).
    pub fn stream_reply(&mut self) -> TaskStream {
        let i = self
            .to_clients
            .iter()
            .position(|(_, m)| matches!(m, ToClient::TaskStream { .. }))
            .expect("a task stream reply");
        match self.to_clients.remove(i).1 {
            ToClient::TaskStream { stream, .. } => stream,
            _ => unreachable!(),
        }
    }
}

/// A worker's registration: `nthreads` threads, its clock reading `clock_us`.
pub fn registration(name: &str, nthreads: u32, clock_us: u64) -> WorkerRegistration {
    WorkerRegistration {
        name: name.into(),
        nthreads,
        memory_limit: 0,
        peer_address: format!("tcp://127.0.0.1:1{name}"),
        pid: 1,
        clock_us,
    }
}

/// A task `key` depending on `deps`.
pub fn task(key: &str, deps: &[&str], priority: u32) -> NewTask {
    NewTask {
        key: key.into(),
        deps: deps.iter().map(|d| Key::from(*d)).collect(),
        priority,
        spec: Payload::from(vec![1, 2, 3]),
        retries: 0,
    }
}

/// A worker's report that `key` finished (`nbytes` of output), run from `start_us` to
/// `stop_us` on its clock.
pub fn finished_at(key: &Key, nbytes: u64, start_us: u64, stop_us: u64) -> FromWorker {
    FromWorker::Finished {
        key: key.clone(),
        nbytes,
        timing: Some(TaskTiming {
            start_us,
            stop_us,
            thread: 0,
        }),
        value: None,
    }
}
