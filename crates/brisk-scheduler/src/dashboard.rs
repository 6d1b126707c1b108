//! The live dashboard's seam into the scheduler: a [`brisk_dashboard::Source`] that never
//! touches the state from another thread.
//!
//! The state belongs to the scheduler's core task. The dashboard (its own thread and runtime)
//! reads a [`Published`] copy that the core refreshes on request: when a page asks for a
//! snapshot and the copy is older than half the push interval, the source asks the core (an
//! event through its queue) to publish, and waits for it. So the core does one cheap refresh
//! per interval however many pages are open, and nothing at all when none is. A refresh copies
//! the worker rows, the progress rows (one per key prefix) and a *sample* of the task spans
//! that finished since the last refresh (at most about [`SPANS_PER_SECOND`] per second,
//! evenly spread); formatting keys and JSON happens on the dashboard's thread. While a page is
//! open and tasks finish faster than the span log turns over, the core also publishes spans
//! early, so that the sample covers every moment.
//!
//! The task and graph pages, opened by a person now and then, are answered by the core
//! directly (an event with a reply channel).
//!
//! Task spans are logged only while a page is open (see [`crate::stream`]): a page opening
//! shows the task stream from that moment on, and a scheduler nobody watches pays only its
//! per-prefix counters. The core's time spent on the dashboard is counted and published as
//! `brisk_dashboard_core_seconds_total`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brisk_dashboard::{
    GraphView, PrefixRow, Snapshot, Source, TaskDetail, TaskSpan, Totals, WorkerRow,
};
use brisk_protocol::WorkerId;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;

use crate::state::SchedulerState;
use crate::stream::SpanRecord;

/// About this many task spans per second reach the pages (sampled when more tasks run).
pub const SPANS_PER_SECOND: f64 = 4000.0;
/// Spans kept for pages that open (a few seconds' worth of samples).
const KEPT_SPANS: usize = 40_000;
/// A page opening shows the spans of the last this many seconds.
const OPENING_WINDOW: f64 = 10.0;
/// A prefix whose tasks are all gone stays on the page this long.
const LINGER: f64 = 30.0;
/// At most this many progress rows (the most recent prefixes).
const MAX_PREFIX_ROWS: usize = 50;

/// What the dashboard asks of the core.
pub(crate) enum Request {
    /// Refresh the published copy, then reply.
    Publish(std::sync::mpsc::SyncSender<()>),
    /// One task's story.
    Task(String, std::sync::mpsc::SyncSender<Option<TaskDetail>>),
    /// The graph, up to this many nodes.
    Graph(usize, std::sync::mpsc::SyncSender<GraphView>),
}

/// The copy of the state the pages read.
#[derive(Default)]
struct Published {
    at: Option<Instant>,
    time: f64,
    workers: Vec<WorkerRow>,
    prefixes: Vec<PrefixRow>,
    totals: Totals,
    /// Sampled spans with their positions in the scheduler's span log.
    spans: VecDeque<(u64, SpanRecord)>,
    /// The span log's end at the last refresh.
    cursor: u64,
    prefix_names: Vec<Arc<str>>,
    worker_names: FxHashMap<WorkerId, Arc<str>>,
    /// (time, tasks done) of recent refreshes, for the throughput.
    history: VecDeque<(f64, u64)>,
    /// Per prefix: when it last had tasks, and its done count when it (re)appeared.
    seen: FxHashMap<u32, (f64, u64)>,
    /// When spans were last taken from the log.
    spans_at: f64,
}

/// The dashboard's side: shared by the source (dashboard thread) and the core.
pub(crate) struct Shared {
    published: Mutex<Published>,
    epoch: Instant,
    /// µs after `epoch` until which a page counts as open (set by every read).
    open_until_us: AtomicU64,
    /// ns the core has spent on the dashboard's requests and early span publishing.
    core_ns: AtomicU64,
}

impl Shared {
    pub(crate) fn new(epoch: Instant) -> Arc<Shared> {
        Arc::new(Shared {
            published: Mutex::new(Published::default()),
            epoch,
            open_until_us: AtomicU64::new(0),
            core_ns: AtomicU64::new(0),
        })
    }

