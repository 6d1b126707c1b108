//! Compact task keys: [`TaskKey`] is 36 bytes with no allocation of its own.
//!
//! Client keys look like `noop-3f9a…` (a name, `-`, a hex token of up to 32 digits, unique per
//! task) or `('x-3f9a…', 0, 1)` (a shared name plus an index). A `TaskKey` keeps the part
//! before the token as an id into an interned, reference-counted [`Names`] table (so `noop` is
//! stored once for a million tasks), the token as a 128-bit number, and up to 3 index parts
//! inline. A name without such a token is interned whole; a key with a longer index is
//! interned whole too (rare). Turning a `TaskKey` back into a [`Key`] (for a message) shares
//! the interned name when there is no token, and formats `name-token` when there is.

use std::sync::Arc;

use brisk_core::Key;

/// The inline index parts of a [`TaskKey`].
const INLINE: usize = 3;
/// `index_len` of a key interned whole.
const WHOLE: u8 = u8::MAX;

/// A task's key in the scheduler (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct TaskKey {
    token: [u32; 4],
    index: [u32; INLINE],
    /// Into [`Names`].
    pub(crate) name: u32,
    /// Hex digits of the token (0: none).
    token_len: u8,
    /// Index parts (`WHOLE`: the key is interned whole).
    index_len: u8,
}

/// A name's part before a token of 1–32 lowercase hex digits, the token and its length.
fn split_token(name: &str) -> Option<(&str, u128, u8)> {
    let (head, tail) = name.rsplit_once('-')?;
    if head.is_empty()
        || tail.is_empty()
        || tail.len() > 32
        || !tail
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let token = u128::from_str_radix(tail, 16).ok()?;
    Some((head, token, tail.len() as u8))
}

fn words(t: u128) -> [u32; 4] {
    [
        (t >> 96) as u32,
        (t >> 64) as u32,
        (t >> 32) as u32,
        t as u32,
    ]
}

fn unwords(w: &[u32; 4]) -> u128 {
    (u128::from(w[0]) << 96)
        | (u128::from(w[1]) << 64)
        | (u128::from(w[2]) << 32)
        | u128::from(w[3])
}

struct Entry {
    /// The name (index empty), or the whole key.
    key: Key,
    refs: u32,
    /// Into the scheduler's prefixes.
    prefix: u32,
}

/// Interned names (and whole keys), reference-counted by the task records using them.
#[derive(Default)]
pub(crate) struct Names {
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Entry ids by (name, index) hash.
    ids: hashbrown::HashTable<u32>,
}

fn hash_parts(name: &str, index: &[u32]) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    name.hash(&mut h);
    index.hash(&mut h);
    h.finish()
}

/// What of a key is interned: its name before the token (index empty), or the whole key.
enum Interned<'a> {
    Name(&'a str, [u32; 4], u8),
    Whole,
}

fn interned(key: &Key) -> Interned<'_> {
    if key.index().len() > INLINE {
        return Interned::Whole;
    }
    match split_token(key.name()) {
        Some((head, token, len)) => Interned::Name(head, words(token), len),
        None => Interned::Name(key.name(), [0; 4], 0),
    }
}

impl Names {
    fn find(&self, name: &str, index: &[u32]) -> Option<u32> {
        let entries = &self.entries;
        self.ids
            .find(hash_parts(name, index), |&id| {
                entries
                    .get(id as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|e| e.key.name() == name && e.key.index() == index)
            })
            .copied()
    }

    fn compact(key: &Key, name: u32, token: [u32; 4], token_len: u8) -> TaskKey {
        let index = key.index();
        if index.len() > INLINE {
            return TaskKey {
                token: [0; 4],
                index: [0; INLINE],
                name,
                token_len: 0,
                index_len: WHOLE,
            };
        }
        let mut inline = [0; INLINE];
        inline[..index.len()].copy_from_slice(index);
        TaskKey {
            token,
            index: inline,
            name,
            token_len,
            index_len: index.len() as u8,
        }
    }

    /// The compact form of `key` if its name is interned (else no task has that key).
    pub(crate) fn probe(&self, key: &Key) -> Option<TaskKey> {
        match interned(key) {
            Interned::Whole => {
                let name = self.find(key.name(), key.index())?;
                Some(Self::compact(key, name, [0; 4], 0))
            }
            Interned::Name(n, token, len) => {
                let name = self.find(n, &[])?;
                Some(Self::compact(key, name, token, len))
            }
        }
    }

