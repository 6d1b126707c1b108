//! The worker's state machine driven by hand through a recording fake shell.

use brisk_core::Key;
use brisk_protocol::messages::{ComputeTask, DepInfo, FromWorker, TaskTiming, ToWorker};
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{Payload, WorkerId};
use brisk_worker::{Execute, MemoryPolicy, Outcome, WorkerComm, WorkerState, WorkerTaskState};

#[derive(Default)]
struct Rec {
    sent: Vec<FromWorker>,
    exec: Vec<Execute>,
    fetch: Vec<(WorkerId, Vec<Key>)>,
    released: Vec<Key>,
}

impl WorkerComm for Rec {
    fn send(&mut self, msg: FromWorker) {
        self.sent.push(msg);
    }
    fn execute(&mut self, job: Execute) {
        self.exec.push(job);
    }
    fn fetch(&mut self, from: WorkerId, keys: Vec<Key>) {
        self.fetch.push((from, keys));
    }
    fn release(&mut self, key: Key) {
        self.released.push(key);
    }
}

impl Rec {
    /// Fail the test if the state machine asked for anything not consumed yet (an
    /// unexpected message, execution, fetch or release).
    #[track_caller]
    fn assert_quiet(&self) {
        assert!(
            self.sent.is_empty()
                && self.exec.is_empty()
                && self.fetch.is_empty()
                && self.released.is_empty(),
            "unexpected output: sent {:?}, executed {:?}, fetches {:?}, released {:?}",
            self.sent,
            self.exec.iter().map(|e| &e.key).collect::<Vec<_>>(),
            self.fetch,
            self.released
        );
    }
}

fn compute(key: &str, priority: u64, deps: &[(&str, &[WorkerId])]) -> ToWorker {
    ToWorker::Compute(ComputeTask {
        key: key.into(),
        spec: Payload::from(vec![0]),
        priority,
        deps: deps
            .iter()
            .map(|(k, w)| DepInfo {
                key: (*k).into(),
                nbytes: 10,
                who_has: w.to_vec(),
            })
            .collect(),
        send_result: false,
    })
}

fn done(nbytes: u64) -> Outcome {
    Outcome::Done {
        nbytes,
        value: None,
    }
}

fn with_peers() -> (WorkerState, Rec) {
    let mut s = WorkerState::new(1);
    let mut c = Rec::default();
    s.handle_scheduler(
        ToWorker::Peers {
            added: vec![
                (1, "tcp://a:1".into()),
                (2, "tcp://b:2".into()),
                (3, "tcp://c:3".into()),
            ],
            removed: vec![],
        },
        &mut c,
    );
    (s, c)
}

#[test]
fn runs_by_priority_one_thread_at_a_time() {
    let (mut s, mut c) = with_peers();
    s.handle_scheduler(compute("late", 5, &[]), &mut c);
    assert_eq!(c.exec.len(), 1, "a free thread starts at once");
    s.handle_scheduler(compute("b", 3, &[]), &mut c);
    s.handle_scheduler(compute("a", 1, &[]), &mut c);
    assert_eq!(c.exec.len(), 1);
    s.task_done(&"late".into(), done(8), ran(), &mut c);
    assert_eq!(c.exec[1].key, Key::from("a"), "highest priority next");
    assert!(
        matches!(&c.sent[0], FromWorker::Finished { key, nbytes: 8, .. } if *key == Key::from("late"))
    );
}

#[test]
fn fetches_inputs_and_drops_replicas_after_use() {
    let (mut s, mut c) = with_peers();
    s.handle_scheduler(compute("sum", 1, &[("x", &[2]), ("y", &[3])]), &mut c);
    assert!(c.exec.is_empty());
    let mut f = c.fetch.clone();
    f.sort();
    assert_eq!(
        f,
        vec![(2, vec![Key::from("x")]), (3, vec![Key::from("y")])]
    );
    s.fetched(2, &["x".into()], &[("x".into(), 10)], &mut c);
    assert!(c.exec.is_empty());
    // The holder of y lost it: tell the scheduler, try nobody else (no other holder).
    s.fetched(3, &["y".into()], &[], &mut c);
    assert!(
        c.sent
            .iter()
            .any(|m| matches!(m, FromWorker::Missing { key, holder: 3 } if *key == Key::from("y")))
    );
    // The scheduler recomputes y elsewhere and resends the task.
    s.handle_scheduler(
        ToWorker::Free {
            keys: vec!["sum".into()],
        },
        &mut c,
    );
    assert_eq!(
        c.released,
        vec![Key::from("x")],
        "x's replica goes with its only user"
    );
    c.released.clear();
    c.fetch.clear();
    s.handle_scheduler(compute("sum", 1, &[("x", &[2]), ("y", &[1])]), &mut c);
    assert_eq!(c.fetch.len(), 2);
    s.fetched(2, &["x".into()], &[("x".into(), 10)], &mut c);
    s.fetched(1, &["y".into()], &[("y".into(), 10)], &mut c);
    assert_eq!(c.exec.len(), 1);
    assert_eq!(c.exec[0].inputs, vec![Key::from("x"), Key::from("y")]);
    s.task_done(&"sum".into(), done(8), ran(), &mut c);
    let mut rel = c.released.clone();
    rel.sort();
    assert_eq!(rel, vec![Key::from("x"), Key::from("y")]);
    assert!(s.has_data(&"sum".into()));
}

