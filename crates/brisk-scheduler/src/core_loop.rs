//! The scheduler's core task: one owner of [`SchedulerState`] that handles the events of every
//! connection in order, ticks the clock, journals (see `journal.rs`) and hands each
//! connection its outgoing batch once per wake-up. `server.rs` starts it; `connections.rs`
//! feeds it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use brisk_protocol::messages::{FromClient, ToClient, ToWorker};
use brisk_protocol::{ClientId, WorkerId};
use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, watch};

use crate::client_line::{ClientLine, client_queue_limit};
use crate::server::Event;
use crate::state::{Comm, SchedulerConfig, SchedulerState};

#[derive(Default)]
pub(crate) struct ShellComm {
    workers: FxHashMap<WorkerId, Vec<ToWorker>>,
    clients: FxHashMap<ClientId, Vec<ToClient>>,
}

impl Comm for ShellComm {
    fn send_worker(&mut self, w: WorkerId, msg: ToWorker) {
        self.workers.entry(w).or_default().push(msg);
    }
    fn send_client(&mut self, c: ClientId, msg: ToClient) {
        self.clients.entry(c).or_default().push(msg);
    }
}

pub(crate) struct CoreOptions {
    pub(crate) address: String,
    pub(crate) config: SchedulerConfig,
    pub(crate) epoch: Instant,
    pub(crate) dashboard: Option<Arc<crate::dashboard::Shared>>,
    pub(crate) dashboard_link: Option<String>,
    pub(crate) journal: Option<(crate::journal::Journal, crate::journal::Replay)>,
    pub(crate) resume_grace: Duration,
    pub(crate) recovery_wait: Duration,
}

/// A gap between ticks longer than this means the scheduler itself stalled.
const STALL: Duration = Duration::from_secs(1);

