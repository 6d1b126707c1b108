//! Random runs of the worker's state machine against a simulated shell and scheduler.

use std::collections::{BTreeMap, BTreeSet};

use brisk_core::Key;
use brisk_protocol::messages::{ComputeTask, DepInfo, FromWorker, ToWorker};
use brisk_protocol::spec::WireFailure;
use brisk_protocol::{Payload, WorkerId};
use brisk_worker::{Execute, Outcome, WorkerComm, WorkerState};
use proptest::prelude::*;

#[derive(Default)]
struct Shell {
    sent: Vec<FromWorker>,
    running: Vec<Execute>,
    fetching: Vec<(WorkerId, Vec<Key>)>,
    store: BTreeSet<Key>,
}

impl WorkerComm for Shell {
    fn send(&mut self, msg: FromWorker) {
        self.sent.push(msg);
    }
    fn execute(&mut self, job: Execute) {
        for k in &job.inputs {
            assert!(self.store.contains(k), "{} runs without input {k}", job.key);
        }
        self.running.push(job);
    }
    fn fetch(&mut self, from: WorkerId, keys: Vec<Key>) {
        self.fetching.push((from, keys));
    }
    fn release(&mut self, key: Key) {
        self.store.remove(&key);
    }
}

#[derive(Debug, Clone)]
enum Step {
    Compute(u8, u8, u8),
    Done(u8, bool),
    Fetched(u8, bool),
    Free(u8),
    Steal(u8),
    Pause(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, b, c)| Step::Compute(a, b, c)),
        4 => (any::<u8>(), any::<bool>()).prop_map(|(a, b)| Step::Done(a, b)),
        3 => (any::<u8>(), any::<bool>()).prop_map(|(a, b)| Step::Fetched(a, b)),
        1 => any::<u8>().prop_map(Step::Free),
        1 => any::<u8>().prop_map(Step::Steal),
        1 => any::<bool>().prop_map(Step::Pause),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_runs_keep_invariants(steps in proptest::collection::vec(step(), 0..150)) {
        let mut s = WorkerState::new(2);
        let mut sh = Shell::default();
        s.handle_scheduler(
            ToWorker::Peers { added: vec![(1, "tcp://a:1".into()), (2, "tcp://b:2".into())], removed: vec![] },
            &mut sh,
        );
        let mut n = 0u32;
        let mut assigned: BTreeMap<Key, ()> = BTreeMap::new();
        for st in steps {
            match st {
                Step::Compute(a, b, p) => {
                    n += 1;
                    let key = Key::from(("t", n as usize));
                    // Inputs: earlier tasks' results (here or remote) or remote data.
                    let mut deps = Vec::new();
                    for x in [a, b] {
                        let k = if x % 3 == 0 && n > 1 {
                            Key::from(("t", 1 + (x as usize % (n as usize - 1))))
                        } else {
                            Key::from(("remote", (x % 7) as usize))
                        };
                        if !deps.iter().any(|d: &DepInfo| d.key == k) {
                            deps.push(DepInfo { key: k, nbytes: 8, who_has: vec![1 + u32::from(x % 2)] });
                        }
                    }
                    assigned.insert(key.clone(), ());
                    s.handle_scheduler(
                        ToWorker::Compute(ComputeTask { key, spec: Payload::default(), priority: u64::from(p), deps, send_result: false }),
                        &mut sh,
                    );
                }
                Step::Done(i, ok) => {
                    if !sh.running.is_empty() {
                        let job = sh.running.remove(i as usize % sh.running.len());
                        let outcome = if ok {
                            sh.store.insert(job.key.clone());
                            Outcome::Done { nbytes: 8, value: None }
                        } else {
                            Outcome::Failed(WireFailure::msg("error", "x"))
                        };
                        s.task_done(&job.key, outcome, 10, &mut sh);
                    }
                }
                Step::Fetched(i, ok) => {
                    if !sh.fetching.is_empty() {
                        let (from, keys) = sh.fetching.remove(i as usize % sh.fetching.len());
                        let got: Vec<(Key, u64)> = if ok { keys.iter().map(|k| (k.clone(), 8)).collect() } else { vec![] };
                        for (k, _) in &got {
                            sh.store.insert(k.clone());
                        }
                        s.fetched(from, &keys, &got, &mut sh);
                    }
                }
                Step::Free(i) => {
                    let keys: Vec<Key> = assigned.keys().cloned().collect();
                    if !keys.is_empty() {
                        let k = keys[i as usize % keys.len()].clone();
                        s.handle_scheduler(ToWorker::Free { keys: vec![k] }, &mut sh);
                    }
                }
                Step::Steal(i) => {
                    let keys: Vec<Key> = assigned.keys().cloned().collect();
                    if !keys.is_empty() {
                        let k = keys[i as usize % keys.len()].clone();
                        s.handle_scheduler(ToWorker::Steal { key: k }, &mut sh);
                    }
                }
                Step::Pause(p) => s.set_paused(p, &mut sh),
            }
            prop_assert_eq!(s.validate(), Ok(()));
        }
    }
}