#[test]
fn steals_only_what_has_not_started_and_cancels_what_runs() {
    let (mut s, mut c) = with_peers();
    s.handle_scheduler(compute("running", 1, &[]), &mut c);
    s.handle_scheduler(compute("queued", 2, &[]), &mut c);
    s.handle_scheduler(
        ToWorker::Steal {
            key: "queued".into(),
        },
        &mut c,
    );
    s.handle_scheduler(
        ToWorker::Steal {
            key: "running".into(),
        },
        &mut c,
    );
    let replies: Vec<(Key, bool)> = c
        .sent
        .iter()
        .filter_map(|m| match m {
            FromWorker::StealReply { key, accepted } => Some((key.clone(), *accepted)),
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        vec![("queued".into(), true), ("running".into(), false)]
    );
    s.handle_scheduler(
        ToWorker::Free {
            keys: vec!["running".into()],
        },
        &mut c,
    );
    assert_eq!(
        s.task_state(&"running".into()),
        Some(WorkerTaskState::Cancelled)
    );
    c.sent.clear();
    s.task_done(&"running".into(), done(8), ran(), &mut c);
    assert!(
        c.sent.is_empty(),
        "a cancelled task's result is not reported"
    );
    assert_eq!(c.released, vec![Key::from("running")]);
    assert_eq!(c.exec.len(), 1, "the stolen task never ran here");
}

#[test]
fn failures_are_reported_and_pause_holds_new_work() {
    let (mut s, mut c) = with_peers();
    s.set_paused(true, &mut c);
    assert!(matches!(c.sent[0], FromWorker::Paused(true)));
    s.handle_scheduler(compute("t", 1, &[]), &mut c);
    assert!(c.exec.is_empty(), "paused: nothing starts");
    s.set_paused(false, &mut c);
    assert_eq!(c.exec.len(), 1);
    s.task_done(
        &"t".into(),
        Outcome::Failed(WireFailure::msg("error", "bad input")),
        ran(),
        &mut c,
    );
    assert!(c.sent.iter().any(|m| matches!(m, FromWorker::Erred { key, failure, .. } if *key == Key::from("t") && failure.message == "bad input")));
    assert!(!s.has_data(&"t".into()));
}

#[test]
fn pauses_past_the_memory_threshold_and_resumes_below_ninety_percent_of_it() {
    let (mut s, mut c) = with_peers();
    c.assert_quiet();
    // Without a policy, memory use never pauses.
    s.memory_observed(u64::MAX, &mut c);
    c.assert_quiet();
    s.set_memory_policy(Some(MemoryPolicy {
        limit: 1000,
        pause_fraction: 0.8,
    }));
    s.memory_observed(800, &mut c);
    c.assert_quiet();
    s.memory_observed(801, &mut c);
    assert!(matches!(c.sent.as_slice(), [FromWorker::Paused(true)]));
    c.sent.clear();
    s.handle_scheduler(compute("t", 1, &[]), &mut c);
    c.assert_quiet();
    // Between 90 % of the threshold and the threshold: still paused, nothing said.
    s.memory_observed(720, &mut c);
    s.memory_observed(900, &mut c);
    c.assert_quiet();
    assert!(s.is_paused());
    s.memory_observed(719, &mut c);
    assert!(matches!(c.sent.as_slice(), [FromWorker::Paused(false)]));
    assert_eq!(c.exec.len(), 1, "the queued task starts on resume");
    c.sent.clear();
    c.exec.clear();
    c.assert_quiet();
}

/// A run of 10 µs on thread 0.
fn ran() -> TaskTiming {
    TaskTiming {
        start_us: 100,
        stop_us: 110,
        thread: 0,
    }
}