pub(crate) async fn core(
    options: CoreOptions,
    mut events: mpsc::UnboundedReceiver<Event>,
    mut stop: watch::Receiver<bool>,
) {
    let mut state = SchedulerState::new(options.config);
    state.set_address(options.address);
    state.set_epoch(options.epoch);
    state.set_dashboard_address(options.dashboard_link);
    let mut journal = options.journal.map(|(mut j, replay)| {
        replay_journal(
            &mut state,
            &mut j,
            replay,
            &options.resume_grace,
            options.recovery_wait,
        );
        j
    });
    let resume_grace = options.resume_grace;
    let dash = options.dashboard;
    // Task spans are logged while a page is open (or a client records).
    state.set_task_stream_watched(false);
    let window = state.config().task_stream_length;
    let mut early_mark = u64::MAX;
    let mut comm = ShellComm::default();
    let mut worker_tx: FxHashMap<WorkerId, mpsc::UnboundedSender<Vec<ToWorker>>> =
        FxHashMap::default();
    let mut client_tx: FxHashMap<ClientId, ClientLine> = FxHashMap::default();
    // Clients whose journaled messages were written in this round: they hear the count.
    let mut acks: Vec<ClientId> = Vec::new();
    // Workers joined or left: the journal's list of them follows.
    let mut workers_changed = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_tick = Instant::now();
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                workers_changed |= matches!(ev, Event::WorkerJoined(..) | Event::WorkerGone(..));
                let mut core = Core { state: &mut state, comm: &mut comm, worker_tx: &mut worker_tx, client_tx: &mut client_tx, dash: dash.as_deref(), journal: journal.as_mut(), acks: &mut acks, resume_grace, workers_changed: &mut workers_changed };
                core.handle(ev, Instant::now());
                let mut n = 0;
                while n < 4096 {
                    match events.try_recv() {
                        // Each event gets its own time: heartbeats set the workers' clock offsets.
                        Ok(ev) => {
                            if matches!(ev, Event::WorkerJoined(..) | Event::WorkerGone(..)) {
                                core.workers_changed();
                            }
                            core.handle(ev, Instant::now())
                        }
                        Err(_) => break,
                    }
                    n += 1;
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                // Ticks come every 100 ms: a long gap means this process did not run (SIGSTOP,
                // a stalled machine, a long handler), not that the workers fell silent.
                let gap = now.saturating_duration_since(last_tick);
                last_tick = now;
                if gap > STALL {
                    tracing::info!(
                        seconds = gap.as_secs_f64(),
                        "the scheduler did not tick for a while (stopped, or busy); the workers' \
                         silence meanwhile does not count against them"
                    );
                    state.scheduler_stalled(gap, now);
                }
                state.set_task_stream_watched(dash.as_ref().is_some_and(|d| d.page_open(now)));
                state.tick(now, &mut comm);
                let expired = state.expire_detached(now, &mut comm);
                if let Some(j) = journal.as_mut() {
                    for c in expired {
                        j.append(&crate::journal::Entry::ClientLeft(c));
                    }
                    if j.len() > JOURNAL_COMPACT_BYTES && state.num_tasks() == 0 {
                        j.compact();
                    }
                }
            }
            _ = stop.changed() => break,
        }
        if let Some(j) = journal.as_mut() {
            // Written before anyone hears of it.
            j.flush();
            for c in acks.drain(..) {
                if let Some(&upto) = j.received.get(&c) {
                    comm.send_client(c, ToClient::Journaled { upto });
                }
            }
        }
        for (w, msgs) in comm.workers.drain() {
            if let Some(tx) = worker_tx.get(&w) {
                let _ = tx.send(msgs);
            }
        }
        let mut unread = Vec::new();
        for (c, msgs) in comm.clients.drain() {
            if let Some(line) = client_tx.get(&c) {
                let n = msgs.len();
                let queued = line.queued.fetch_add(n, Ordering::Relaxed) + n;
                if queued > client_queue_limit() {
                    unread.push((c, queued));
                } else {
                    let _ = line.tx.send(msgs);
                }
            }
        }
        for (c, queued) in unread {
            // Dropping its line closes the connection; its keys are released now.
            tracing::warn!(
                client = c,
                queued,
                "a client does not read its messages; disconnecting it"
            );
            if let Some(line) = client_tx.remove(&c) {
                let _ = line.kick.send(true);
            }
            state.remove_client(c, &mut comm);
        }
        // A page is open and tasks finish fast: sample their spans before the log turns over.
        if let Some(d) = &dash
            && state.task_stream_cursor() >= early_mark
        {
            let now = Instant::now();
            if d.page_open(now) {
                d.publish_spans(&state, now);
            }
            early_mark = d.early_mark(window);
        } else if let Some(d) = &dash
            && early_mark == u64::MAX
        {
            early_mark = d.early_mark(window);
        }
        // Workers the state machine removed (no heartbeat) lose their connection.
        if worker_tx.len() != state.num_workers() {
            let live = state.worker_ids();
            worker_tx.retain(|w, _| live.contains(w));
        }
        if workers_changed
            || journal
                .as_ref()
                .is_some_and(|j| j.num_workers() != state.num_workers())
        {
            workers_changed = false;
            if let Some(j) = journal.as_mut() {
                j.set_workers(state.worker_names());
                j.flush();
            }
        }
        if state.shutdown_requested() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            break;
        }
    }
    tracing::info!("scheduler stopped");
}

/// A journal this large is compacted once no task is left.
const JOURNAL_COMPACT_BYTES: u64 = 1 << 20;

/// Rebuild the state from a journal: the clients and their graphs, with no worker; the
/// clients get `resume_grace` to come back and the workers `recovery_wait`.
fn replay_journal(
    state: &mut SchedulerState,
    journal: &mut crate::journal::Journal,
    replay: crate::journal::Replay,
    resume_grace: &Duration,
    recovery_wait: Duration,
) {
    use crate::journal::Entry;
    state.set_journaled(true);
    let now = Instant::now();
    let n = replay.entries.len();
    if replay.torn {
        tracing::warn!("the journal's last entry was cut short (killed mid-write); it is dropped");
    }
    let expected = journal.workers();
    let mut null = ShellComm::default();
    let started = Instant::now();
    let fresh = replay.entries.len() <= 1;
    if fresh {
        return;
    }
    // Nothing is placed while replaying (there is no worker yet).
    state.begin_recovery(expected.iter().cloned(), now + recovery_wait);
    for e in replay.entries {
        match e {
            Entry::ClientJoined(c) => {
                if !state.has_client(c) {
                    state.add_client(c, &mut null);
                }
            }
            Entry::Client(c, msgs) => {
                for m in msgs {
                    state.handle_client(c, m, &mut null);
                }
            }
            Entry::ClientLeft(c) => state.remove_client(c, &mut null),
            Entry::Start { .. }
            | Entry::Received(..)
            | Entry::WorkerJoined(_)
            | Entry::WorkerLeft(_) => {}
        }
        null.clients.clear();
        null.workers.clear();
    }
    for c in state.client_ids() {
        state.detach_client(c, now + *resume_grace);
    }
    tracing::info!(
        entries = n,
        clients = state.client_ids().len(),
        tasks = state.num_tasks(),
        workers_expected = expected.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "replayed the journal"
    );
    if expected.is_empty() {
        state.end_recovery(&mut null);
    }
}