    fn now_s(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// Whether a page read recently.
    pub(crate) fn page_open(&self, now: Instant) -> bool {
        let us = now.saturating_duration_since(self.epoch).as_micros() as u64;
        us < self.open_until_us.load(Ordering::Relaxed)
    }

    /// Refresh everything (the core calls this on [`Request::Publish`]).
    pub(crate) fn publish(&self, state: &SchedulerState, now: Instant) {
        let t = now.saturating_duration_since(self.epoch).as_secs_f64();
        let workers = state.worker_rows();
        let rows = state.prefix_rows_by_id();
        let snap_totals = state.snapshot_totals();
        let mut p = self.published.lock();
        take_spans(&mut p, state, t);
        for (&id, w) in &state.workers {
            p.worker_names
                .entry(id)
                .or_insert_with(|| w.name.as_str().into());
        }
        // Progress rows: prefixes with tasks now, and for a while after their last one went.
        let mut prefixes = Vec::new();
        for (id, mut row) in rows {
            let live = row.waiting + row.processing + row.memory + row.erred > 0;
            let entry = p.seen.entry(id).or_insert((t, row.done));
            if live {
                if t - entry.0 > LINGER {
                    // It comes back after it was gone: count its work from now.
                    entry.1 = row.done;
                }
                entry.0 = t;
            } else if t - entry.0 > LINGER {
                continue;
            }
            row.done = row.done.saturating_sub(entry.1);
            prefixes.push(row);
        }
        if prefixes.len() > MAX_PREFIX_ROWS {
            prefixes.drain(..prefixes.len() - MAX_PREFIX_ROWS);
        }
        p.history.push_back((t, snap_totals.completed));
        while p.history.len() > 2 && p.history.front().is_some_and(|h| t - h.0 > 2.0) {
            p.history.pop_front();
        }
        let tps = match (p.history.front(), p.history.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) as f64 / (b.0 - a.0),
            _ => 0.0,
        };
        p.totals = Totals {
            tasks_per_second: tps,
            dashboard_seconds: self.core_ns.load(Ordering::Relaxed) as f64 / 1e9,
            bytes_in_memory: workers.iter().map(|w| w.memory_managed).sum(),
            ..snap_totals
        };
        p.workers = workers;
        p.prefixes = prefixes;
        p.time = t;
        p.at = Some(now);
    }

    /// Take new spans only (the core calls this while a page is open and many tasks run).
    pub(crate) fn publish_spans(&self, state: &SchedulerState, now: Instant) {
        let t = now.saturating_duration_since(self.epoch).as_secs_f64();
        take_spans(&mut self.published.lock(), state, t);
        self.count_core_time(now);
    }

    /// Count the core's time since `since` as the dashboard's.
    fn count_core_time(&self, since: Instant) {
        let ns = since.elapsed().as_nanos() as u64;
        self.core_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The span log position after which the core should publish spans early.
    pub(crate) fn early_mark(&self, window: usize) -> u64 {
        self.published.lock().cursor + (window / 2) as u64
    }
}

fn take_spans(p: &mut Published, state: &SchedulerState, t: f64) {
    let dt = (t - p.spans_at).clamp(0.05, 1.0);
    let budget = (SPANS_PER_SECOND * dt) as usize;
    let spans = state.sample_spans(p.cursor, budget);
    p.cursor = state.task_stream_cursor();
    p.spans_at = t;
    for (_, r) in &spans {
        while p.prefix_names.len() <= r.prefix as usize {
            let next = p.prefix_names.len() as u32;
            p.prefix_names.push(state.prefix_name(next));
        }
    }
    p.spans.extend(spans);
    while p.spans.len() > KEPT_SPANS {
        p.spans.pop_front();
    }
}

/// The [`Source`] the scheduler's dashboard serves.
pub(crate) struct SchedulerSource {
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<crate::server::Event>,
    interval: Duration,
}

impl SchedulerSource {
    pub(crate) fn new(
        shared: Arc<Shared>,
        events: mpsc::UnboundedSender<crate::server::Event>,
        interval: Duration,
    ) -> Self {
        SchedulerSource {
            shared,
            events,
            interval,
        }
    }

