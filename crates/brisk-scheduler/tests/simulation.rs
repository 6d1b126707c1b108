//! Random runs of the scheduler against simulated workers: random graphs, random finishing
//! order, failures, worker deaths and arrivals, steals, releases and graceful retirements.
//! After every step all invariants hold, and no retirement loses a value; in the end every
//! wanted key reaches the client exactly as computed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use brisk_core::Key;
use brisk_protocol::messages::{
    FromClient, FromWorker, NewTask, TaskTiming, ToClient, ToWorker, WorkerRegistration,
};
use brisk_protocol::{ClientId, Payload, WorkerId};
use brisk_scheduler::{Comm, SchedulerConfig, SchedulerState};
use proptest::prelude::*;

#[derive(Default)]
struct Sim {
    /// Per worker: assigned tasks (key → started?).
    assigned: BTreeMap<WorkerId, BTreeMap<Key, bool>>,
    /// Per worker: keys held.
    held: BTreeMap<WorkerId, BTreeSet<Key>>,
    steals: Vec<(WorkerId, Key)>,
    client: Vec<ToClient>,
    /// Copies asked for (`Acquire`): to, keys, from.
    acquires: Vec<(WorkerId, Vec<Key>, WorkerId)>,
    /// Workers told to close.
    closed: Vec<WorkerId>,
}

impl Comm for Sim {
    fn send_worker(&mut self, w: WorkerId, msg: ToWorker) {
        match msg {
            ToWorker::Compute(t) => {
                self.assigned.entry(w).or_default().insert(t.key, false);
            }
            ToWorker::Free { keys } => {
                for k in keys {
                    if let Some(a) = self.assigned.get_mut(&w) {
                        a.remove(&k);
                    }
                    if let Some(h) = self.held.get_mut(&w) {
                        h.remove(&k);
                    }
                }
            }
            ToWorker::Steal { key } => self.steals.push((w, key)),
            ToWorker::Acquire { keys, from } => self.acquires.push((w, keys, from)),
            ToWorker::Close { .. } => self.closed.push(w),
            _ => {}
        }
    }
    fn send_client(&mut self, _c: ClientId, msg: ToClient) {
        self.client.push(msg);
    }
}

fn reg(w: WorkerId) -> WorkerRegistration {
    WorkerRegistration {
        name: format!("w{w}"),
        nthreads: 1 + w % 2,
        memory_limit: 0,
        peer_address: format!("tcp://127.0.0.1:{}", 1000 + w),
        pid: w,
        clock_us: 0,
    }
}

