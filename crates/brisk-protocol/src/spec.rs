//! Tasks and failures on the wire.
//!
//! A task travels as MessagePack of a [`brisk_core::wire::WirePlanTask`] (function by
//! registered name, literals by codec), in a raw payload frame that the scheduler forwards
//! without decoding: the stock scheduler never needs user functions.

use brisk_core::plan::PlanTask;
use brisk_core::wire::{WirePlanTask, decode_plan_task, encode_plan_task};
use brisk_core::{Error, FailureKind, Key, TaskFailure, Value};
use serde::{Deserialize, Serialize};

use crate::Payload;
use crate::messages::EncodedValue;

/// Encode a compiled task; an unregistered closure is [`Error::UnregisteredFunction`].
pub fn encode_task(key: &Key, task: &PlanTask) -> Result<Payload, Error> {
    encode_task_for(key, task, None)
}

/// [`encode_task`] for a client that uploaded its program `exe` (see
/// [`crate::executable`]): workers that do not know the task's function run it there.
pub fn encode_task_for(key: &Key, task: &PlanTask, exe: Option<&str>) -> Result<Payload, Error> {
    let mut w = encode_plan_task(key, task)?;
    w.exe = exe.map(str::to_string);
    rmp_serde::to_vec(&w)
        .map(Payload::from)
        .map_err(|e| Error::Codec {
            context: format!("task {key}"),
            source: brisk_core::CodecError::Encode {
                type_name: "task",
                message: e.to_string(),
            },
        })
}

/// Decode a task made by [`encode_task`].
pub fn decode_task(key: &Key, bytes: &[u8]) -> Result<PlanTask, Error> {
    decode_plan_task(key, &decode_wire_task(key, bytes)?)
}

/// The task as it travels, before its functions and literals are looked up (to learn which
/// uploaded program it needs when this process cannot run it).
pub fn decode_wire_task(key: &Key, bytes: &[u8]) -> Result<WirePlanTask, Error> {
    rmp_serde::from_slice(bytes).map_err(|e| Error::Codec {
        context: format!("task {key}"),
        source: brisk_core::CodecError::Decode {
            tag: "task".into(),
            message: e.to_string(),
        },
    })
}

/// Decode a value made by [`encode_value`], keeping a value of a type this program does not
/// know as a [`brisk_core::opaque::Opaque`] (workers that pass on a user's values).
pub fn decode_value_or_opaque(v: &EncodedValue) -> Result<Value, brisk_core::CodecError> {
    brisk_core::codec::decode_or_opaque(&v.tag, &v.bytes)
}

/// Encode a value with the codec registry.
pub fn encode_value(value: &Value) -> Result<EncodedValue, brisk_core::CodecError> {
    let (tag, bytes) = brisk_core::codec::encode(value)?;
    Ok(EncodedValue {
        tag: tag.to_string(),
        bytes: Payload::from(bytes),
    })
}

/// Decode a value made by [`encode_value`].
pub fn decode_value(v: &EncodedValue) -> Result<Value, brisk_core::CodecError> {
    brisk_core::codec::decode(&v.tag, &v.bytes)
}

/// A [`TaskFailure`] on the wire (the original error object stays behind; its message and
/// kind travel).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireFailure {
    /// `error`, `panic`, `bad-argument`, `killed-worker`, `lost`.
    pub kind: String,
    /// The message.
    pub message: String,
    /// The fused task that failed inside the reported one.
    pub origin: Option<Key>,
}

impl WireFailure {
    /// A failure with a plain message.
    pub fn msg(kind: &str, message: impl Into<String>) -> Self {
        WireFailure {
            kind: kind.to_string(),
            message: message.into(),
            origin: None,
        }
    }
}

impl From<&TaskFailure> for WireFailure {
    fn from(f: &TaskFailure) -> Self {
        WireFailure {
            kind: match f.kind {
                FailureKind::Error => "error",
                FailureKind::Panic => "panic",
                FailureKind::BadArgument => "bad-argument",
            }
            .to_string(),
            message: f.message.clone(),
            origin: f.origin.clone(),
        }
    }
}

impl From<&WireFailure> for TaskFailure {
    fn from(w: &WireFailure) -> Self {
        let mut f = match w.kind.as_str() {
            "panic" => TaskFailure::from_panic(&w.message.clone()),
            "bad-argument" => TaskFailure::bad_argument(w.message.clone()),
            _ => TaskFailure::msg(w.message.clone()),
        };
        f.origin.clone_from(&w.origin);
        f
    }
}
