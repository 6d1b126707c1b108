//! How chunks cross a process boundary: a small header (magic, dtype, shape) and the raw
//! little-endian bytes in C order — close to `memcpy` speed. Every `ArrayD<T>` of a supported
//! element type is registered with `brisk_core::codec`.

use std::any::{TypeId, type_name};
use std::fmt;

use brisk_core::codec::TypeEntry;
use brisk_core::{CodecError, Value};
use ndarray::{ArrayD, IxDyn};

use crate::dtype::{DType, Element};

const MAGIC: &[u8; 4] = b"BRA1";

/// Encode a chunk: `BRA1`, dtype code, ndim, shape (u64 LE each), data (LE, C order).
pub fn encode_array<T: Element>(a: &ArrayD<T>) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + 8 * a.ndim() + a.len() * T::DTYPE.itemsize());
    out.extend_from_slice(MAGIC);
    out.push(T::DTYPE.code());
    out.push(a.ndim() as u8);
    for &d in a.shape() {
        out.extend_from_slice(&(d as u64).to_le_bytes());
    }
    match a.as_slice() {
        Some(s) => T::write_le(s, &mut out),
        None => {
            let v: Vec<T> = a.iter().copied().collect();
            T::write_le(&v, &mut out);
        }
    }
    out
}

/// Decode bytes made by [`encode_array`].
pub fn decode_array<T: Element>(bytes: &[u8]) -> Result<ArrayD<T>, String> {
    if bytes.len() < 6 || &bytes[..4] != MAGIC {
        return Err("not a brisk array chunk (bad magic)".into());
    }
    let dt = DType::from_code(bytes[4]).ok_or("unknown dtype code")?;
    if dt != T::DTYPE {
        return Err(format!("chunk holds {dt}, expected {}", T::DTYPE));
    }
    let ndim = usize::from(bytes[5]);
    let head = 6 + 8 * ndim;
    if bytes.len() < head {
        return Err("truncated shape".into());
    }
    let mut shape = Vec::with_capacity(ndim);
    for i in 0..ndim {
        let s = 6 + 8 * i;
        let d = u64::from_le_bytes(bytes[s..s + 8].try_into().map_err(|_| "truncated shape")?);
        shape.push(usize::try_from(d).map_err(|_| "dimension too large")?);
    }
    let n = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or("shape too large")?;
    let data = &bytes[head..];
    if Some(data.len()) != n.checked_mul(dt.itemsize()) {
        return Err(format!(
            "{} data bytes for {n} elements of {dt}",
            data.len()
        ));
    }
    let v = T::read_le(data).ok_or("invalid bool byte")?;
    ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(|e| e.to_string())
}

fn encode<T: Element>(v: &Value) -> Result<Vec<u8>, CodecError> {
    let a = v
        .downcast_ref::<ArrayD<T>>()
        .map_err(|m| CodecError::Encode {
            type_name: m.found,
            message: m.to_string(),
        })?;
    Ok(encode_array(a))
}

fn decode<T: Element>(bytes: &[u8]) -> Result<Value, CodecError> {
    decode_array::<T>(bytes)
        .map(Value::new)
        .map_err(|message| CodecError::Decode {
            tag: tag::<T>().to_string(),
            message,
        })
}

fn nbytes<T: Element>(v: &Value) -> usize {
    v.downcast_ref::<ArrayD<T>>()
        .map(|a| a.len() * T::DTYPE.itemsize())
        .unwrap_or(0)
}

fn debug<T: Element>(v: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v.downcast_ref::<ArrayD<T>>() {
        Ok(a) => write!(f, "ArrayD<{}>{:?}", T::DTYPE, a.shape()),
        Err(_) => write!(f, "<{}>", v.type_name()),
    }
}

fn tag<T: Element>() -> &'static str {
    match T::DTYPE {
        DType::Bool => "brisk_array::chunk<bool>",
        DType::U8 => "brisk_array::chunk<u8>",
        DType::I32 => "brisk_array::chunk<i32>",
        DType::I64 => "brisk_array::chunk<i64>",
        DType::U64 => "brisk_array::chunk<u64>",
        DType::F32 => "brisk_array::chunk<f32>",
        DType::F64 => "brisk_array::chunk<f64>",
    }
}

macro_rules! register_chunk {
    ($($t:ty),+) => {$(
        inventory::submit! {
            TypeEntry::new(tag::<$t>, || TypeId::of::<ArrayD<$t>>(), encode::<$t>, decode::<$t>)
                .with_nbytes(nbytes::<$t>)
                .with_debug(debug::<$t>)
        }
    )+};
}
register_chunk!(bool, u8, i32, i64, u64, f32, f64);

#[allow(dead_code)]
fn _name<T>() -> &'static str {
    type_name::<T>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_registry() {
        let a = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] * 10 + i[1]) as f64);
        let v = Value::new(a.clone());
        let (tag, bytes) = brisk_core::codec::encode(&v).unwrap();
        assert_eq!(tag, "brisk_array::chunk<f64>");
        assert_eq!(bytes.len(), 6 + 16 + 96);
        let back = brisk_core::codec::decode(tag, &bytes).unwrap();
        assert_eq!(back.downcast_ref::<ArrayD<f64>>().unwrap(), &a);
        assert_eq!(v.nbytes(), 96);
        // Transposed (non-contiguous) chunks encode in logical order.
        let t = a.t().to_owned();
        let tv = a.t();
        let enc = encode_array(&tv.to_owned());
        assert_eq!(decode_array::<f64>(&enc).unwrap(), t);
        let b = ArrayD::from_shape_vec(IxDyn(&[2]), vec![true, false]).unwrap();
        assert_eq!(decode_array::<bool>(&encode_array(&b)).unwrap(), b);
    }

    #[test]
    fn corrupt_bytes_are_errors() {
        let a = ArrayD::from_elem(IxDyn(&[2, 2]), 1i64);
        let mut bytes = encode_array(&a);
        assert!(
            decode_array::<f64>(&bytes)
                .unwrap_err()
                .contains("holds i64")
        );
        bytes.pop();
        assert!(decode_array::<i64>(&bytes).is_err());
        assert!(decode_array::<i64>(b"nope").is_err());
        let mut b = encode_array(&ArrayD::from_elem(IxDyn(&[1]), true));
        *b.last_mut().unwrap() = 7;
        assert!(decode_array::<bool>(&b).is_err());
    }
}