#[derive(Debug, Clone)]
enum Step {
    Finish(u8),
    Start(u8),
    Kill(u8),
    Join,
    Tick,
    Steals(bool),
    Fail(u8),
    Release(u8),
    SecondClient,
    SecondGone,
    Retire(u8),
    Copy(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => any::<u8>().prop_map(Step::Finish),
        3 => any::<u8>().prop_map(Step::Start),
        1 => any::<u8>().prop_map(Step::Kill),
        1 => Just(Step::Join),
        2 => Just(Step::Tick),
        2 => any::<bool>().prop_map(Step::Steals),
        1 => any::<u8>().prop_map(Step::Fail),
        1 => any::<u8>().prop_map(Step::Release),
        1 => Just(Step::SecondClient),
        1 => Just(Step::SecondGone),
        1 => any::<u8>().prop_map(Step::Retire),
        2 => any::<bool>().prop_map(Step::Copy),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn random_runs_keep_invariants_and_finish(
        n in 5usize..60,
        edges in proptest::collection::vec((any::<u16>(), any::<u16>()), 0..120),
        steps in proptest::collection::vec(step(), 0..200),
        piece in 0usize..6,
    ) {
        let mut s = SchedulerState::new(SchedulerConfig { allowed_failures: 100, ..SchedulerConfig::default() });
        let mut sim = Sim::default();
        let t0 = Instant::now();
        let mut next_worker = 1;
        for _ in 0..2 {
            s.add_worker(next_worker, reg(next_worker), t0, &mut sim);
            next_worker += 1;
        }
        s.add_client(1, &mut sim);
        // A random DAG: edges only from lower to higher index.
        let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        for (a, b) in edges {
            let (a, b) = (a as usize % n, b as usize % n);
            if a < b {
                deps[b].insert(a);
            }
        }
        let key = |i: usize| Key::from(("t", i));
        let tasks: Vec<NewTask> = (0..n)
            .map(|i| NewTask {
                key: key(i),
                deps: deps[i].iter().map(|&d| key(d)).collect(),
                priority: i as u32,
                spec: Payload::from(vec![i as u8]),
                retries: 0,
            })
            .collect();
        let mut wanted: Vec<Key> = (0..n).filter(|i| i % 3 == 0 || i + 1 == n).map(key).collect();
        if piece == 0 {
            s.handle_client(1, FromClient::UpdateGraph { tasks: tasks.clone(), wanted: wanted.clone() }, &mut sim);
        } else {
            // Streamed in pieces of `piece` tasks, each with its wanted keys; tasks of a piece
            // are shuffled (a dependency may come after its dependent within a piece).
            let chunks: Vec<&[NewTask]> = tasks.chunks(piece).collect();
            for (p, chunk) in chunks.iter().enumerate() {
                let mut chunk = chunk.to_vec();
                chunk.reverse();
                let w: Vec<Key> = chunk.iter().map(|t| t.key.clone()).filter(|k| wanted.contains(k)).collect();
                let last = p + 1 == chunks.len();
                s.handle_client(1, FromClient::GraphPiece { graph: 1, tasks: chunk, wanted: w, last }, &mut sim);
                prop_assert_eq!(s.validate(), Ok(()));
            }
        }
        let mut second = false;
        prop_assert_eq!(s.validate(), Ok(()));
        let mut now = t0;
        let finish = |s: &mut SchedulerState, sim: &mut Sim, w: WorkerId, k: Key, now: Instant| {
            if let Some(a) = sim.assigned.get_mut(&w) {
                a.remove(&k);
            }
            sim.held.entry(w).or_default().insert(k.clone());
            s.handle_worker(w, FromWorker::Finished { key: k, nbytes: 100, timing: Some(TaskTiming { start_us: 0, stop_us: 1000, thread: 0 }), value: None }, now, sim);
        };
        for st in steps {
            now += Duration::from_millis(10);
            let lost_before = s.snapshot().workers_lost;
            let killed = matches!(st, Step::Kill(_));
            match st {
                Step::Finish(i) | Step::Start(i) => {
                    let all: Vec<(WorkerId, Key)> = sim
                        .assigned
                        .iter()
                        .flat_map(|(w, a)| a.keys().map(move |k| (*w, k.clone())))
                        .collect();
                    if all.is_empty() {
                        continue;
                    }
                    let (w, k) = all[i as usize % all.len()].clone();
                    if matches!(st, Step::Start(_)) {
                        sim.assigned.get_mut(&w).map(|a| a.insert(k, true));
                    } else {
                        finish(&mut s, &mut sim, w, k, now);
                    }
                }
                Step::Kill(i) => {
                    // A worker that stays (not retiring) survives every kill.
                    let ws = s.worker_ids();
                    let staying: Vec<WorkerId> = s
                        .snapshot()
                        .workers
                        .iter()
                        .filter(|w| !w.retiring)
                        .map(|w| w.id)
                        .collect();
                    let w = ws.get(i as usize % ws.len().max(1)).copied();
                    if let Some(w) = w
                        && staying.iter().any(|&x| x != w)
                    {
                        sim.assigned.remove(&w);
                        sim.held.remove(&w);
                        s.remove_worker(w, "killed", &mut sim);
                    }
                }
                Step::Join => {
                    s.add_worker(next_worker, reg(next_worker), now, &mut sim);
                    next_worker += 1;
                }
                Step::Tick => {
                    s.tick(now, &mut sim);
                    for w in s.worker_ids() {
                        s.handle_worker(w, FromWorker::Heartbeat(Default::default()), now, &mut sim);
                    }
                }
                Step::Fail(i) => {
                    let all: Vec<(WorkerId, Key)> = sim
                        .assigned
                        .iter()
                        .flat_map(|(w, a)| a.keys().map(move |k| (*w, k.clone())))
                        .collect();
                    if let Some((w, k)) = all.get(i as usize % all.len().max(1)).cloned() {
                        sim.assigned.get_mut(&w).map(|a| a.remove(&k));
                        let failure = brisk_protocol::spec::WireFailure::msg("error", "boom");
                        s.handle_worker(w, FromWorker::Erred { key: k, failure, timing: Some(TaskTiming { start_us: 0, stop_us: 5, thread: 0 }) }, now, &mut sim);
                    }
                }
                Step::Release(i) => {
                    if !wanted.is_empty() {
                        let k = wanted.remove(i as usize % wanted.len());
                        s.handle_client(1, FromClient::Release { keys: vec![k] }, &mut sim);
                    }
                }
                Step::SecondClient => {
                    if !second {
                        second = true;
                        s.add_client(2, &mut sim);
                        let w2: Vec<Key> = (0..n).filter(|i| i % 2 == 1).map(key).collect();
                        s.handle_client(2, FromClient::UpdateGraph { tasks: tasks.clone(), wanted: w2 }, &mut sim);
                    }
                }
                Step::SecondGone => {
                    if second {
                        second = false;
                        s.remove_client(2, &mut sim);
                    }
                }
                Step::Retire(i) => {
                    // As with kills, one worker that stays is left to finish the work (retiring
                    // the last workers is allowed, but then nothing runs until one joins).
                    let ws: Vec<WorkerId> = s
                        .snapshot()
                        .workers
                        .iter()
                        .filter(|w| !w.retiring)
                        .map(|w| w.id)
                        .collect();
                    if ws.len() > 1 {
                        let w = ws[i as usize % ws.len()];
                        s.handle_client(1, FromClient::RetireWorkers { workers: vec![format!("w{w}")] }, &mut sim);
                    }
                }
                Step::Copy(deliver) => {
                    // Recipients copy what they were asked for (or the copies fail).
                    for (to, keys, from) in std::mem::take(&mut sim.acquires) {
                        if !deliver || !s.worker_ids().contains(&to) {
                            continue;
                        }
                        for k in keys {
                            if sim.held.get(&from).is_some_and(|h| h.contains(&k)) {
                                sim.held.entry(to).or_default().insert(k.clone());
                                s.handle_worker(to, FromWorker::Stored { key: k, nbytes: 100 }, now, &mut sim);
                            }
                        }
                    }
                }
                Step::Steals(accept) => {
                    for (w, k) in std::mem::take(&mut sim.steals) {
                        let started = sim.assigned.get(&w).and_then(|a| a.get(&k)).copied();
                        let ok = accept && started == Some(false);
                        if ok {
                            sim.assigned.get_mut(&w).map(|a| a.remove(&k));
                        }
                        s.handle_worker(w, FromWorker::StealReply { key: k, accepted: ok }, now, &mut sim);
                    }
                }
            }
            // A retired worker's process exits; the shell then reports it gone. Its values
            // were all copied first: only a kill loses workers.
            for w in std::mem::take(&mut sim.closed) {
                sim.assigned.remove(&w);
                sim.held.remove(&w);
                s.remove_worker(w, "closed", &mut sim);
            }
            if !killed {
                prop_assert_eq!(s.snapshot().workers_lost, lost_before, "a retirement lost a value");
            }
            prop_assert_eq!(s.validate(), Ok(()));
        }
        // Drain: answer steals, finish everything assigned until the wanted keys are done.
        for _ in 0..10_000 {
            for (w, k) in std::mem::take(&mut sim.steals) {
                s.handle_worker(w, FromWorker::StealReply { key: k, accepted: false }, now, &mut sim);
            }
            let next = sim.assigned.iter().find_map(|(w, a)| a.keys().next().map(|k| (*w, k.clone())));
            let Some((w, k)) = next else { break };
            finish(&mut s, &mut sim, w, k, now);
            prop_assert_eq!(s.validate(), Ok(()));
        }
        let done: BTreeSet<Key> = sim
            .client
            .iter()
            .filter_map(|m| match m {
                ToClient::InMemory { key, .. } | ToClient::Erred { key, .. } => Some(key.clone()),
                _ => None,
            })
            .collect();
        for k in &wanted {
            prop_assert!(done.contains(k), "{} never reached the client; {:?}; {:?}", k, s.snapshot(), s.task_detail(&k.to_string()).map(|d| format!("{d:?}")));
        }
        // Releasing everything forgets everything and frees every value.
        s.handle_client(1, FromClient::Release { keys: wanted }, &mut sim);
        if second {
            s.remove_client(2, &mut sim);
        }
        prop_assert_eq!(s.validate(), Ok(()));
        prop_assert_eq!(s.num_tasks(), 0);
        prop_assert!(sim.held.values().all(BTreeSet::is_empty), "{:?}", sim.held);
    }
}
