//! [`Payload`]: a byte buffer inside a message that travels as its own raw frame.
//!
//! While [`crate::frame::encode_message`] serializes a message, each `Payload` moves its
//! `Bytes` (a reference-count increment, no copy) to the message's list of raw frames and
//! writes only the frame's index into the header. [`crate::frame::decode_message`] does the
//! reverse, handing out slices of the receive buffer. Outside those two functions a payload
//! serializes inline as a byte string, so messages stay ordinary serde types.

use std::cell::RefCell;

use bytes::Bytes;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes that travel as a separate raw frame (see the module docs).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Payload(pub Bytes);

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        Payload(Bytes::from(v))
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Payload(b)
    }
}

impl std::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

thread_local! {
    static SINK: RefCell<Option<Vec<Bytes>>> = const { RefCell::new(None) };
    static SOURCE: RefCell<Option<Vec<Bytes>>> = const { RefCell::new(None) };
}

/// Run `f` with payloads collected into a list of frames; returns `f`'s result and the frames.
pub(crate) fn collecting<R>(f: impl FnOnce() -> R) -> (R, Vec<Bytes>) {
    struct Reset(Option<Vec<Bytes>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let prev = self.0.take();
            SINK.with(|s| *s.borrow_mut() = prev);
        }
    }
    let prev = SINK.with(|s| s.borrow_mut().replace(Vec::new()));
    let reset = Reset(prev);
    let r = f();
    let frames = SINK.with(|s| s.borrow_mut().take()).unwrap_or_default();
    drop(reset);
    (r, frames)
}

/// Run `f` with payload indices resolved against `frames`.
pub(crate) fn resolving<R>(frames: &[Bytes], f: impl FnOnce() -> R) -> R {
    struct Reset(Option<Vec<Bytes>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let prev = self.0.take();
            SOURCE.with(|s| *s.borrow_mut() = prev);
        }
    }
    let prev = SOURCE.with(|s| s.borrow_mut().replace(frames.to_vec()));
    let _reset = Reset(prev);
    f()
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = SINK.with(|sink| {
            sink.borrow_mut().as_mut().map(|frames| {
                frames.push(self.0.clone());
                frames.len() - 1
            })
        });
        match index {
            Some(i) => s.serialize_u64(i as u64),
            None => s.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Payload;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a payload frame index or a byte string")
            }
            fn visit_u64<E: de::Error>(self, i: u64) -> Result<Payload, E> {
                SOURCE.with(|src| {
                    let src = src.borrow();
                    let frames = src
                        .as_ref()
                        .ok_or_else(|| E::custom("a payload index outside a framed message"))?;
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| frames.get(i))
                        .cloned()
                        .map(Payload)
                        .ok_or_else(|| {
                            E::custom(format!(
                                "payload index {i} but the message has {} payload frames",
                                frames.len()
                            ))
                        })
                })
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> Result<Payload, E> {
                match u64::try_from(i) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom("negative payload index")),
                }
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Payload, E> {
                Ok(Payload(Bytes::copy_from_slice(v)))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Payload, E> {
                Ok(Payload(Bytes::from(v)))
            }
        }
        d.deserialize_any(V)
    }
}
