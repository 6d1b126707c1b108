//! The execution engine behind both local schedulers.
//!
//! One run = one compiled [`Plan`] plus a state under a single mutex: per-node counters of
//! unfinished inputs and of remaining holders, the value slots, and a heap of ready tasks keyed
//! by their static priority. Every participating thread (the caller, plus pool threads for the
//! threaded scheduler) runs the same loop: take the highest-priority ready task, gather its
//! inputs, run it with the lock released, then record the result, release inputs nobody needs
//! any more, and make dependents ready. The sync scheduler is this loop on the calling thread
//! alone, so both schedulers share every rule.
//!
//! Invariants: a task runs at most once (it enters the heap exactly once, when its last input
//! arrives); a value is dropped as soon as its last dependent has run (outputs hold one extra
//! reference); the run ends when every node is finished, or — when stopping on error — when
//! the first failure is recorded and no task is still running. Waiting threads are woken when
//! new tasks become ready and when the run ends, and always re-check under the lock, so there
//! are no lost wake-ups.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Instant;

use brisk_core::eval::run_task;
use brisk_core::plan::PlanNode;
use brisk_core::{Error, Plan, TaskFailure, TaskResult, Value};
use parking_lot::{Condvar, Mutex, MutexGuard};
use smallvec::SmallVec;

use crate::callbacks::{Callback, RunInfo, TaskInfo};
use crate::progress::Tracker;

/// What a run does when a task fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Stop starting tasks, let running ones finish, and report the first failure.
    Stop,
    /// Keep running everything that does not depend on a failure; each dependent of a failed
    /// task reports that failure.
    Continue,
}

struct Failed {
    cause: u32,
    failure: TaskFailure,
}

enum Slot {
    Pending,
    Value(Value),
    Released,
    Failed(Arc<Failed>),
}

struct State {
    ready: BinaryHeap<Reverse<u32>>,
    waiting: Vec<u32>,
    refs: Vec<u32>,
    slots: Vec<Slot>,
    remaining: usize,
    running: usize,
    idle: usize,
    stop: Option<Error>,
}

/// One computation in progress.
pub(crate) struct Run {
    plan: Plan,
    state: Mutex<State>,
    cv: Condvar,
    callbacks: Vec<Arc<dyn Callback>>,
    pub(crate) info: RunInfo,
    on_error: OnError,
    progress: Option<Arc<Tracker>>,
}

