//! # brisk-test-utils: helpers for Brisk's own tests
//!
//! Random DAGs with a reference evaluator, values that count how many of them are alive, and
//! counters of how often each task ran, a real S3-compatible server ([`s3::MotoServer`]) and a
//! real Azure Blob server ([`azure::Azurite`]), and a scheduler that refuses what stock workers
//! could not run ([`named_only::NamedOnly`]). Never a dependency of a library's public API.

pub mod azure;
pub mod named_only;
pub mod s3;

mod setup;
pub use setup::run_setup;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use brisk_core::{Arg, Func, Graph, Key, Task, TaskFailure, Value};
use proptest::prelude::*;

/// A random DAG: node `i` depends on some nodes `< i`; some nodes fail.
#[derive(Debug, Clone)]
pub struct RandomDag {
    /// For each node, the nodes it depends on (all smaller).
    pub deps: Vec<Vec<usize>>,
    /// For each node, a literal it adds.
    pub weights: Vec<i64>,
    /// For each node, whether its task fails.
    pub fails: Vec<bool>,
}

/// A proptest strategy for DAGs of up to `max_nodes` nodes, failing with probability
/// `fail_rate` per node.
pub fn random_dag(max_nodes: usize, fail_rate: f64) -> impl Strategy<Value = RandomDag> {
    (1..=max_nodes).prop_flat_map(move |n| {
        let deps = (0..n)
            .map(|i| {
                if i == 0 {
                    Just(Vec::new()).boxed()
                } else {
                    proptest::collection::vec(0..i, 0..4.min(i) + 1)
                        .prop_map(|mut v| {
                            v.sort_unstable();
                            v.dedup();
                            v
                        })
                        .boxed()
                }
            })
            .collect::<Vec<_>>();
        let weights = proptest::collection::vec(-100i64..100, n);
        let fails = proptest::collection::vec(proptest::bool::weighted(fail_rate), n);
        (deps, weights, fails).prop_map(|(deps, weights, fails)| RandomDag {
            deps,
            weights,
            fails,
        })
    })
}

/// The key of node `i`.
pub fn node_key(i: usize) -> Key {
    Key::from(("node", i))
}

impl RandomDag {
    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// A graph whose node `i` sums its inputs plus its weight (or fails), counting runs of
    /// each node in `runs`.
    pub fn graph(&self, runs: &Arc<Vec<AtomicUsize>>) -> Graph {
        let mut g = Graph::with_capacity(self.len());
        for i in 0..self.len() {
            let runs = Arc::clone(runs);
            let fail = self.fails[i];
            let func = Func::raw("node", move |args: &[Value]| {
                runs[i].fetch_add(1, Ordering::SeqCst);
                if fail {
                    return Err(TaskFailure::msg(format!("node {i} fails on purpose")));
                }
                let mut total = 0i64;
                for a in args {
                    total = total.wrapping_add(
                        a.get::<i64>()
                            .map_err(|m| TaskFailure::msg(m.to_string()))?,
                    );
                }
                Ok(Value::from(total))
            });
            let mut args: Vec<Arg> = self.deps[i]
                .iter()
                .map(|&d| Arg::Key(node_key(d)))
                .collect();
            args.push(Arg::Literal(Value::from(self.weights[i])));
            let _ = g.insert(node_key(i), Task { func, args });
        }
        g
    }

    /// Counters for [`RandomDag::graph`].
    pub fn counters(&self) -> Arc<Vec<AtomicUsize>> {
        Arc::new((0..self.len()).map(|_| AtomicUsize::new(0)).collect())
    }

    /// The reference result of node `i` by plain recursion: `Ok(value)` or `Err(failing
    /// nodes it depends on)`.
    pub fn reference(
        &self,
        i: usize,
        memo: &mut HashMap<usize, Result<i64, Vec<usize>>>,
    ) -> Result<i64, Vec<usize>> {
        if let Some(r) = memo.get(&i) {
            return r.clone();
        }
        let mut failed = Vec::new();
        let mut total = 0i64;
        for &d in &self.deps[i] {
            match self.reference(d, memo) {
                Ok(v) => total = total.wrapping_add(v),
                Err(f) => failed.extend(f),
            }
        }
        if self.fails[i] {
            failed.push(i);
        }
        let r = if !failed.is_empty() {
            failed.sort_unstable();
            failed.dedup();
            Err(failed)
        } else {
            Ok(total.wrapping_add(self.weights[i]))
        };
        memo.insert(i, r.clone());
        r
    }

    /// The nodes `i` depends on, transitively, including itself.
    pub fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut seen = vec![false; self.len()];
        let mut stack = vec![i];
        while let Some(x) = stack.pop() {
            if !std::mem::replace(&mut seen[x], true) {
                stack.extend(&self.deps[x]);
            }
        }
        (0..self.len()).filter(|&x| seen[x]).collect()
    }
}

/// A value that counts how many instances are alive in `counter`.
pub struct Tracked {
    counter: Arc<LiveCounter>,
    /// The payload.
    pub value: i64,
}

/// Live and peak counts of [`Tracked`] values.
#[derive(Default)]
pub struct LiveCounter {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl LiveCounter {
    /// A new counter.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Track a new value.
    pub fn track(self: &Arc<Self>, value: i64) -> Tracked {
        let now = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Tracked {
            counter: Arc::clone(self),
            value,
        }
    }
    /// Values alive now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
    /// The most values alive at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.counter.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A binary-tree reduction over `leaves` leaves whose values are [`Tracked`]; returns the
/// graph and the root key. Leaves are tasks (created when they run), inner nodes add.
pub fn tracked_tree(leaves: usize, counter: &Arc<LiveCounter>) -> (Graph, Key) {
    let mut g = Graph::with_capacity(2 * leaves);
    for i in 0..leaves {
        let c = Arc::clone(counter);
        let f = Func::raw("leaf", move |_: &[Value]| Ok(Value::new(c.track(i as i64))));
        let _ = g.insert(
            ("leaf", i),
            Task {
                func: f,
                args: vec![],
            },
        );
    }
    let mut level: Vec<Key> = (0..leaves).map(|i| Key::from(("leaf", i))).collect();
    let mut depth = 0usize;
    while level.len() > 1 {
        depth += 1;
        let name = format!("add{depth}");
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for (j, pair) in level.chunks(2).enumerate() {
            let key = Key::from((name.as_str(), j));
            let c = Arc::clone(counter);
            let f = Func::raw("add", move |args: &[Value]| {
                let mut s = 0;
                for a in args {
                    s += a
                        .downcast_ref::<Tracked>()
                        .map_err(|m| TaskFailure::msg(m.to_string()))?
                        .value;
                }
                Ok(Value::new(c.track(s)))
            });
            let _ = g.insert(
                key.clone(),
                Task {
                    func: f,
                    args: pair.iter().map(|k| Arg::Key(k.clone())).collect(),
                },
            );
            next.push(key);
        }
        level = next;
    }
    (g, level.pop().unwrap_or_else(|| Key::from("empty")))
}