    /// The compact form of `key`, interning its name (one more reference); `prefix` gives the
    /// prefix id of a name seen for the first time.
    pub(crate) fn intern(&mut self, key: &Key, prefix: impl FnOnce(&Key) -> u32) -> TaskKey {
        let (name, index, token, token_len) = match interned(key) {
            Interned::Whole => (key.name(), key.index(), [0; 4], 0),
            Interned::Name(n, token, len) => (n, &[][..], token, len),
        };
        let id = match self.find(name, index) {
            Some(id) => id,
            None => {
                let stored = if index.is_empty() && name.len() == key.name().len() {
                    Key::with_shared_name(key.shared_name(), &[])
                } else if index.is_empty() {
                    Key::new(name, &[])
                } else {
                    key.clone()
                };
                let entry = Entry {
                    key: stored,
                    refs: 0,
                    prefix: prefix(key),
                };
                let id = match self.free.pop() {
                    Some(id) => {
                        self.entries[id as usize] = Some(entry);
                        id
                    }
                    None => {
                        self.entries.push(Some(entry));
                        (self.entries.len() - 1) as u32
                    }
                };
                let entries = &self.entries;
                self.ids.insert_unique(hash_parts(name, index), id, |&i| {
                    entries
                        .get(i as usize)
                        .and_then(Option::as_ref)
                        .map_or(0, |e| hash_parts(e.key.name(), e.key.index()))
                });
                id
            }
        };
        if let Some(Some(e)) = self.entries.get_mut(id as usize) {
            e.refs += 1;
        }
        Self::compact(key, id, token, token_len)
    }

    /// One reference less to `k`'s name (a task record was forgotten).
    pub(crate) fn release(&mut self, k: &TaskKey) {
        let Some(slot) = self.entries.get_mut(k.name as usize) else {
            return;
        };
        let gone = match slot {
            Some(e) => {
                e.refs = e.refs.saturating_sub(1);
                e.refs == 0
            }
            None => false,
        };
        if gone && let Some(e) = slot.take() {
            let h = hash_parts(e.key.name(), e.key.index());
            if let Ok(found) = self.ids.find_entry(h, |&i| i == k.name) {
                found.remove();
            }
            self.free.push(k.name);
        }
    }

    /// The prefix id of `k`.
    pub(crate) fn prefix(&self, k: &TaskKey) -> u32 {
        self.entries
            .get(k.name as usize)
            .and_then(Option::as_ref)
            .map_or(0, |e| e.prefix)
    }

    /// The full key of `k`.
    pub(crate) fn key(&self, k: &TaskKey) -> Key {
        let Some(Some(e)) = self.entries.get(k.name as usize) else {
            return Key::from("?");
        };
        if k.index_len == WHOLE {
            return e.key.clone();
        }
        let index = &k.index[..k.index_len as usize];
        if k.token_len == 0 {
            return Key::with_shared_name(e.key.shared_name(), index);
        }
        let name = format!(
            "{}-{:0w$x}",
            e.key.name(),
            unwords(&k.token),
            w = k.token_len as usize
        );
        Key::new(Arc::<str>::from(name), index)
    }

    /// Whether `k` is `key`.
    pub(crate) fn is(&self, k: &TaskKey, key: &Key) -> bool {
        self.probe(key).as_ref() == Some(k)
    }

    /// Interned entries and the bytes their names take.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries
            .iter()
            .flatten()
            .map(|e| 64 + e.key.name().len() + 4 * e.key.index().len())
            .sum::<usize>()
            + self.entries.capacity() * std::mem::size_of::<Option<Entry>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_names_are_shared_and_freed() {
        assert_eq!(std::mem::size_of::<TaskKey>(), 36);
        let mut names = Names::default();
        let keys = [
            Key::from("noop-00ab3f9a2c000000000000000000ffff"),
            Key::from("noop-0"),
            Key::from("inc-3f9a2c"),
            Key::from(("x-3f9a2c", 0, 1)),
            Key::from(("x-3f9a2c", 4, 1)),
            Key::from("plain"),
            Key::from("UPPER-ABC"),
            Key::from("sum-agg-00ff"),
            Key::from("a-"),
            Key::from("-ab"),
            Key::from(("deep", 1, 2, 3, 4, 5)),
            Key::from("long-0123456789abcdef0123456789abcdef0"),
        ];
        let compact: Vec<TaskKey> = keys
            .iter()
            .map(|k| names.intern(k, |k| k.prefix().len() as u32))
            .collect();
        for (k, c) in keys.iter().zip(&compact) {
            assert_eq!(&names.key(c), k, "{k} round-trips");
            assert!(names.is(c, k));
            assert_eq!(names.prefix(c), k.prefix().len() as u32);
        }
        assert_eq!(compact[0].name, compact[1].name, "noop is interned once");
        assert_ne!(compact[3], compact[4]);
        assert!(names.probe(&Key::from("noop-1")).is_some(), "noop is known");
        assert!(names.probe(&Key::from("other-1")).is_none());
        assert!(!names.is(&compact[0], &keys[1]));
        for c in &compact {
            names.release(c);
        }
        assert!(names.ids.is_empty(), "every name freed");
        let again = names.intern(&keys[2], |_| 0);
        assert_eq!(names.key(&again), keys[2], "freed ids are reused");
    }
}
