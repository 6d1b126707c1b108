//! Sending a graph in bounded pieces: tasks and wanted keys go out as soon as a piece is full
//! (`FromClient::GraphPiece`), so no message grows with the graph and the scheduler starts on
//! the first piece while the rest is still being encoded here. A graph that fits in one piece
//! is one `FromClient::UpdateGraph`.

use brisk_core::{Error, Key};
use brisk_protocol::messages::{FromClient, NewTask};

use crate::client::Inner;

/// The default size of a piece: 8 MiB (`BRISK_GRAPH_PIECE_BYTES` overrides it).
pub(crate) fn default_piece_bytes() -> usize {
    std::env::var("BRISK_GRAPH_PIECE_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(8 << 20)
        .max(1)
}

/// About how many bytes a key takes in a message.
fn key_bytes(k: &Key) -> usize {
    k.name().len() + 4 * k.index().len() + 4
}

/// A graph being sent piece by piece.
pub(crate) struct Pieces<'a> {
    inner: &'a Inner,
    limit: usize,
    graph: Option<u64>,
    tasks: Vec<NewTask>,
    wanted: Vec<Key>,
    bytes: usize,
}

impl<'a> Pieces<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Pieces {
            inner,
            limit: inner.piece_bytes(),
            graph: None,
            tasks: Vec::new(),
            wanted: Vec::new(),
            bytes: 0,
        }
    }

    /// Add a task (after its dependencies).
    pub(crate) fn task(&mut self, t: NewTask) -> Result<(), Error> {
        let n = 16 + t.spec.len() + key_bytes(&t.key) + t.deps.iter().map(key_bytes).sum::<usize>();
        self.make_room(n)?;
        self.bytes += n;
        self.tasks.push(t);
        Ok(())
    }

    /// Say that this client wants `key` (a task added before).
    pub(crate) fn want(&mut self, key: Key) -> Result<(), Error> {
        let n = key_bytes(&key);
        self.make_room(n)?;
        self.bytes += n;
        self.wanted.push(key);
        Ok(())
    }

    fn make_room(&mut self, n: usize) -> Result<(), Error> {
        if self.bytes + n > self.limit && (!self.tasks.is_empty() || !self.wanted.is_empty()) {
            self.send(false)?;
        }
        Ok(())
    }

    fn send(&mut self, last: bool) -> Result<(), Error> {
        let graph = *self.graph.get_or_insert_with(|| self.inner.next_graph());
        let msg = FromClient::GraphPiece {
            graph,
            tasks: std::mem::take(&mut self.tasks),
            wanted: std::mem::take(&mut self.wanted),
            last,
        };
        self.bytes = 0;
        self.inner.send(vec![msg])
    }

    /// Send what is left: the last piece, or the whole graph as one message.
    pub(crate) fn finish(mut self) -> Result<(), Error> {
        if self.graph.is_some() {
            return self.send(true);
        }
        let msg = FromClient::UpdateGraph {
            tasks: std::mem::take(&mut self.tasks),
            wanted: std::mem::take(&mut self.wanted),
        };
        self.inner.send(vec![msg])
    }
}
