//! What the dashboard shows, read from the state (pure, like the rest of it): worker rows,
//! progress per key prefix, sampled task spans, a task's story ("why is it waiting?") and small
//! graphs. Each view costs time in the number of workers, prefixes, spans asked for or nodes
//! shown, never in the number of tasks, except the task page's queue position (one walk of the
//! root queue when someone opens a queued task).

use brisk_core::Key;
use brisk_dashboard::{
    DependencyState, GraphNode, GraphView, PrefixRow, TaskDetail, Totals, WorkerRow,
};
use rustc_hash::FxHashMap;

use brisk_protocol::messages::{ClusterInfo, WorkerSummary};

use crate::state::{STATE_NAMES, SchedulerState, TaskId, TaskState};
use crate::stream::SpanRecord;

/// A printed key (`x`, `('x', 0, 1)`) back as a key.
pub fn parse_key(printed: &str) -> Key {
    let tuple = printed
        .strip_prefix("('")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|r| {
            let (name, tail) = r.rsplit_once('\'')?;
            let index: Option<Vec<usize>> = tail
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.parse().ok())
                .collect();
            Some(Key::from((name, index?.as_slice())))
        });
    tuple.unwrap_or_else(|| Key::from(printed))
}

fn bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

impl SchedulerState {
    /// The worker table.
    pub fn worker_rows(&self) -> Vec<WorkerRow> {
        self.workers
            .values()
            .map(|w| {
                let m = &w.metrics;
                let processing = w.processing.len() as u32;
                WorkerRow {
                    name: w.name.clone(),
                    address: w.address.clone(),
                    nthreads: w.nthreads,
                    cpu_percent: m.cpu_percent,
                    memory_managed: m.managed_bytes,
                    memory_unmanaged: m.rss_bytes.saturating_sub(m.managed_bytes),
                    memory_spilled: m.spilled_bytes,
                    memory_limit: w.memory_limit,
                    running: m.running.min(processing),
                    ready: processing.saturating_sub(m.running),
                    bytes_in: m.bytes_in,
                    bytes_out: m.bytes_out,
                    status: if w.paused { "paused" } else { "running" }.into(),
                }
            })
            .collect()
    }

    /// Progress of every key prefix that has task records now, in order of first appearance
    /// (`done` counts every finish since the scheduler started).
    pub fn prefix_rows(&self) -> Vec<PrefixRow> {
        self.prefix_rows_by_id()
            .into_iter()
            .filter(|(_, r)| r.waiting + r.processing + r.memory + r.erred > 0)
            .map(|(_, r)| r)
            .collect()
    }