/// What the core's event handler works on.
struct Core<'a> {
    state: &'a mut SchedulerState,
    comm: &'a mut ShellComm,
    worker_tx: &'a mut FxHashMap<WorkerId, mpsc::UnboundedSender<Vec<ToWorker>>>,
    client_tx: &'a mut FxHashMap<ClientId, ClientLine>,
    dash: Option<&'a crate::dashboard::Shared>,
    journal: Option<&'a mut crate::journal::Journal>,
    acks: &'a mut Vec<ClientId>,
    resume_grace: Duration,
    workers_changed: &'a mut bool,
}

impl Core<'_> {
    fn workers_changed(&mut self) {
        *self.workers_changed = true;
    }

    fn handle(&mut self, ev: Event, now: Instant) {
        let Core {
            state,
            comm,
            worker_tx,
            client_tx,
            dash,
            journal,
            acks,
            resume_grace,
            workers_changed: _,
        } = self;
        let comm = &mut **comm;
        match ev {
            Event::WorkerJoined(id, reg, tx) => {
                worker_tx.insert(id, tx);
                state.add_worker(id, reg, now, comm);
            }
            Event::Worker(id, msgs) => {
                for m in msgs {
                    state.handle_worker(id, m, now, comm);
                }
            }
            Event::WorkerGone(id, reason) => {
                worker_tx.remove(&id);
                state.remove_worker(id, &reason, comm);
            }
            Event::ClientJoined(id, line, resume, reply) => {
                let resumed = resume.filter(|&old| {
                    journal.is_some() && state.is_detached(old) && !client_tx.contains_key(&old)
                });
                match (resumed, journal.as_deref_mut()) {
                    (Some(old), Some(j)) => {
                        client_tx.insert(old, line);
                        let received = j.received.get(&old).copied().unwrap_or(0);
                        state.resume_client(old, received, comm);
                        let _ = reply.send(old);
                    }
                    (_, j) => {
                        if let Some(j) = j {
                            j.append(&crate::journal::Entry::ClientJoined(id));
                        }
                        client_tx.insert(id, line);
                        state.add_client(id, comm);
                        let _ = reply.send(id);
                    }
                }
            }
            Event::Client(id, msgs) => {
                if let Some(j) = journal.as_deref_mut()
                    && j.client(id, &msgs) > 0
                {
                    acks.push(id);
                }
                let mut goodbye = false;
                for m in msgs {
                    goodbye |= matches!(m, FromClient::Goodbye);
                    state.handle_client(id, m, comm);
                }
                if goodbye {
                    if let Some(j) = journal.as_deref_mut() {
                        j.append(&crate::journal::Entry::ClientLeft(id));
                    }
                    comm.clients.remove(&id);
                    state.remove_client(id, comm);
                }
            }
            Event::ClientGone(id) => {
                client_tx.remove(&id);
                comm.clients.remove(&id);
                match journal.as_deref_mut() {
                    // Its work waits for it to come back.
                    Some(_) if state.has_client(id) => {
                        state.detach_client(id, Instant::now() + *resume_grace);
                    }
                    _ => state.remove_client(id, comm),
                }
            }
            Event::Snapshot(tx) => {
                let _ = tx.send(state.snapshot());
            }
            Event::Dashboard(req) => {
                if let Some(d) = dash {
                    // A page is open: log task spans from now on.
                    state.set_task_stream_watched(true);
                    crate::dashboard::answer(state, d, req, now);
                }
            }
        }
    }
}
