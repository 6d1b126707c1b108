//! The worker's data store: values in memory, spilled to disk past a target fraction of the
//! memory limit, least recently used first. A value whose type has no encoding stays in
//! memory: nothing is ever lost to spilling.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use brisk_core::{Key, Value};
use brisk_protocol::messages::EncodedValue;
use brisk_protocol::spec::{decode_value, encode_value};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::error::WorkerError;

struct InMemory {
    value: Value,
    nbytes: u64,
    tick: u64,
    spillable: bool,
}

struct OnDisk {
    path: PathBuf,
    tag: String,
    nbytes: u64,
}

#[derive(Default)]
struct Inner {
    memory: FxHashMap<Key, InMemory>,
    lru: BTreeMap<u64, Key>,
    disk: FxHashMap<Key, OnDisk>,
    managed: u64,
    spilled: u64,
    peak: u64,
    tick: u64,
    spill_count: u64,
    file_seq: u64,
}

/// Values held by a worker (thread-safe; shared by the executor threads and the shell).
pub struct DataStore {
    inner: Mutex<Inner>,
    limit: u64,
    target: f64,
    dir: PathBuf,
}

/// Memory numbers of a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Bytes in memory.
    pub managed: u64,
    /// Bytes on disk.
    pub spilled: u64,
    /// Peak bytes in memory.
    pub peak: u64,
    /// Values held.
    pub keys: u64,
    /// Values spilled so far.
    pub spill_count: u64,
}

impl DataStore {
    /// A store with a memory `limit` (0: no limit) that spills past `target × limit` into
    /// files under `dir`.
    pub fn new(limit: u64, target: f64, dir: PathBuf) -> Self {
        DataStore {
            inner: Mutex::new(Inner::default()),
            limit,
            target,
            dir,
        }
    }

    /// The spill directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Store `value` under `key`; returns its size. Spills older values if needed.
    pub fn put(&self, key: Key, value: Value) -> u64 {
        let nbytes = value.nbytes() as u64;
        let mut g = self.inner.lock();
        g.tick += 1;
        let tick = g.tick;
        remove_locked(&mut g, &key);
        g.memory.insert(
            key.clone(),
            InMemory {
                value,
                nbytes,
                tick,
                spillable: true,
            },
        );
        g.lru.insert(tick, key);
        g.managed += nbytes;
        g.peak = g.peak.max(g.managed);
        self.spill_locked(&mut g);
        nbytes
    }

    /// Store an encoded value (from a peer or a client) under `key`.
    pub fn put_encoded(&self, key: Key, v: &EncodedValue) -> Result<u64, WorkerError> {
        let value = decode_value(v).map_err(|source| WorkerError::Codec {
            key: key.clone(),
            source,
        })?;
        Ok(self.put(key, value))
    }

    /// Store a value fetched from a peer under `key`: a type this program does not know (a
    /// result of a client's uploaded program) is kept as an `Opaque`, as the peer held it.
    pub fn put_fetched(&self, key: Key, v: &EncodedValue) -> Result<u64, WorkerError> {
        let value = brisk_protocol::spec::decode_value_or_opaque(v).map_err(|source| {
            WorkerError::Codec {
                key: key.clone(),
                source,
            }
        })?;
        Ok(self.put(key, value))
    }

    /// The value under `key`, reading it back from disk when spilled.
    pub fn get(&self, key: &Key) -> Result<Option<Value>, WorkerError> {
        let mut g = self.inner.lock();
        g.tick += 1;
        let tick = g.tick;
        if let Some(m) = g.memory.get_mut(key) {
            let old = m.tick;
            m.tick = tick;
            let v = m.value.clone();
            g.lru.remove(&old);
            g.lru.insert(tick, key.clone());
            return Ok(Some(v));
        }
        let Some(d) = g.disk.remove(key) else {
            return Ok(None);
        };
        let bytes = std::fs::read(&d.path).map_err(|e| WorkerError::Spill {
            path: d.path.clone(),
            source: std::sync::Arc::new(e),
        })?;
        let _ = std::fs::remove_file(&d.path);
        g.spilled = g.spilled.saturating_sub(d.nbytes);
        // Spilled opaque values (of a client's program) come back opaque.
        let value = brisk_core::codec::decode_or_opaque(&d.tag, &bytes).map_err(|source| {
            WorkerError::Codec {
                key: key.clone(),
                source,
            }
        })?;
        g.memory.insert(
            key.clone(),
            InMemory {
                value: value.clone(),
                nbytes: d.nbytes,
                tick,
                spillable: true,
            },
        );
        g.lru.insert(tick, key.clone());
        g.managed += d.nbytes;
        g.peak = g.peak.max(g.managed);
        self.spill_locked(&mut g);
        Ok(Some(value))
    }

    /// The value under `key` encoded for a peer; a spilled value is sent from its file
    /// without decoding.
    pub fn encoded(&self, key: &Key) -> Result<Option<EncodedValue>, WorkerError> {
        let g = self.inner.lock();
        if let Some(m) = g.memory.get(key) {
            let v = m.value.clone();
            drop(g);
            return encode_value(&v)
                .map(Some)
                .map_err(|source| WorkerError::Codec {
                    key: key.clone(),
                    source,
                });
        }
        let Some(d) = g.disk.get(key) else {
            return Ok(None);
        };
        let bytes = std::fs::read(&d.path).map_err(|e| WorkerError::Spill {
            path: d.path.clone(),
            source: std::sync::Arc::new(e),
        })?;
        Ok(Some(EncodedValue {
            tag: d.tag.clone(),
            bytes: bytes.into(),
        }))
    }

