//! The task stream: when, where and on which thread each task ran, on the scheduler's clock.
//!
//! Workers time tasks on their own clocks (µs since they started) and send `clock_us` with
//! their registration and every heartbeat; the scheduler keeps, per worker, the smallest
//! `arrival − clock_us` seen (a message can only arrive late, never early, so the smallest
//! difference is the best estimate of the offset) and maps each span onto its own clock.
//!
//! The log is a ring of the last `task_stream_length` spans (what the dashboard samples from:
//! a constant cost per task, whatever the rate). A client that records (a performance report)
//! makes the ring keep everything from its start position until it stops, up to
//! `task_stream_limit` spans.
//!
//! Spans are only logged while someone looks: the scheduler's shell marks the log *watched*
//! while a dashboard page is open, and a recording client always counts. So a scheduler
//! nobody watches does no per-task work for its task stream (a bare [`SchedulerState`] is
//! watched from the start).

use std::collections::VecDeque;

use brisk_core::Key;
use brisk_protocol::messages::{TaskSpan as ProtoSpan, TaskStream, TaskTiming};
use brisk_protocol::{ClientId, WorkerId};
use rustc_hash::FxHashMap;

use crate::state::SchedulerState;

/// One task run, on the scheduler's clock.
#[derive(Debug, Clone)]
pub(crate) struct SpanRecord {
    pub key: Key,
    pub prefix: u32,
    pub worker: WorkerId,
    pub thread: u32,
    /// µs since the scheduler's epoch.
    pub start_us: i64,
    pub stop_us: i64,
    pub ok: bool,
}

/// The ring of recent spans plus the recordings that hold it open.
pub(crate) struct TaskStreamLog {
    ring: VecDeque<SpanRecord>,
    /// The position of `ring[0]`; positions count every span ever pushed.
    first: u64,
    window: usize,
    limit: usize,
    recordings: FxHashMap<ClientId, u64>,
    /// The smallest position some recording needs.
    keep_from: Option<u64>,
    /// Whether a page is open (spans are logged when it is or a client records).
    watched: bool,
}

impl TaskStreamLog {
    pub(crate) fn new(window: usize, limit: usize) -> Self {
        TaskStreamLog {
            ring: VecDeque::new(),
            first: 0,
            window: window.max(1),
            limit: limit.max(window.max(1)),
            recordings: FxHashMap::default(),
            keep_from: None,
            watched: true,
        }
    }

    /// Whether spans are logged now.
    pub(crate) fn wanted(&self) -> bool {
        self.watched || !self.recordings.is_empty()
    }

    /// The position the next span gets (the cursor "now").
    pub(crate) fn end(&self) -> u64 {
        self.first + self.ring.len() as u64
    }

    pub(crate) fn push(&mut self, rec: SpanRecord) {
        self.ring.push_back(rec);
        while self.ring.len() > self.window {
            let needed = self.keep_from.is_some_and(|k| k <= self.first);
            if needed && self.ring.len() <= self.limit {
                break;
            }
            self.ring.pop_front();
            self.first += 1;
        }
    }

    /// Spans from position `since` on (clamped to what is kept), with their positions, and
    /// how many spans after `since` are no longer kept.
    pub(crate) fn since(
        &self,
        since: u64,
    ) -> (impl ExactSizeIterator<Item = (u64, &SpanRecord)> + '_, u64) {
        let from = since.max(self.first).min(self.end());
        let dropped = self.first.saturating_sub(since).min(self.first);
        let skip = (from - self.first) as usize;
        let first = self.first;
        let it = self
            .ring
            .range(skip..)
            .enumerate()
            .map(move |(i, r)| (first + (skip + i) as u64, r));
        (it, dropped)
    }

