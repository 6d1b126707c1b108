//! Graphs from clients, whole (`UpdateGraph`) or streamed in pieces (`GraphPiece`): new task
//! records, their dependencies, the keys the client wants, and the checks of a whole graph.
//!
//! A task becomes a record (and may run) only once every dependency is a record: a task whose
//! dependency has not arrived is *held* beside the graph, and is placed when it arrives. So
//! records never point at tasks that do not exist, and a cycle can never become records (none
//! of its tasks is ever placed). Clients send tasks in their graph's static order
//! (dependencies first), so nothing is held in practice and work starts with the first piece.
//!
//! While a graph is open its placed tasks that no client wants yet are *pinned*: kept, and run,
//! even though nothing needs them yet (their dependents may come in a later piece). At the last
//! piece the graph is checked: every task still held waits for a key that is nowhere (an error
//! naming it) or sits on a cycle (an error naming the cycle); the client hears about each held
//! key it wanted, and the held tasks are dropped, so nothing is left waiting. Then the pins go
//! and what nobody needs is released.

use brisk_core::Key;
use brisk_protocol::ClientId;
use brisk_protocol::messages::{NewTask, ToClient};
use brisk_protocol::spec::WireFailure;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::ids::Ids;
use crate::state::{Comm, SchedulerState, TaskId, TaskState};

/// A graph whose last piece has not arrived.
#[derive(Default)]
pub(crate) struct OpenGraph {
    /// Priorities of this graph's tasks are `base | order`.
    base: u64,
    /// Placed tasks that no client wanted when they were placed: kept until the graph ends.
    pinned: Vec<TaskId>,
    /// Tasks waiting for dependencies that have not arrived (`None`: placed since).
    held: Vec<Option<Held>>,
    /// Held tasks by key.
    held_keys: FxHashMap<Key, u32>,
    /// A key that has not arrived → the held tasks that need it.
    by_dep: FxHashMap<Key, SmallVec<[u32; 1]>>,
}

struct Held {
    task: NewTask,
    /// Dependencies not yet records.
    missing: u32,
    /// The client wants it.
    wanted: bool,
}

impl SchedulerState {
    /// A whole graph in one message.
    pub(crate) fn update_graph(
        &mut self,
        c: ClientId,
        tasks: Vec<NewTask>,
        wanted: Vec<Key>,
        comm: &mut impl Comm,
    ) {
        self.graph_piece(c, None, tasks, wanted, true, comm);
    }