    /// Drop `key`.
    pub fn remove(&self, key: &Key) {
        let mut g = self.inner.lock();
        remove_locked(&mut g, key);
    }

    /// Every key held (in memory or spilled) with its size.
    pub fn held(&self) -> Vec<(Key, u64)> {
        let g = self.inner.lock();
        g.memory
            .iter()
            .map(|(k, m)| (k.clone(), m.nbytes))
            .chain(g.disk.iter().map(|(k, d)| (k.clone(), d.nbytes)))
            .collect()
    }

    /// Drop everything.
    pub fn clear(&self) {
        let mut g = self.inner.lock();
        for d in g.disk.values() {
            let _ = std::fs::remove_file(&d.path);
        }
        let peak = g.peak;
        let spills = g.spill_count;
        *g = Inner::default();
        g.peak = peak;
        g.spill_count = spills;
    }

    /// Memory numbers.
    pub fn stats(&self) -> StoreStats {
        let g = self.inner.lock();
        StoreStats {
            managed: g.managed,
            spilled: g.spilled,
            peak: g.peak,
            keys: (g.memory.len() + g.disk.len()) as u64,
            spill_count: g.spill_count,
        }
    }

    /// Spill least recently used values until `n` bytes went to disk (or nothing is left to
    /// spill): the process holds more than its managed bytes say. Returns the bytes spilled.
    pub fn spill_bytes(&self, n: u64) -> u64 {
        let mut g = self.inner.lock();
        let before = g.managed;
        self.spill_locked_to(&mut g, before.saturating_sub(n));
        before.saturating_sub(g.managed)
    }

    fn spill_locked(&self, g: &mut Inner) {
        if self.limit == 0 {
            return;
        }
        let target = (self.limit as f64 * self.target) as u64;
        self.spill_locked_to(g, target);
    }

    /// Spill least recently used values until at most `target` managed bytes stay.
    fn spill_locked_to(&self, g: &mut Inner, target: u64) {
        let mut skipped: Vec<(u64, Key)> = Vec::new();
        while g.managed > target {
            let Some((tick, key)) = g.lru.pop_first() else {
                break;
            };
            let Some(m) = g.memory.get(&key) else {
                continue;
            };
            if !m.spillable {
                skipped.push((tick, key));
                continue;
            }
            let encoded = brisk_core::codec::encode(&m.value);
            let nbytes = m.nbytes;
            match encoded {
                Ok((tag, bytes)) => {
                    g.file_seq += 1;
                    let path = self.dir.join(format!("spill-{}.bin", g.file_seq));
                    if let Err(e) = std::fs::create_dir_all(&self.dir)
                        .and_then(|()| std::fs::write(&path, &bytes))
                    {
                        tracing::warn!(path = %path.display(), error = %e, "cannot spill to disk; keeping the value in memory");
                        if let Some(m) = g.memory.get_mut(&key) {
                            m.spillable = false;
                        }
                        skipped.push((tick, key));
                        continue;
                    }
                    g.memory.remove(&key);
                    g.managed = g.managed.saturating_sub(nbytes);
                    g.spilled += nbytes;
                    g.spill_count += 1;
                    tracing::debug!(key = %key, nbytes, "spilled to disk");
                    g.disk.insert(
                        key,
                        OnDisk {
                            path,
                            tag: tag.to_string(),
                            nbytes,
                        },
                    );
                }
                Err(_) => {
                    if let Some(m) = g.memory.get_mut(&key) {
                        m.spillable = false;
                    }
                    skipped.push((tick, key));
                }
            }
        }
        for (tick, key) in skipped {
            g.lru.insert(tick, key);
        }
    }
}

fn remove_locked(g: &mut Inner, key: &Key) {
    if let Some(m) = g.memory.remove(key) {
        g.lru.remove(&m.tick);
        g.managed = g.managed.saturating_sub(m.nbytes);
    }
    if let Some(d) = g.disk.remove(key) {
        let _ = std::fs::remove_file(&d.path);
        g.spilled = g.spilled.saturating_sub(d.nbytes);
    }
}

impl Drop for DataStore {
    fn drop(&mut self) {
        self.clear();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_least_recently_used_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = DataStore::new(10_000, 0.6, dir.path().join("spill"));
        for i in 0..10u32 {
            store.put(
                Key::from(("x", i as usize)),
                Value::new(vec![i as u8; 1000]),
            );
        }
        let s = store.stats();
        assert!(s.managed <= 6_000, "{s:?}");
        assert!(s.spilled >= 4_000, "{s:?}");
        assert_eq!(s.keys, 10);
        for i in 0..10u32 {
            let v = store.get(&Key::from(("x", i as usize))).unwrap().unwrap();
            assert_eq!(v.get::<Vec<u8>>().unwrap(), vec![i as u8; 1000]);
        }
        // An unencodable value is never lost: it stays in memory.
        struct Opaque(#[allow(dead_code)] Vec<u8>);
        store.put("o".into(), Value::new(Opaque(vec![0; 50_000])));
        assert!(store.get(&"o".into()).unwrap().is_some());
        store.remove(&"o".into());
        store.clear();
        assert_eq!(store.stats().keys, 0);
    }
}
