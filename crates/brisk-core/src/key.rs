//! Keys: a name plus an optional index tuple, like Dask's `"x"` or `("x", 0, 1)`.

use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;

/// The inline capacity of a key's index tuple; longer tuples spill to the heap.
const INLINE: usize = 3;

/// The name of a task's output: a name plus an index tuple such as `("x", 0, 1)` for a chunk.
///
/// Cheap to clone (one reference-count increment plus a small inline copy), hash and compare.
///
/// ```
/// use brisk_core::Key;
/// let a = Key::from("z");
/// let b = Key::from(("x", 0, 1));
/// assert_eq!(a.to_string(), "z");
/// assert_eq!(b.to_string(), "('x', 0, 1)");
/// assert_eq!(b.name(), "x");
/// assert_eq!(b.index(), &[0, 1]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    name: Arc<str>,
    index: SmallVec<[u32; INLINE]>,
}

impl Key {
    /// A key with a name and an index tuple (empty for a plain name).
    pub fn new(name: impl Into<Arc<str>>, index: &[u32]) -> Self {
        Key {
            name: name.into(),
            index: SmallVec::from_slice(index),
        }
    }

    /// A key that shares an already allocated name (no string copy): the way collections make
    /// thousands of chunk keys of one layer.
    pub fn with_shared_name(name: &Arc<str>, index: &[u32]) -> Self {
        Key {
            name: Arc::clone(name),
            index: SmallVec::from_slice(index),
        }
    }

    /// The name part: `"x"` for `("x", 0, 1)`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name as a shared string.
    pub fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The index tuple: `[0, 1]` for `("x", 0, 1)`, empty for a plain name.
    pub fn index(&self) -> &[u32] {
        &self.index
    }

    /// The prefix of the name before the last `-` token, as Dask groups tasks: `"inc"` for
    /// `"inc-3f9a2c"`. Used to colour and group tasks in progress bars and pictures.
    pub fn prefix(&self) -> &str {
        match self.name.rsplit_once('-') {
            Some((head, tail))
                if !head.is_empty()
                    && !tail.is_empty()
                    && tail.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                head
            }
            _ => &self.name,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.index.is_empty() {
            return f.write_str(&self.name);
        }
        write!(f, "('{}'", self.name)?;
        for i in &self.index {
            write!(f, ", {i}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.index.is_empty() {
            write!(f, "'{}'", self.name)
        } else {
            fmt::Display::fmt(self, f)
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key {
            name: intern(s),
            index: SmallVec::new(),
        }
    }
}

/// Share the allocation of recently used names: graphs are built key after key with the same
/// few names (`("x", 0)`, `("x", 1)`, …), so a tiny per-thread cache saves an allocation per key.
fn intern(s: &str) -> Arc<str> {
    use std::cell::RefCell;
    const SLOTS: usize = 8;
    thread_local! {
        static RECENT: RefCell<(usize, [Option<Arc<str>>; SLOTS])> = const { RefCell::new((0, [const { None }; SLOTS])) };
    }
    if s.len() > 64 {
        return s.into();
    }
    RECENT.with(|r| {
        let mut r = r.borrow_mut();
        if let Some(hit) = r.1.iter().flatten().find(|a| &***a == s) {
            return Arc::clone(hit);
        }
        let a: Arc<str> = s.into();
        let slot = r.0 % SLOTS;
        r.1[slot] = Some(Arc::clone(&a));
        r.0 = r.0.wrapping_add(1);
        a
    })
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::new(s, &[])
    }
}

impl From<&String> for Key {
    fn from(s: &String) -> Self {
        Key::new(s.as_str(), &[])
    }
}

impl From<&Key> for Key {
    fn from(k: &Key) -> Self {
        k.clone()
    }
}

macro_rules! key_from_tuple {
    ($($i:ident),+) => {
        impl From<(&str, $(key_from_tuple!(@usize $i)),+)> for Key {
            #[allow(non_snake_case)]
            fn from((name, $($i),+): (&str, $(key_from_tuple!(@usize $i)),+)) -> Self {
                Key {
                    name: intern(name),
                    index: SmallVec::from_slice(&[$(index_part($i)),+]),
                }
            }
        }
    };
    (@usize $i:ident) => { usize };
}

key_from_tuple!(A);
key_from_tuple!(A, B);
key_from_tuple!(A, B, C);
key_from_tuple!(A, B, C, D);
key_from_tuple!(A, B, C, D, E);

impl From<(&str, &[usize])> for Key {
    fn from((name, index): (&str, &[usize])) -> Self {
        let index: SmallVec<[u32; INLINE]> = index.iter().map(|&i| index_part(i)).collect();
        Key {
            name: intern(name),
            index,
        }
    }
}

/// Chunk indices are stored as `u32`; more than four billion chunks along one axis is not a
/// graph anyone can schedule, so saturate rather than wrap.
fn index_part(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Keys cross process boundaries as `(name, index)` pairs (additive: for the distributed
/// protocol's messages).
impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&*self.name)?;
        t.serialize_element(self.index.as_slice())?;
        t.end()
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (name, index): (std::borrow::Cow<'de, str>, Vec<u32>) =
            serde::Deserialize::deserialize(d)?;
        Ok(Key {
            name: Arc::from(&*name),
            index: SmallVec::from_vec(index),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn display_and_equality() {
        let k = Key::from(("x", 0, 1));
        assert_eq!(k, Key::new("x", &[0, 1]));
        assert_ne!(k, Key::from(("x", 1, 0)));
        assert_ne!(Key::from("x"), Key::from(("x", 0)));
        assert_eq!(format!("{k:?}"), "('x', 0, 1)");
        assert_eq!(format!("{:?}", Key::from("z")), "'z'");
        let set: HashSet<Key> = [Key::from("a"), Key::from("a"), Key::from(("a", 0))].into();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn prefix_strips_token() {
        assert_eq!(Key::from("inc-3f9a2c").prefix(), "inc");
        assert_eq!(Key::from("sum-agg-00ff").prefix(), "sum-agg");
        assert_eq!(Key::from("plain").prefix(), "plain");
        assert_eq!(Key::from("a-b").prefix(), "a");
        assert_eq!(Key::from("a-xyz").prefix(), "a-xyz");
    }

    #[test]
    fn serde_round_trip() {
        for k in [
            Key::from("z"),
            Key::from(("x", 0, 1)),
            Key::from(("y", 1, 2, 3, 4, 5)),
        ] {
            let bytes = rmp_serde::to_vec(&k).unwrap();
            let back: Key = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(back, k);
        }
        assert!(rmp_serde::from_slice::<Key>(&[0xc1]).is_err());
    }

    #[test]
    fn long_index_spills() {
        let k = Key::from(("x", 1, 2, 3, 4, 5));
        assert_eq!(k.index(), &[1, 2, 3, 4, 5]);
        assert_eq!(k.clone(), k);
    }
}
