//! Clients come and go and send requests: the handlers of the scheduler's client connections.
//! Pure, like the rest of the state machine (see `state.rs` for the model).

use brisk_protocol::ClientId;
use brisk_protocol::messages::{FromClient, ToClient, ToWorker};

use crate::state::{Comm, SchedulerState};

impl SchedulerState {
    /// A client connected.
    pub fn add_client(&mut self, c: ClientId, comm: &mut impl Comm) {
        self.clients.insert(c);
        self.welcome(c, None, comm);
        tracing::debug!(client = c, "client connected");
    }

    /// The welcome of a new or resumed client, and the workers it can fetch from.
    pub(crate) fn welcome(&mut self, c: ClientId, resumed: Option<u64>, comm: &mut impl Comm) {
        comm.send_client(
            c,
            ToClient::Welcome {
                id: c,
                journal: self.journaled,
                resumed,
            },
        );
        let added = self
            .workers
            .iter()
            .map(|(&id, w)| (id, w.address.clone(), w.name.clone()))
            .collect();
        comm.send_client(
            c,
            ToClient::Workers {
                added,
                removed: vec![],
            },
        );
    }

    /// A client went away: release everything it held.
    pub fn remove_client(&mut self, c: ClientId, comm: &mut impl Comm) {
        self.detached.remove(&c);
        if !self.clients.remove(&c) {
            return;
        }
        self.stream.stop_recording(c);
        self.drop_graphs(c, comm);
        // One pass over the records (a client leaves rarely; keeping a set of what each client
        // wants would cost every task a hash-set entry).
        let wants: Vec<_> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.who_wants.contains(&c))
            .map(|(id, _)| id)
            .collect();
        let n = wants.len();
        for id in wants {
            if self.live(id) {
                self.tm(id).who_wants.retain(|x| *x != c);
                self.maybe_release(id, comm);
            }
        }
        tracing::debug!(client = c, released = n, "client disconnected");
        self.fill_all(comm);
    }

    /// A message from client `c`.
    pub fn handle_client(&mut self, c: ClientId, msg: FromClient, comm: &mut impl Comm) {
        match msg {
            FromClient::UpdateGraph { tasks, wanted } => self.update_graph(c, tasks, wanted, comm),
            FromClient::GraphPiece {
                graph,
                tasks,
                wanted,
                last,
            } => self.graph_piece(c, Some(graph), tasks, wanted, last, comm),
            FromClient::Release { keys } => {
                for k in keys {
                    let Some(id) = self.lookup(&k) else {
                        continue;
                    };
                    self.tm(id).who_wants.retain(|x| *x != c);
                    self.maybe_release(id, comm);
                }
                self.fill_all(comm);
            }
            FromClient::Scatter { items } => self.scatter(c, items, comm),
            FromClient::Info { request } => {
                comm.send_client(
                    c,
                    ToClient::Info {
                        request,
                        info: self.snapshot(),
                    },
                );
            }
            FromClient::TaskStream {
                request,
                since,
                keep,
            } => {
                let stream = self.task_stream_reply(c, since, keep);
                comm.send_client(c, ToClient::TaskStream { request, stream });
            }
            FromClient::RetireWorkers { workers } => self.retire_named(&workers, comm),
            // The shell removes the client (and journals it).
            FromClient::Goodbye => {}
            FromClient::Shutdown => {
                self.shutdown = true;
                for &w in self.workers.keys() {
                    comm.send_worker(
                        w,
                        ToWorker::Close {
                            reason: "a client asked the cluster to shut down".into(),
                        },
                    );
                }
            }
            // Answered by the connection (server.rs) before they reach the state.
            FromClient::PutExecutable { .. } | FromClient::GetExecutable { .. } => {}
        }
    }
}