    /// Every prefix that ever had a task, with its id.
    pub(crate) fn prefix_rows_by_id(&self) -> Vec<(u32, PrefixRow)> {
        self.prefixes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.counts.iter().any(|&n| n > 0) || p.done > 0 || p.erred > 0)
            .map(|(i, p)| {
                let c = &p.counts;
                (
                    i as u32,
                    PrefixRow {
                        prefix: p.name.to_string(),
                        waiting: c[TaskState::Waiting.index()]
                            + c[TaskState::Queued.index()]
                            + c[TaskState::NoWorker.index()],
                        processing: c[TaskState::Processing(0).index()],
                        memory: c[TaskState::Memory.index()],
                        erred: c[TaskState::Erred.index()],
                        done: p.done,
                    },
                )
            })
            .collect()
    }

    /// Cluster-wide counts (throughput and memory are the shell's to fill in).
    pub(crate) fn snapshot_totals(&self) -> Totals {
        Totals {
            tasks: self.index.len() as u64,
            completed: self.stats.done,
            erred: self.stats.erred,
            tasks_per_second: 0.0,
            clients: self.clients.len() as u32,
            bytes_in_memory: 0,
            dashboard_seconds: 0.0,
        }
    }

    /// The name of prefix `id`.
    pub(crate) fn prefix_name(&self, id: u32) -> std::sync::Arc<str> {
        self.prefixes
            .get(id as usize)
            .map(|p| std::sync::Arc::clone(&p.name))
            .unwrap_or_else(|| "?".into())
    }

    /// Up to about `budget` spans from position `since` on, evenly spread over them when
    /// there are more (the dashboard's sampling), with their positions.
    pub(crate) fn sample_spans(&self, since: u64, budget: usize) -> Vec<(u64, SpanRecord)> {
        // Only the sampled records are read (the log is large and cold).
        self.stream
            .sample(since, budget)
            .map(|(p, r)| (p, r.clone()))
            .collect()
    }

    /// Why the task printed as `printed` is where it is.
    pub fn task_detail(&self, printed: &str) -> Option<TaskDetail> {
        let id = self.lookup(&parse_key(printed))?;
        let t = self.t(id);
        let dependencies: Vec<DependencyState> = t
            .deps
            .iter()
            .map(|&d| {
                let dt = self.t(d);
                DependencyState {
                    key: self.names.key(&dt.key).to_string(),
                    state: dt.state.name().into(),
                    workers: dt.who_has.iter().map(|&w| self.worker_name(w)).collect(),
                    nbytes: (dt.state == TaskState::Memory).then_some(dt.nbytes),
                }
            })
            .collect();
        let dependents: Vec<String> = t
            .dependents
            .iter()
            .take(200)
            .map(|&d| self.key(d).to_string())
            .collect();
        let holders: Vec<String> = t.who_has.iter().map(|&w| self.worker_name(w)).collect();
        let queued_on = match t.state {
            TaskState::Processing(w) => Some(self.worker_name(w)),
            _ => None,
        };
        Some(TaskDetail {
            key: self.names.key(&t.key).to_string(),
            state: t.state.name().into(),
            worker: holders.first().cloned().or_else(|| queued_on.clone()),
            queued_on,
            priority: Some((t.priority & 0xffff_ffff) as i64),
            nbytes: (t.state == TaskState::Memory).then_some(t.nbytes),
            explanation: self.explain(id, &holders),
            dependencies,
            dependents,
        })
    }

    fn explain(&self, id: TaskId, holders: &[String]) -> String {
        let t = self.t(id);
        let missing = |pred: &dyn Fn(TaskState) -> bool| -> Vec<String> {
            t.deps
                .iter()
                .filter(|&&d| pred(self.t(d).state))
                .map(|&d| {
                    let dt = self.t(d);
                    match dt.state {
                        TaskState::Processing(w) => {
                            format!(
                                "{} (running on {})",
                                self.names.key(&dt.key),
                                self.worker_name(w)
                            )
                        }
                        TaskState::Released => {
                            format!(
                                "{} (released: it will be recomputed)",
                                self.names.key(&dt.key)
                            )
                        }
                        s => format!("{} ({})", self.names.key(&dt.key), s.name()),
                    }
                })
                .collect()
        };
        let wanted = match (t.who_wants.len(), t.waiters) {
            (0, 0) => "nobody needs it any more".to_string(),
            (0, n) => format!("{n} waiting task(s) need it"),
            (c, 0) => format!("{c} client(s) hold a future of it"),
            (c, n) => format!("{c} client(s) hold a future of it and {n} waiting task(s) need it"),
        };
        match t.state {
            TaskState::Waiting => {
                let m = missing(&|s| s != TaskState::Memory);
                format!(
                    "Waiting for {} of its {} inputs: {}.",
                    m.len(),
                    t.deps.len(),
                    m.join(", ")
                )
            }
            TaskState::Queued => {
                let pos = self.queued.range(..(t.priority, id)).count();
                format!(
                    "Ready, queued in the scheduler at position {} of {}: tasks without inputs \
                     go to a worker only when it has a free slot, so that a wide graph does not \
                     load all its inputs at once.",
                    pos + 1,
                    self.queued.len()
                )
            }
            TaskState::NoWorker => {
                let why = if self.workers.is_empty() {
                    "no worker is connected"
                } else {
                    "every worker is paused because its memory is nearly full"
                };
                format!("Ready (all inputs are in memory), but {why}.")
            }
            TaskState::Processing(w) => {
                let name = self.worker_name(w);
                let fetch: Vec<String> = t
                    .deps
                    .iter()
                    .map(|&d| self.t(d))
                    .filter(|dt| !dt.who_has.contains(&w))
                    .map(|dt| {
                        let from: Vec<String> =
                            dt.who_has.iter().map(|&x| self.worker_name(x)).collect();
                        format!(
                            "{} ({}, on {})",
                            self.names.key(&dt.key),
                            bytes(dt.nbytes),
                            from.join(", ")
                        )
                    })
                    .collect();
                let mut s = format!(
                    "Assigned to worker {name}: running there, or in its queue behind the {} \
                     task(s) it has been given.",
                    self.workers.get(&w).map_or(0, |x| x.processing.len())
                );
                if !fetch.is_empty() {
                    s += &format!(
                        " Before it runs, {name} fetches {} input(s) from its peers: {}.",
                        fetch.len(),
                        fetch.join(", ")
                    );
                }
                if let Some((_, thief)) = self.steals.get(&id) {
                    s += &format!(
                        " Being moved to {} (work stealing).",
                        self.worker_name(*thief)
                    );
                }
                s
            }
            TaskState::Memory => format!(
                "Done: its result ({}) is in memory on {}; it is kept because {wanted}.",
                bytes(t.nbytes),
                holders.join(", ")
            ),
            TaskState::Erred => match self.errors.get(&id) {
                Some(e) if self.names.is(&t.key, &e.0) => format!("Failed: {}", e.1.message),
                Some(e) => format!("Failed because its input {} failed: {}", e.0, e.1.message),
                None => "Failed.".into(),
            },
            TaskState::Released => {
                let m = missing(&|s| s != TaskState::Memory);
                if t.dependents.is_empty() {
                    format!("Released: {wanted}.")
                } else {
                    let mut s = format!(
                        "Released: its result was dropped because {wanted}; the record stays \
                         as the lineage of {} dependent(s).",
                        t.dependents.len()
                    );
                    if !m.is_empty() && t.spec.is_some() {
                        s += " Recomputing it would need its inputs again.";
                    }
                    s
                }
            }
        }
    }

    /// The current tasks as a graph, at most `max_nodes` of them (the first ones by record).
    pub fn graph_view(&self, max_nodes: usize) -> GraphView {
        let mut index: FxHashMap<TaskId, u32> = FxHashMap::default();
        let mut nodes = Vec::new();
        for (id, t) in self.tasks.iter() {
            if nodes.len() >= max_nodes {
                break;
            }
            index.insert(id, nodes.len() as u32);
            nodes.push(GraphNode {
                key: self.names.key(&t.key).to_string(),
                prefix: self.prefix_name(t.prefix).to_string(),
                state: t.state.name().into(),
            });
        }
        let mut edges = Vec::new();
        for (&id, &i) in &index {
            for d in &self.t(id).deps {
                if let Some(&j) = index.get(d) {
                    edges.push((j, i));
                }
            }
        }
        edges.sort_unstable();
        GraphView {
            truncated: self.index.len() > nodes.len(),
            nodes,
            edges,
        }
    }
}