thread_local! {
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is inside a task (so a computation it starts is nested).
pub(crate) fn in_task() -> bool {
    IN_TASK.with(Cell::get)
}

type Garbage = SmallVec<[Value; 8]>;

impl Run {
    pub(crate) fn new(
        plan: Plan,
        threads: usize,
        callbacks: Vec<Arc<dyn Callback>>,
        on_error: OnError,
        progress: Option<Arc<Tracker>>,
    ) -> Run {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = plan.len();
        let mut ready = BinaryHeap::new();
        let mut waiting = Vec::with_capacity(n);
        let mut refs = Vec::with_capacity(n);
        for id in 0..n as u32 {
            let w = plan.deps(id).len() as u32;
            if w == 0 {
                ready.push(Reverse(plan.priority(id)));
            }
            waiting.push(w);
            refs.push(plan.initial_refs(id));
        }
        let mut slots = Vec::with_capacity(n);
        slots.resize_with(n, || Slot::Pending);
        let info = RunInfo {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            tasks: n,
            threads,
            start: Instant::now(),
            nested: in_task(),
        };
        Run {
            plan,
            state: Mutex::new(State {
                ready,
                waiting,
                refs,
                slots,
                remaining: n,
                running: 0,
                idle: 0,
                stop: None,
            }),
            cv: Condvar::new(),
            callbacks,
            info,
            on_error,
            progress,
        }
    }

    pub(crate) fn plan(&self) -> &Plan {
        &self.plan
    }

    fn finished(st: &State) -> bool {
        st.remaining == 0 || (st.stop.is_some() && st.running == 0)
    }

    /// Execute tasks of this run on the current thread until the run is finished.
    pub(crate) fn work(&self, worker: usize) {
        let plan = &self.plan;
        let mut garbage = Garbage::new();
        let mut st = self.state.lock();
        loop {
            if Self::finished(&st) {
                // Free released values before anyone can see the run as finished, so that a
                // returned computation holds nothing it does not return.
                garbage.clear();
                self.cv.notify_all();
                break;
            }
            let next = if st.stop.is_none() {
                st.ready.pop()
            } else {
                None
            };
            let Some(Reverse(prio)) = next else {
                garbage.clear();
                st.idle += 1;
                self.cv.wait(&mut st);
                st.idle -= 1;
                continue;
            };
            let id = plan.order()[prio as usize];
            let inputs: SmallVec<[Value; 4]> = plan
                .deps(id)
                .iter()
                .map(|&d| match &st.slots[d as usize] {
                    Slot::Value(v) => v.clone(),
                    _ => Value::new(()),
                })
                .collect();
            st.running += 1;
            let result = MutexGuard::unlocked(&mut st, || {
                garbage.clear();
                self.execute(id, worker, inputs)
            });
            st.running -= 1;
            self.complete(&mut st, id, result, &mut garbage);
        }
    }

    fn execute(&self, id: u32, worker: usize, inputs: SmallVec<[Value; 4]>) -> TaskResult {
        let node = self.plan.node(id);
        let call = || {
            IN_TASK.with(|t| t.set(true));
            let r = match node {
                PlanNode::Task(t) => run_task(t, &inputs),
                // A value held by a cluster (a collection persisted there) is fetched here.
                PlanNode::Value(v) => {
                    brisk_core::Held::resolve(v).map_err(|e| TaskFailure::from_error(Box::new(e)))
                }
            };
            IN_TASK.with(|t| t.set(false));
            r
        };
        let result = if self.callbacks.is_empty() {
            call()
        } else {
            let key = self.plan.key(id);
            let label = match node {
                PlanNode::Task(t) => t.func.label(),
                PlanNode::Value(_) => "literal",
            };
            let task = TaskInfo {
                key,
                label,
                worker,
                start: Instant::now(),
            };
            for cb in &self.callbacks {
                cb.on_task_start(&self.info, &task);
            }
            let r = call();
            let end = Instant::now();
            for cb in &self.callbacks {
                cb.on_task_finish(&self.info, &task, end, r.as_ref().map(|_| ()));
            }
            r
        };
        drop(inputs);
        if let Some(p) = &self.progress {
            p.task_done();
        }
        result
    }

    fn release(st: &mut State, id: u32, garbage: &mut Garbage) {
        let r = &mut st.refs[id as usize];
        *r = r.saturating_sub(1);
        if *r == 0
            && let Slot::Value(v) = std::mem::replace(&mut st.slots[id as usize], Slot::Released)
        {
            garbage.push(v);
        }
    }

    fn complete(&self, st: &mut State, id: u32, result: TaskResult, garbage: &mut Garbage) {
        let plan = &self.plan;
        st.remaining -= 1;
        let mut newly = 0usize;
        match result {
            Ok(v) => {
                for &d in plan.dependents(id) {
                    let w = &mut st.waiting[d as usize];
                    *w -= 1;
                    if *w == 0 {
                        st.ready.push(Reverse(plan.priority(d)));
                        newly += 1;
                    }
                }
                if st.refs[id as usize] > 0 {
                    st.slots[id as usize] = Slot::Value(v);
                } else {
                    garbage.push(v);
                }
            }
            Err(failure) => match self.on_error {
                OnError::Stop => {
                    if st.stop.is_none() {
                        st.stop = Some(Error::TaskFailed {
                            key: failure
                                .origin
                                .clone()
                                .unwrap_or_else(|| plan.key(id).clone()),
                            failure: Box::new(failure),
                        });
                    }
                }
                OnError::Continue => self.fail_dependents(st, id, failure, garbage),
            },
        }
        for &d in plan.deps(id) {
            Self::release(st, d, garbage);
        }
        if Self::finished(st) {
            self.cv.notify_all();
        } else if newly > 1 && st.idle > 0 {
            for _ in 0..(newly - 1).min(st.idle) {
                self.cv.notify_one();
            }
        }
    }

    /// Mark `id` and everything downstream of it failed, releasing what the skipped tasks held.
    fn fail_dependents(
        &self,
        st: &mut State,
        id: u32,
        failure: TaskFailure,
        garbage: &mut Garbage,
    ) {
        let plan = &self.plan;
        let f = Arc::new(Failed { cause: id, failure });
        st.slots[id as usize] = Slot::Failed(Arc::clone(&f));
        let mut stack: Vec<u32> = plan.dependents(id).to_vec();
        while let Some(d) = stack.pop() {
            if matches!(st.slots[d as usize], Slot::Failed(_)) {
                continue;
            }
            st.slots[d as usize] = Slot::Failed(Arc::clone(&f));
            st.remaining -= 1;
            if let Some(p) = &self.progress {
                p.task_done();
            }
            for &dep in plan.deps(d) {
                Self::release(st, dep, garbage);
            }
            stack.extend_from_slice(plan.dependents(d));
        }
    }

    /// The first error, if the run stopped on one.
    pub(crate) fn stopped(&self) -> Option<Error> {
        self.state.lock().stop.clone()
    }

    /// The result for each requested key, in request order. Takes the values out of the run.
    pub(crate) fn results(&self) -> Vec<Result<Value, Error>> {
        let mut st = self.state.lock();
        let plan = &self.plan;
        let mut out: Vec<Result<Value, Error>> = plan
            .outputs()
            .iter()
            .map(|&o| match &st.slots[o as usize] {
                Slot::Value(v) => Ok(v.clone()),
                Slot::Failed(f) => {
                    let cause = f
                        .failure
                        .origin
                        .clone()
                        .unwrap_or_else(|| plan.key(f.cause).clone());
                    if &cause == plan.key(o) {
                        Err(Error::TaskFailed {
                            key: cause,
                            failure: Box::new(f.failure.clone()),
                        })
                    } else {
                        Err(Error::DependencyFailed {
                            key: plan.key(o).clone(),
                            cause,
                            failure: Box::new(f.failure.clone()),
                        })
                    }
                }
                Slot::Pending | Slot::Released => Err(st.stop.clone().unwrap_or(Error::Cancelled)),
            })
            .collect();
        for &o in plan.outputs() {
            st.slots[o as usize] = Slot::Released;
        }
        drop(st);
        out.shrink_to_fit();
        out
    }
}
