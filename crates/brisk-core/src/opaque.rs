//! [`Opaque`]: a value whose type this program does not know, kept as the codec tag and
//! bytes it arrived with, so that it can travel on unchanged.
//!
//! A stock `brisk worker` runs tasks of a program it was not built with through that
//! program's executable (uploaded by the client; see `brisk-worker`'s executor): a result
//! of the user's own type has a codec only there. The worker keeps such a result as an
//! `Opaque`, hands it to the next task that needs it (the executor decodes it with the user's
//! codecs), to other workers, and to the client, always as the original tag and bytes:
//! [`crate::codec::encode`] writes an `Opaque` back exactly as it came. Only
//! [`crate::codec::decode_or_opaque`] makes one; a client, which knows its types, decodes
//! strictly.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// A value of a type this program has no codec for: its tag and encoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opaque {
    /// The codec tag of its type (in the program that made it).
    pub tag: String,
    /// Its encoding.
    pub bytes: Vec<u8>,
}

/// `tag` as a `&'static str` (each distinct tag is stored once: there are as many as codec
/// types in the programs a worker serves).
pub(crate) fn intern(tag: &str) -> &'static str {
    static TAGS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let set = TAGS.get_or_init(|| Mutex::new(HashSet::new()));
    let mut g = match set.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some(t) = g.get(tag) {
        return t;
    }
    let t: &'static str = Box::leak(tag.to_string().into_boxed_str());
    g.insert(t);
    t
}