impl SchedulerState {
    /// A snapshot of the cluster (the dashboard's seam).
    pub fn snapshot(&self) -> ClusterInfo {
        let mut counts = [0u64; 7];
        for p in &self.prefixes {
            for (c, n) in counts.iter_mut().zip(p.counts) {
                *c += n;
            }
        }
        ClusterInfo {
            address: self.address.clone(),
            dashboard: self.dashboard.clone(),
            workers: self
                .workers
                .iter()
                .map(|(&id, w)| WorkerSummary {
                    id,
                    name: w.name.clone(),
                    address: w.address.clone(),
                    nthreads: w.nthreads,
                    memory_limit: w.memory_limit,
                    paused: w.paused,
                    processing: w.processing.len() as u32,
                    has_what: w.has_what.len() as u32,
                    metrics: w.metrics.clone(),
                    retiring: w.retiring.is_some(),
                })
                .collect(),
            clients: self.clients.len() as u32,
            tasks_by_state: STATE_NAMES
                .iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            queued: self.queued.len() as u64,
            tasks_recovered: self.stats.recovered,
            tasks_done: self.stats.done,
            tasks_erred: self.stats.erred,
            tasks_stolen: self.stats.stolen,
            workers_lost: self.stats.workers_lost,
            workers_retired: self.stats.workers_retired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_keys_parse_back() {
        for k in [
            Key::from("x"),
            Key::from(("x", 0, 1)),
            Key::from(("add-3", 7)),
            Key::from("inc-1f2e"),
            Key::from("('odd"),
        ] {
            assert_eq!(parse_key(&k.to_string()), k, "{k}");
        }
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
    }
}