    /// Up to about `budget` spans from position `since` on, evenly spread when there are more,
    /// the newest always among them; reads only those it returns.
    pub(crate) fn sample(
        &self,
        since: u64,
        budget: usize,
    ) -> impl Iterator<Item = (u64, &SpanRecord)> + '_ {
        let from = since.max(self.first).min(self.end());
        let skip = (from - self.first) as usize;
        let n = self.ring.len() - skip;
        let stride = n.div_ceil(budget.max(1)).max(1);
        // Step back from the newest.
        let offset = (n + stride - 1) % stride;
        let first = self.first;
        (skip + offset..self.ring.len())
            .step_by(stride)
            .filter_map(move |i| Some((first + i as u64, self.ring.get(i)?)))
    }

    /// Keep every span from `from` on for client `c` (until [`Self::stop_recording`]).
    pub(crate) fn record(&mut self, c: ClientId, from: u64) {
        self.recordings.insert(c, from.max(self.first));
        self.keep_from = self.recordings.values().copied().min();
    }

    pub(crate) fn stop_recording(&mut self, c: ClientId) {
        if self.recordings.remove(&c).is_some() {
            self.keep_from = self.recordings.values().copied().min();
            // Trim what only this recording kept.
            while self.ring.len() > self.window && self.keep_from.is_none_or(|k| k > self.first) {
                self.ring.pop_front();
                self.first += 1;
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ring.len()
    }
}

impl SchedulerState {
    /// Log that `key` (of key prefix `prefix`, when it is still known) ran on worker `w` (times
    /// on the worker's clock).
    pub(crate) fn record_span(
        &mut self,
        w: WorkerId,
        key: &Key,
        prefix: Option<u32>,
        timing: TaskTiming,
        ok: bool,
    ) {
        if !self.stream.wanted() {
            return;
        }
        let Some(off) = self.workers.get(&w).map(|x| x.clock_offset_us) else {
            return;
        };
        let prefix = match prefix {
            Some(p) => p,
            None => self.prefix_id(key),
        };
        self.stream.push(SpanRecord {
            key: key.clone(),
            prefix,
            worker: w,
            thread: timing.thread,
            start_us: timing.start_us as i64 + off,
            stop_us: timing.stop_us as i64 + off,
            ok,
        });
    }

    /// Log task spans (or not) while no client records: the shell says whether a dashboard
    /// page is open.
    pub fn set_task_stream_watched(&mut self, watched: bool) {
        self.stream.watched = watched;
    }

    /// The name of worker `w`, also after it left.
    pub(crate) fn worker_name(&self, w: WorkerId) -> String {
        match self.workers.get(&w) {
            Some(x) => x.name.clone(),
            None => self
                .past_workers
                .get(&w)
                .cloned()
                .unwrap_or_else(|| format!("worker {w}")),
        }
    }

    /// The position the next task span gets.
    pub fn task_stream_cursor(&self) -> u64 {
        self.stream.end()
    }

    /// Seconds from the epoch to the latest time the state was told (a tick is at most
    /// 100 ms old in the shell).
    pub(crate) fn stream_time(&self) -> f64 {
        self.now_us as f64 / 1e6
    }

    /// The answer to a client's [`FromClient::TaskStream`](brisk_protocol::messages::FromClient).
    pub(crate) fn task_stream_reply(&mut self, c: ClientId, since: u64, keep: bool) -> TaskStream {
        let cursor = self.stream.end();
        let (spans, dropped) = if since == u64::MAX {
            (Vec::new(), 0)
        } else {
            let (it, dropped) = self.stream.since(since);
            let spans = it
                .map(|(_, r)| ProtoSpan {
                    key: r.key.clone(),
                    worker: self.worker_name(r.worker),
                    thread: r.thread,
                    start: r.start_us as f64 / 1e6,
                    stop: r.stop_us as f64 / 1e6,
                    ok: r.ok,
                })
                .collect();
            (spans, dropped)
        };
        if keep {
            self.stream.record(c, since.min(cursor));
        } else {
            self.stream.stop_recording(c);
        }
        TaskStream {
            cursor,
            time: self.stream_time(),
            spans,
            dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(i: i64) -> SpanRecord {
        SpanRecord {
            key: Key::from(("t", i as usize)),
            prefix: 0,
            worker: 1,
            thread: 0,
            start_us: i,
            stop_us: i + 1,
            ok: true,
        }
    }

    #[test]
    fn keeps_a_window_and_counts_what_it_dropped() {
        let mut log = TaskStreamLog::new(4, 100);
        for i in 0..10 {
            log.push(span(i));
        }
        assert_eq!(log.len(), 4);
        assert_eq!(log.end(), 10);
        let (it, dropped) = log.since(0);
        let got: Vec<u64> = it.map(|(p, _)| p).collect();
        assert_eq!(got, vec![6, 7, 8, 9]);
        assert_eq!(dropped, 6);
        let (it, dropped) = log.since(8);
        assert_eq!(it.map(|(_, r)| r.start_us).collect::<Vec<_>>(), vec![8, 9]);
        assert_eq!(dropped, 0);
        let (it, dropped) = log.since(u64::MAX);
        assert_eq!((it.len(), dropped), (0, 0));
    }

    #[test]
    fn samples_are_spread_and_keep_the_newest() {
        let mut log = TaskStreamLog::new(100, 100);
        for i in 0..250 {
            log.push(span(i));
        }
        let all: Vec<u64> = log.sample(0, 1000).map(|(p, _)| p).collect();
        assert_eq!(all, (150..250).collect::<Vec<_>>());
        let some: Vec<u64> = log.sample(200, 10).map(|(p, _)| p).collect();
        assert_eq!(some, vec![204, 209, 214, 219, 224, 229, 234, 239, 244, 249]);
        let uneven: Vec<u64> = log.sample(240, 3).map(|(p, _)| p).collect();
        assert_eq!(uneven, vec![241, 245, 249]);
        assert_eq!(log.sample(250, 10).count(), 0);
        assert_eq!(log.sample(u64::MAX, 10).count(), 0);
    }

    #[test]
    fn a_recording_keeps_everything_up_to_the_limit() {
        let mut log = TaskStreamLog::new(4, 20);
        for i in 0..3 {
            log.push(span(i));
        }
        log.record(7, log.end());
        for i in 3..15 {
            log.push(span(i));
        }
        let (it, dropped) = log.since(3);
        assert_eq!((it.len(), dropped), (12, 0));
        drop(it);
        // Past the limit the oldest spans go even while recording.
        for i in 15..40 {
            log.push(span(i));
        }
        assert_eq!(log.len(), 20);
        assert_eq!(log.since(3).1, 17);
        log.stop_recording(7);
        assert_eq!(log.len(), 4);
    }
}