    /// One piece of graph `graph` (`None`: a graph of one piece).
    pub(crate) fn graph_piece(
        &mut self,
        c: ClientId,
        graph: Option<u64>,
        tasks: Vec<NewTask>,
        wanted: Vec<Key>,
        last: bool,
        comm: &mut impl Comm,
    ) {
        let mut open = match graph.and_then(|g| self.graphs.remove(&(c, g))) {
            Some(o) => o,
            None => {
                self.generation += 1;
                OpenGraph {
                    base: self.generation << 32,
                    ..OpenGraph::default()
                }
            }
        };
        let mut placed: Vec<TaskId> = Vec::with_capacity(tasks.len());
        for nt in tasks {
            if self.lookup(&nt.key).is_some() || open.held_keys.contains_key(&nt.key) {
                continue;
            }
            if nt.deps.iter().all(|d| self.lookup(d).is_some()) {
                self.place(c, &mut open, nt, &mut placed);
                continue;
            }
            let i = open.held.len() as u32;
            let mut missing = 0;
            for d in &nt.deps {
                if self.lookup(d).is_none() {
                    let waiting = open.by_dep.entry(d.clone()).or_default();
                    if !waiting.contains(&i) {
                        waiting.push(i);
                        missing += 1;
                    }
                }
            }
            open.held_keys.insert(nt.key.clone(), i);
            open.held.push(Some(Held {
                task: nt,
                missing,
                wanted: false,
            }));
        }
        for k in &wanted {
            match self.lookup(k) {
                Some(id) => self.want(c, id),
                None => match open.held_keys.get(k) {
                    Some(&i) => {
                        if let Some(Some(h)) = open.held.get_mut(i as usize) {
                            h.wanted = true;
                        }
                    }
                    None => comm.send_client(
                        c,
                        ToClient::Erred {
                            key: k.clone(),
                            cause: k.clone(),
                            failure: WireFailure::msg(
                                "error",
                                format!("key {k} is neither in the graph nor in the cluster"),
                            ),
                        },
                    ),
                },
            }
        }
        for &id in &placed {
            if !self.live(id) {
                continue;
            }
            let t = self.t(id);
            if !last && t.who_wants.is_empty() && !t.pinned {
                self.tm(id).pinned = true;
                open.pinned.push(id);
            }
        }
        for &id in &placed {
            if !self.live(id) {
                continue;
            }
            let t = self.t(id);
            if t.state == TaskState::Released
                && (t.pinned
                    || !t.who_wants.is_empty()
                    || t.waiters > 0
                    || !t.dependents.is_empty())
            {
                self.make_waiting(id, comm);
            }
        }
        // Keys wanted that were already known: answer or (re)compute them.
        for k in &wanted {
            let Some(id) = self.lookup(k) else {
                continue;
            };
            let t = self.t(id);
            match t.state {
                TaskState::Memory => {
                    let msg = self.in_memory_msg(id, None);
                    comm.send_client(c, msg);
                }
                TaskState::Erred => {
                    if let Some(e) = self.errors.get(&id) {
                        comm.send_client(
                            c,
                            ToClient::Erred {
                                key: k.clone(),
                                cause: e.0.clone(),
                                failure: e.1.clone(),
                            },
                        );
                    }
                }
                TaskState::Released => self.make_waiting(id, comm),
                _ => {}
            }
        }
        if last {
            self.end_graph(c, open, comm);
        } else if let Some(g) = graph {
            self.graphs.insert((c, g), open);
        }
        for id in placed {
            if self.live(id) {
                self.maybe_forget(id);
            }
        }
        self.fill_all(comm);
    }

    /// Client `c` wants task `id`.
    fn want(&mut self, c: ClientId, id: TaskId) {
        let t = self.tm(id);
        if !t.who_wants.contains(&c) {
            t.who_wants.push(c);
        }
    }

    /// Make `nt` a record, and every held task that was waiting only for it.
    fn place(&mut self, c: ClientId, open: &mut OpenGraph, nt: NewTask, placed: &mut Vec<TaskId>) {
        let mut stack = vec![(nt, false)];
        while let Some((nt, wanted)) = stack.pop() {
            let id = self.new_task(&nt.key, Some(&nt.spec), open.base | u64::from(nt.priority));
            self.tm(id).retries = nt.retries;
            let mut ids = Ids::new();
            for d in &nt.deps {
                if let Some(did) = self.lookup(d)
                    && !ids.contains(&did)
                {
                    ids.push(did);
                }
            }
            for &did in &ids {
                self.tm(did).dependents.push(id);
            }
            self.tm(id).deps = ids;
            if wanted {
                self.want(c, id);
            }
            placed.push(id);
            if open.by_dep.is_empty() {
                continue;
            }
            open.held_keys.remove(&nt.key);
            let Some(waiting) = open.by_dep.remove(&nt.key) else {
                continue;
            };
            for i in waiting {
                let Some(slot) = open.held.get_mut(i as usize) else {
                    continue;
                };
                if let Some(h) = slot {
                    h.missing -= 1;
                    if h.missing == 0
                        && let Some(h) = slot.take()
                    {
                        stack.push((h.task, h.wanted));
                    }
                }
            }
        }
    }

