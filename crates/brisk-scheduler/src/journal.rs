//! The scheduler's journal (`brisk scheduler --journal FILE`): what a restarted scheduler
//! needs to give every client its work back.
//!
//! Written down: the clients (joined, left), every message of theirs that changes what the
//! scheduler must remember ([`FromClient::is_journaled`]: graphs, releases, scattered values)
//! in the order it arrived, and the names of the workers present. Not written down: where
//! values live and what is running — the workers say what they hold when they come back
//! (`FromWorker::Holds`), and that is the truth a journal could not keep (a worker may die
//! while the scheduler is down). A restart replays the entries through the state machine's own
//! handlers with no worker (see `recovery.rs`).
//!
//! Format: the wire's framing (`frame.rs`), one [`Entry`] per frame, appended; entries are
//! written before the state handles them and flushed (one `write`) before the clients hear
//! [`ToClient::Journaled`](brisk_protocol::messages::ToClient::Journaled), so a kill -9 loses
//! nothing a client was told is kept (the page cache survives the process; `fsync` is not
//! called: a power loss is not covered). A torn last frame (killed mid-write) is ignored.
//! When the scheduler holds no task the file is rewritten with only the clients and workers
//! present, so it does not grow without bound across jobs.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use brisk_protocol::messages::FromClient;
use brisk_protocol::{ClientId, ProtocolError};
use bytes::BytesMut;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// One journal record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Entry {
    /// The file's first record.
    Start {
        /// The Brisk version that wrote it.
        brisk: String,
    },
    ClientJoined(ClientId),
    /// Journaled messages of a client, in the order they arrived.
    Client(ClientId, Vec<FromClient>),
    ClientLeft(ClientId),
    /// A client's count of journaled messages (written when the file is compacted).
    Received(ClientId, u64),
    WorkerJoined(String),
    WorkerLeft(String),
}

/// What a journal held when the scheduler started.
#[derive(Default)]
pub(crate) struct Replay {
    pub(crate) entries: Vec<Entry>,
    /// Frames that could not be read at the end (a torn write), dropped.
    pub(crate) torn: bool,
}

/// The open journal.
pub(crate) struct Journal {
    path: PathBuf,
    file: std::fs::File,
    buf: BytesMut,
    /// Bytes in the file.
    len: u64,
    /// Journaled messages per client (what a resuming client is told).
    pub(crate) received: FxHashMap<ClientId, u64>,
    /// Worker names present (a name may be used by several connections over time).
    workers: BTreeMap<String, u32>,
    /// Writing failed once: journaling stopped (logged), the scheduler goes on.
    broken: bool,
}

impl Journal {
    /// Open (or create) the journal at `path`, returning what it already holds.
    pub(crate) fn open(path: &Path) -> Result<(Journal, Replay), ProtocolError> {
        let what = || format!("the journal {}", path.display());
        let mut bytes = Vec::new();
        match std::fs::File::open(path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)
                    .map_err(|e| ProtocolError::io(what(), e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ProtocolError::io(what(), e)),
        }
        let replay = read_entries(&bytes, path)?;
        let mut valid = 0u64;
        // Keep only whole frames: a torn tail is cut before appending after it.
        if replay.torn {
            valid = whole_prefix(&bytes);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| ProtocolError::io(what(), e))?;
        if replay.torn {
            file.set_len(valid)
                .map_err(|e| ProtocolError::io(what(), e))?;
        }
        let len = file
            .metadata()
            .map_err(|e| ProtocolError::io(what(), e))?
            .len();
        let mut j = Journal {
            path: path.to_path_buf(),
            file,
            buf: BytesMut::new(),
            len,
            received: FxHashMap::default(),
            workers: BTreeMap::new(),
            broken: false,
        };
        if len == 0 {
            j.append(&Entry::Start {
                brisk: env!("CARGO_PKG_VERSION").to_string(),
            });
            j.flush();
        }
        for e in &replay.entries {
            j.count(e);
        }
        Ok((j, replay))
    }

