//! The registry of value types that can cross a process boundary, and their encodings.
//!
//! Each registered type has a stable tag (`"i64"`, `"brisk_array::Chunk<f64>"`, …), an encoder,
//! a decoder, and optionally a size estimate and a debug printer. Built-in scalars, strings and
//! their vectors are registered here; collections register their chunk types; your own types
//! join with `brisk_core::data!(MyType, serde)`.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::Value;
use crate::error::CodecError;

/// One registered value type (submitted with `inventory`). Build it with [`TypeEntry::new`]
/// and the `with_*` methods, so that new optional fields never break existing registrations:
///
/// ```ignore
/// inventory::submit! {
///     TypeEntry::new(type_name::<MyChunk>, || TypeId::of::<MyChunk>(), encode, decode)
///         .with_nbytes(nbytes)
/// }
/// ```
pub struct TypeEntry {
    /// A stable name for the type on the wire (a function because `type_name` is not const).
    pub tag: fn() -> &'static str,
    /// The Rust type's id (a function because `TypeId::of` is not const).
    pub type_id: fn() -> TypeId,
    /// Encode a value of this type to bytes.
    pub encode: fn(&Value) -> Result<Vec<u8>, CodecError>,
    /// Decode bytes made by `encode`.
    pub decode: fn(&[u8]) -> Result<Value, CodecError>,
    /// The bytes a value holds, if cheaper to know than `encode(...).len()`.
    pub nbytes: Option<fn(&Value) -> usize>,
    /// A short human-readable form.
    pub debug: Option<fn(&Value, &mut fmt::Formatter<'_>) -> fmt::Result>,
}

impl TypeEntry {
    /// An entry with the required parts.
    pub const fn new(
        tag: fn() -> &'static str,
        type_id: fn() -> TypeId,
        encode: fn(&Value) -> Result<Vec<u8>, CodecError>,
        decode: fn(&[u8]) -> Result<Value, CodecError>,
    ) -> Self {
        TypeEntry {
            tag,
            type_id,
            encode,
            decode,
            nbytes: None,
            debug: None,
        }
    }

    /// With a size estimate.
    pub const fn with_nbytes(mut self, f: fn(&Value) -> usize) -> Self {
        self.nbytes = Some(f);
        self
    }

    /// With a debug printer.
    pub const fn with_debug(
        mut self,
        f: fn(&Value, &mut fmt::Formatter<'_>) -> fmt::Result,
    ) -> Self {
        self.debug = Some(f);
        self
    }
}

inventory::collect!(TypeEntry);

struct Registry {
    by_type: HashMap<TypeId, &'static TypeEntry>,
    by_tag: HashMap<&'static str, &'static TypeEntry>,
}

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        let mut by_type = HashMap::new();
        let mut by_tag = HashMap::new();
        for e in inventory::iter::<TypeEntry> {
            by_type.insert((e.type_id)(), e);
            by_tag.insert((e.tag)(), e);
        }
        Registry { by_type, by_tag }
    })
}

/// The registered entry for the type inside `value`, if any.
pub fn entry_for(value: &Value) -> Option<&'static TypeEntry> {
    registry().by_type.get(&value.inner_type_id()).copied()
}

/// Encode `value` as `(tag, bytes)`; a clear error if its type is not registered.
pub fn encode(value: &Value) -> Result<(&'static str, Vec<u8>), CodecError> {
    if let Some(list) = value.as_list() {
        let mut parts = Vec::with_capacity(list.len());
        for item in list {
            let (tag, bytes) = encode(item)?;
            parts.push((tag.to_string(), bytes));
        }
        let bytes = rmp_serde::to_vec(&parts).map_err(|e| CodecError::Encode {
            type_name: value.type_name(),
            message: e.to_string(),
        })?;
        return Ok((LIST_TAG, bytes));
    }
    if let Ok(o) = value.downcast_ref::<crate::opaque::Opaque>() {
        // Back out exactly as it came in.
        return Ok((crate::opaque::intern(&o.tag), o.bytes.clone()));
    }
    let e = entry_for(value).ok_or(CodecError::Unregistered {
        type_name: value.type_name(),
    })?;
    Ok(((e.tag)(), (e.encode)(value)?))
}