    fn ask<T>(&self, make: impl FnOnce(std::sync::mpsc::SyncSender<T>) -> Request) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.events
            .send(crate::server::Event::Dashboard(make(tx)))
            .ok()?;
        rx.recv_timeout(Duration::from_secs(5)).ok()
    }
}

impl Source for SchedulerSource {
    fn snapshot(&self, since: u64) -> Snapshot {
        // A metrics scrape (`since == u64::MAX`) takes no spans, so it is not an open page and
        // does not switch span logging on.
        let scrape = since == u64::MAX;
        if !scrape {
            let open = (self.shared.epoch.elapsed() + 3 * self.interval).as_micros() as u64;
            self.shared.open_until_us.fetch_max(open, Ordering::Relaxed);
        }
        let stale = self
            .shared
            .published
            .lock()
            .at
            .is_none_or(|at| at.elapsed() >= self.interval / 2);
        if stale {
            let _ = self.ask(Request::Publish);
        }
        // Copy what is needed under the lock (the core takes it to publish); format after.
        let now = self.shared.now_s();
        let opening = since == 0;
        let (snapshot, spans, prefix_names, worker_names) = {
            let p = self.shared.published.lock();
            let spans: Vec<SpanRecord> = if scrape {
                Vec::new()
            } else {
                p.spans
                    .iter()
                    .filter(|(pos, r)| {
                        *pos >= since && (!opening || now - r.stop_us as f64 / 1e6 < OPENING_WINDOW)
                    })
                    .map(|(_, r)| r.clone())
                    .collect()
            };
            let names = if spans.is_empty() {
                (Vec::new(), FxHashMap::default())
            } else {
                (p.prefix_names.clone(), p.worker_names.clone())
            };
            let snapshot = Snapshot {
                time: p.time,
                cursor: p.cursor,
                workers: p.workers.clone(),
                prefixes: p.prefixes.clone(),
                stream: Vec::new(),
                totals: p.totals.clone(),
            };
            (snapshot, spans, names.0, names.1)
        };
        let name = |id: u32| {
            prefix_names
                .get(id as usize)
                .map_or_else(|| "?".to_string(), |n| n.to_string())
        };
        let stream = spans
            .into_iter()
            .map(|r| TaskSpan {
                key: r.key.to_string(),
                prefix: name(r.prefix),
                worker: worker_names
                    .get(&r.worker)
                    .map_or_else(|| format!("worker {}", r.worker), |n| n.to_string()),
                thread: r.thread,
                start: r.start_us as f64 / 1e6,
                stop: r.stop_us as f64 / 1e6,
                ok: r.ok,
            })
            .collect();
        Snapshot { stream, ..snapshot }
    }

    fn task(&self, key: &str) -> Option<TaskDetail> {
        let key = key.to_string();
        self.ask(|tx| Request::Task(key, tx)).flatten()
    }

    fn graph(&self, max_nodes: usize) -> GraphView {
        self.ask(|tx| Request::Graph(max_nodes, tx))
            .unwrap_or_default()
    }
}

/// Answer a dashboard request (on the core's thread).
pub(crate) fn answer(state: &SchedulerState, shared: &Shared, req: Request, now: Instant) {
    let started = Instant::now();
    match req {
        Request::Publish(tx) => {
            shared.publish(state, now);
            let _ = tx.try_send(());
        }
        Request::Task(key, tx) => {
            let _ = tx.try_send(state.task_detail(&key));
        }
        Request::Graph(max, tx) => {
            let _ = tx.try_send(state.graph_view(max));
        }
    }
    shared.count_core_time(started);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metrics_scrape_is_not_an_open_page() {
        let epoch = Instant::now();
        let shared = Shared::new(epoch);
        // A fresh copy, so that the source does not ask the (absent) core to publish.
        shared.published.lock().at = Some(Instant::now());
        let (tx, _rx) = mpsc::unbounded_channel();
        let source = SchedulerSource::new(Arc::clone(&shared), tx, Duration::from_secs(60));
        let s = source.snapshot(u64::MAX);
        assert!(s.stream.is_empty());
        assert!(
            !shared.page_open(Instant::now()),
            "a scrape opened the page"
        );
        source.snapshot(0);
        assert!(
            shared.page_open(Instant::now()),
            "a page read did not count"
        );
    }
}