    /// Keep the counts an entry changes.
    fn count(&mut self, e: &Entry) {
        match e {
            Entry::ClientJoined(c) => {
                self.received.entry(*c).or_insert(0);
            }
            Entry::Client(c, msgs) => *self.received.entry(*c).or_insert(0) += msgs.len() as u64,
            Entry::Received(c, n) => {
                self.received.insert(*c, *n);
            }
            Entry::ClientLeft(c) => {
                self.received.remove(c);
            }
            Entry::WorkerJoined(n) => *self.workers.entry(n.clone()).or_insert(0) += 1,
            Entry::WorkerLeft(n) => {
                if let Some(k) = self.workers.get_mut(n) {
                    *k -= 1;
                    if *k == 0 {
                        self.workers.remove(n);
                    }
                }
            }
            Entry::Start { .. } => {}
        }
    }

    /// The names of the workers present when the journal ended.
    pub(crate) fn workers(&self) -> Vec<String> {
        self.workers.keys().cloned().collect()
    }

    /// How many workers are present (by the journal's count).
    pub(crate) fn num_workers(&self) -> usize {
        self.workers.values().map(|&k| k as usize).sum()
    }

    /// The workers present now (names, one per worker): the differences are journaled.
    pub(crate) fn set_workers(&mut self, names: Vec<String>) {
        let mut now: BTreeMap<String, u32> = BTreeMap::new();
        for n in names {
            *now.entry(n).or_insert(0) += 1;
        }
        let mut changes = Vec::new();
        for (n, &k) in &now {
            let had = self.workers.get(n).copied().unwrap_or(0);
            for _ in had..k {
                changes.push(Entry::WorkerJoined(n.clone()));
            }
        }
        for (n, &had) in &self.workers {
            let k = now.get(n).copied().unwrap_or(0);
            for _ in k..had {
                changes.push(Entry::WorkerLeft(n.clone()));
            }
        }
        for e in changes {
            self.append(&e);
        }
    }

    /// Queue an entry (written by [`Journal::flush`]).
    pub(crate) fn append(&mut self, e: &Entry) {
        self.count(e);
        if self.broken {
            return;
        }
        match brisk_protocol::frame::encode_message(e) {
            Ok(raw) => brisk_protocol::frame::write_to_buf(&raw, &mut self.buf),
            Err(err) => tracing::error!(error = %err, "cannot encode a journal entry"),
        }
    }

    /// The journaled messages of a client's batch, queued; returns how many.
    pub(crate) fn client(&mut self, c: ClientId, msgs: &[FromClient]) -> usize {
        let kept: Vec<FromClient> = msgs.iter().filter(|m| m.is_journaled()).cloned().collect();
        let n = kept.len();
        if n > 0 {
            self.append(&Entry::Client(c, kept));
        }
        n
    }

    /// Write what is queued (one `write`; no `fsync`).
    pub(crate) fn flush(&mut self) {
        if self.buf.is_empty() || self.broken {
            self.buf.clear();
            return;
        }
        match self.file.write_all(&self.buf) {
            Ok(()) => self.len += self.buf.len() as u64,
            Err(e) => {
                tracing::error!(
                    journal = %self.path.display(), error = %e,
                    "cannot write the journal; a restart will not recover the work from now on"
                );
                self.broken = true;
            }
        }
        self.buf.clear();
    }

    /// Bytes in the file.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Rewrite the file with only the clients and workers present (when no task is left, the
    /// graphs and releases of before say nothing a restart needs).
    pub(crate) fn compact(&mut self) {
        self.flush();
        if self.broken {
            return;
        }
        let mut entries = vec![Entry::Start {
            brisk: env!("CARGO_PKG_VERSION").to_string(),
        }];
        let mut clients: Vec<(ClientId, u64)> =
            self.received.iter().map(|(&c, &n)| (c, n)).collect();
        clients.sort_unstable();
        for (c, n) in clients {
            entries.push(Entry::ClientJoined(c));
            entries.push(Entry::Received(c, n));
        }
        for (name, &k) in &self.workers {
            for _ in 0..k {
                entries.push(Entry::WorkerJoined(name.clone()));
            }
        }
        let mut buf = BytesMut::new();
        for e in &entries {
            match brisk_protocol::frame::encode_message(e) {
                Ok(raw) => brisk_protocol::frame::write_to_buf(&raw, &mut buf),
                Err(_) => return,
            }
        }
        let tmp = self.path.with_extension("compacting");
        let written = std::fs::write(&tmp, &buf).and_then(|()| std::fs::rename(&tmp, &self.path));
        let reopened =
            written.and_then(|()| std::fs::OpenOptions::new().append(true).open(&self.path));
        match reopened {
            Ok(f) => {
                self.file = f;
                self.len = buf.len() as u64;
            }
            Err(e) => {
                tracing::error!(journal = %self.path.display(), error = %e, "cannot compact the journal");
            }
        }
    }
}