/// Whether `value` can be encoded: a registered type, an [`crate::opaque::Opaque`], or a
/// list of those.
pub fn is_encodable(value: &Value) -> Result<(), CodecError> {
    if let Some(items) = value.as_list() {
        return items.iter().try_for_each(is_encodable);
    }
    if value.is::<crate::opaque::Opaque>() || entry_for(value).is_some() {
        Ok(())
    } else {
        Err(CodecError::Unregistered {
            type_name: value.type_name(),
        })
    }
}

const LIST_TAG: &str = "list";

/// Decode bytes made by [`encode`] for `tag`.
pub fn decode(tag: &str, bytes: &[u8]) -> Result<Value, CodecError> {
    decode_with(tag, bytes, false)
}

/// Like [`decode`], but a tag this program does not know becomes an
/// [`crate::opaque::Opaque`] holding the bytes (for workers that pass on values of a user's
/// program they were not built with), also inside lists.
pub fn decode_or_opaque(tag: &str, bytes: &[u8]) -> Result<Value, CodecError> {
    decode_with(tag, bytes, true)
}

fn decode_with(tag: &str, bytes: &[u8], opaque: bool) -> Result<Value, CodecError> {
    if tag == LIST_TAG {
        let parts: Vec<(String, Vec<u8>)> =
            rmp_serde::from_slice(bytes).map_err(|e| CodecError::Decode {
                tag: tag.to_string(),
                message: e.to_string(),
            })?;
        let items = parts
            .iter()
            .map(|(t, b)| decode_with(t, b, opaque))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Value::list(items));
    }
    match registry().by_tag.get(tag) {
        Some(e) => (e.decode)(bytes),
        None if opaque => Ok(Value::new(crate::opaque::Opaque {
            tag: tag.to_string(),
            bytes: bytes.to_vec(),
        })),
        None => Err(CodecError::UnknownTag {
            tag: tag.to_string(),
        }),
    }
}

pub(crate) fn nbytes(value: &Value) -> Option<usize> {
    if let Some(list) = value.as_list() {
        return Some(list.iter().map(Value::nbytes).sum());
    }
    if let Ok(o) = value.downcast_ref::<crate::opaque::Opaque>() {
        return Some(o.bytes.len());
    }
    let e = entry_for(value)?;
    Some(match e.nbytes {
        Some(f) => f(value),
        None => std::mem::size_of_val(value.as_any()),
    })
}

pub(crate) fn debug(value: &Value, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
    let e = entry_for(value)?;
    e.debug.map(|d| d(value, f))
}

/// Encode any serde type with MessagePack (the encoding behind `data!(T, serde)`).
pub fn serde_encode<T: serde::Serialize + 'static>(value: &Value) -> Result<Vec<u8>, CodecError> {
    let v = value.downcast_ref::<T>().map_err(|m| CodecError::Encode {
        type_name: m.found,
        message: m.to_string(),
    })?;
    rmp_serde::to_vec(v).map_err(|e| CodecError::Encode {
        type_name: value.type_name(),
        message: e.to_string(),
    })
}

/// Decode any serde type encoded by [`serde_encode`].
pub fn serde_decode<T>(bytes: &[u8]) -> Result<Value, CodecError>
where
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    rmp_serde::from_slice::<T>(bytes)
        .map(Value::new)
        .map_err(|e| CodecError::Decode {
            tag: std::any::type_name::<T>().to_string(),
            message: e.to_string(),
        })
}

/// Print a registered `Debug` type.
pub fn debug_as<T: fmt::Debug + 'static>(value: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match value.downcast_ref::<T>() {
        Ok(v) => fmt::Debug::fmt(v, f),
        Err(_) => write!(f, "<{}>", value.type_name()),
    }
}