    /// The last piece arrived: held tasks are errors, pins go.
    fn end_graph(&mut self, c: ClientId, open: OpenGraph, comm: &mut impl Comm) {
        let OpenGraph {
            pinned,
            held,
            held_keys,
            ..
        } = open;
        if !held_keys.is_empty() {
            for (i, h) in held.iter().enumerate() {
                let Some(h) = h.as_ref().filter(|h| h.wanted) else {
                    continue;
                };
                let (cause, failure) = self.why_held(i as u32, &held, &held_keys);
                comm.send_client(
                    c,
                    ToClient::Erred {
                        key: h.task.key.clone(),
                        cause,
                        failure,
                    },
                );
            }
            tracing::debug!(
                client = c,
                held = held_keys.len(),
                "graph with unplaceable tasks"
            );
        }
        for id in &pinned {
            if self.live(*id) {
                self.tm(*id).pinned = false;
            }
        }
        for id in pinned {
            if self.live(id) {
                self.maybe_release(id, comm);
            }
        }
    }

    /// Why held task `start` could not be placed: the first held task on its way down that
    /// needs a key that is nowhere, or else the cycle it reaches.
    fn why_held(
        &self,
        start: u32,
        held: &[Option<Held>],
        held_keys: &FxHashMap<Key, u32>,
    ) -> (Key, WireFailure) {
        let task = |i: u32| held.get(i as usize).and_then(Option::as_ref);
        // Depth-first over held dependencies; `path` is the current chain (for the cycle).
        let mut on_path: FxHashMap<u32, bool> = FxHashMap::default();
        let mut path: Vec<(u32, usize)> = vec![(start, 0)];
        on_path.insert(start, true);
        let mut cycle: Option<Vec<u32>> = None;
        while let Some(&(i, next)) = path.last() {
            let Some(h) = task(i) else {
                path.pop();
                continue;
            };
            if next == 0
                && let Some(d) = h
                    .task
                    .deps
                    .iter()
                    .find(|d| self.lookup(d).is_none() && !held_keys.contains_key(*d))
            {
                let k = &h.task.key;
                let failure = WireFailure::msg(
                    "error",
                    format!("task {k} needs {d}, which is neither in the graph nor in the cluster"),
                );
                return (k.clone(), failure);
            }
            let Some(d) = h.task.deps.get(next) else {
                on_path.insert(i, false);
                path.pop();
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            let Some(&j) = held_keys.get(d) else {
                continue;
            };
            match on_path.get(&j) {
                Some(true) => {
                    if cycle.is_none() {
                        let from = path.iter().position(|&(p, _)| p == j).unwrap_or(0);
                        let mut ids: Vec<u32> = path[from..].iter().map(|&(p, _)| p).collect();
                        ids.push(j);
                        cycle = Some(ids);
                    }
                }
                Some(false) => {}
                None => {
                    on_path.insert(j, true);
                    path.push((j, 0));
                }
            }
        }
        let key_of = |i: u32| task(i).map(|h| h.task.key.clone());
        let keys: Vec<Key> = cycle
            .unwrap_or_default()
            .into_iter()
            .filter_map(key_of)
            .collect();
        match keys.first() {
            Some(first) => {
                let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
                let failure = WireFailure::msg(
                    "error",
                    format!("the graph has a cycle: {}", names.join(" → ")),
                );
                (first.clone(), failure)
            }
            None => {
                let key = key_of(start).unwrap_or_else(|| Key::from("?"));
                let failure = WireFailure::msg("error", format!("task {key} could not be placed"));
                (key, failure)
            }
        }
    }

    /// Client `c` went away: its open graphs end without checks, their pins go.
    pub(crate) fn drop_graphs(&mut self, c: ClientId, comm: &mut impl Comm) {
        let ids: Vec<(ClientId, u64)> = self.graphs.keys().filter(|k| k.0 == c).copied().collect();
        for k in ids {
            if let Some(mut open) = self.graphs.remove(&k) {
                open.held.clear();
                open.held_keys.clear();
                self.end_graph(c, open, comm);
            }
        }
    }
}