/// Decode the entries of a journal's bytes.
fn read_entries(bytes: &[u8], path: &Path) -> Result<Replay, ProtocolError> {
    let mut buf = BytesMut::from(bytes);
    let mut dec = brisk_protocol::frame::FrameDecoder::new(unlimited());
    let mut out = Replay::default();
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(raw)) => match brisk_protocol::frame::decode_message::<Entry>(&raw) {
                Ok(e) => out.entries.push(e),
                Err(e) => {
                    return Err(ProtocolError::io(
                        format!("the journal {}", path.display()),
                        std::io::Error::other(format!(
                            "entry {} cannot be read ({e}); it was written by another Brisk \
                             version or is damaged: move it away to start afresh",
                            out.entries.len() + 1
                        )),
                    ));
                }
            },
            Ok(None) => {
                out.torn = !buf.is_empty();
                break;
            }
            Err(_) => {
                out.torn = true;
                break;
            }
        }
    }
    let start = out.entries.first();
    if (start.is_none() && !bytes.is_empty())
        || start.is_some_and(|e| !matches!(e, Entry::Start { .. }))
    {
        return Err(ProtocolError::io(
            format!("the journal {}", path.display()),
            std::io::Error::other("this file is not a Brisk scheduler journal"),
        ));
    }
    Ok(out)
}

/// A journal is this scheduler's own file: no frame limits.
fn unlimited() -> brisk_protocol::frame::Limits {
    brisk_protocol::frame::Limits {
        max_header: u64::MAX,
        max_payloads: u64::MAX,
        max_payload: u64::MAX,
        max_message: u64::MAX,
    }
}

/// Bytes of the whole frames at the start of `bytes`.
fn whole_prefix(bytes: &[u8]) -> u64 {
    let mut buf = BytesMut::from(bytes);
    let mut dec = brisk_protocol::frame::FrameDecoder::new(unlimited());
    let mut used = 0u64;
    while let Ok(Some(_)) = dec.decode(&mut buf) {
        used = (bytes.len() - buf.len()) as u64;
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        {
            let (mut j, r) = Journal::open(&path).unwrap();
            assert!(r.entries.is_empty());
            j.append(&Entry::ClientJoined(3));
            j.append(&Entry::Client(
                3,
                vec![FromClient::Release { keys: vec![] }],
            ));
            j.append(&Entry::WorkerJoined("w".into()));
            j.flush();
        }
        // A write cut in the middle.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[9, 0, 0, 0, 0]).unwrap();
        drop(f);
        let (mut j, r) = Journal::open(&path).unwrap();
        assert!(r.torn);
        assert_eq!(r.entries.len(), 4);
        assert_eq!(j.received.get(&3), Some(&1));
        assert_eq!(j.workers(), vec!["w".to_string()]);
        j.append(&Entry::ClientLeft(3));
        j.flush();
        let (j, r) = Journal::open(&path).unwrap();
        assert!(!r.torn, "the torn tail was cut before appending");
        assert_eq!(r.entries.len(), 5);
        assert!(j.received.is_empty());
    }

    #[test]
    fn compaction_keeps_clients_and_workers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&Entry::ClientJoined(1));
        for _ in 0..100 {
            j.append(&Entry::Client(
                1,
                vec![FromClient::Release { keys: vec![] }],
            ));
        }
        j.append(&Entry::WorkerJoined("a".into()));
        j.flush();
        let before = j.len();
        j.compact();
        assert!(j.len() < before);
        j.append(&Entry::ClientJoined(2));
        j.flush();
        let (j, r) = Journal::open(&path).unwrap();
        assert_eq!(j.received.get(&1), Some(&100));
        assert_eq!(j.received.get(&2), Some(&0));
        assert_eq!(j.workers(), vec!["a".to_string()]);
        assert!(!r.torn);
    }

    #[test]
    fn another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        {
            let (mut j, _) = Journal::open(&path).unwrap();
            j.flush();
        }
        std::fs::write(&path, b"hello, this is not a journal").unwrap();
        let err = Journal::open(&path).err().expect("refused").to_string();
        assert!(err.contains("not a Brisk scheduler journal"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"hello, this is not a journal"
        );
    }
}