/// Register a serde type (`Serialize + DeserializeOwned + Send + Sync + 'static`) so that its
/// values can cross a process boundary. `data!(T, serde)` calls this for you.
#[macro_export]
macro_rules! register_serde_type {
    ($t:ty) => {
        $crate::__private::inventory::submit! {
            $crate::codec::TypeEntry::new(
                ::std::any::type_name::<$t>,
                || ::std::any::TypeId::of::<$t>(),
                $crate::codec::serde_encode::<$t>,
                $crate::codec::serde_decode::<$t>,
            )
        }
    };
    ($t:ty, debug) => {
        $crate::__private::inventory::submit! {
            $crate::codec::TypeEntry::new(
                ::std::any::type_name::<$t>,
                || ::std::any::TypeId::of::<$t>(),
                $crate::codec::serde_encode::<$t>,
                $crate::codec::serde_decode::<$t>,
            )
            .with_debug($crate::codec::debug_as::<$t>)
        }
    };
}

/// The heap bytes of a `Vec<T>` value (additive: makes [`Value::nbytes`] count the elements
/// of built-in vectors, which data locality and worker memory limits rely on).
pub fn vec_nbytes<T: 'static>(value: &Value) -> usize {
    if let Ok(v) = value.downcast_ref::<Vec<String>>() {
        return v
            .iter()
            .map(|s| s.len() + std::mem::size_of::<String>())
            .sum();
    }
    value
        .downcast_ref::<Vec<T>>()
        .map_or(0, |v| v.len() * std::mem::size_of::<T>())
}

fn string_nbytes(value: &Value) -> usize {
    value.downcast_ref::<String>().map_or(0, String::len)
}

macro_rules! builtin {
    ($($t:ty),+) => {$(
        register_serde_type!($t, debug);
        inventory::submit! {
            TypeEntry::new(
                ::std::any::type_name::<Vec<$t>>,
                || ::std::any::TypeId::of::<Vec<$t>>(),
                serde_encode::<Vec<$t>>,
                serde_decode::<Vec<$t>>,
            )
            .with_debug(debug_as::<Vec<$t>>)
            .with_nbytes(vec_nbytes::<$t>)
        }
        register_serde_type!(Option<$t>, debug);
    )+};
}
builtin!(
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    bool,
    char,
    ()
);
register_serde_type!(Option<String>, debug);
inventory::submit! {
    TypeEntry::new(
        ::std::any::type_name::<String>,
        ::std::any::TypeId::of::<String>,
        serde_encode::<String>,
        serde_decode::<String>,
    )
    .with_debug(debug_as::<String>)
    .with_nbytes(string_nbytes)
}
inventory::submit! {
    TypeEntry::new(
        ::std::any::type_name::<Vec<String>>,
        ::std::any::TypeId::of::<Vec<String>>,
        serde_encode::<Vec<String>>,
        serde_decode::<Vec<String>>,
    )
    .with_debug(debug_as::<Vec<String>>)
    .with_nbytes(vec_nbytes::<String>)
}
register_serde_type!((i64, i64), debug);
register_serde_type!((f64, f64), debug);
register_serde_type!((String, i64), debug);
register_serde_type!(Vec<(String, i64)>, debug);
register_serde_type!(Vec<Vec<f64>>, debug);
register_serde_type!(Vec<Vec<i64>>, debug);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_builtins_and_lists() {
        for v in [
            Value::from(13i64),
            Value::from("hello"),
            Value::new(vec![1.5f64, 2.5]),
            Value::list(vec![Value::from(1i32), Value::from(true)]),
        ] {
            let (tag, bytes) = encode(&v).unwrap();
            let back = decode(tag, &bytes).unwrap();
            assert_eq!(format!("{v:?}"), format!("{back:?}"));
            assert_eq!(v.type_name(), back.type_name());
        }
    }

    #[test]
    fn unregistered_types_are_named() {
        struct Opaque;
        let err = encode(&Value::new(Opaque)).unwrap_err();
        assert!(err.to_string().contains("Opaque"), "{err}");
        assert!(err.to_string().contains("data!"), "{err}");
        let err = decode("no-such-type", b"").unwrap_err();
        assert!(err.to_string().contains("no-such-type"), "{err}");
    }

    #[test]
    fn vectors_count_their_elements() {
        assert_eq!(Value::new(vec![0u8; 1000]).nbytes(), 1000);
        assert_eq!(Value::new(vec![0f64; 10]).nbytes(), 80);
        assert_eq!(Value::from("abc").nbytes(), 3);
    }

    #[test]
    fn garbage_bytes_are_an_error() {
        assert!(decode("i64", &[0xc1, 0xff, 0x00]).is_err());
    }
}
