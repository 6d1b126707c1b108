//! [`Scalar`]: one lazy value, such as a column's sum or a frame's length.

use std::any::type_name;
use std::marker::PhantomData;
use std::sync::Arc;

use brisk_core::{Collection, Key, Layer, TypeMismatch, Value};
use polars::prelude::{AnyValue, DataType};

use crate::frame::DataFrame;

/// Values a [`Scalar`] can be computed as.
pub trait FromAnyValue: Sized {
    /// Convert, or `None` if the value does not fit.
    fn from_any(v: &AnyValue<'_>) -> Option<Self>;
}

macro_rules! from_any {
    ($($t:ty => $dt:expr),+) => {$(
        impl FromAnyValue for $t {
            fn from_any(v: &AnyValue<'_>) -> Option<Self> {
                if v.is_null() {
                    return None;
                }
                v.strict_cast(&$dt).and_then(|c| c.extract::<$t>())
            }
        }
    )+};
}
from_any!(
    f64 => DataType::Float64,
    f32 => DataType::Float32,
    i64 => DataType::Int64,
    i32 => DataType::Int32,
    u64 => DataType::UInt64,
    u32 => DataType::UInt32,
    usize => DataType::UInt64
);

impl FromAnyValue for bool {
    fn from_any(v: &AnyValue<'_>) -> Option<Self> {
        match v {
            AnyValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromAnyValue for String {
    fn from_any(v: &AnyValue<'_>) -> Option<Self> {
        match v {
            AnyValue::Null => None,
            AnyValue::String(s) => Some(s.to_string()),
            AnyValue::StringOwned(s) => Some(s.to_string()),
            other => Some(other.to_string()),
        }
    }
}

impl FromAnyValue for AnyValue<'static> {
    fn from_any(v: &AnyValue<'_>) -> Option<Self> {
        Some(v.clone().into_static())
    }
}

impl<T: FromAnyValue> FromAnyValue for Option<T> {
    fn from_any(v: &AnyValue<'_>) -> Option<Self> {
        if v.is_null() {
            Some(None)
        } else {
            T::from_any(v).map(Some)
        }
    }
}

/// One lazy value: the first row of one column of a one-partition lazy frame.
///
/// Compute it as `f64`, `i64`, `u64`, `usize`, `bool`, `String`, an `Option` of those (for a
/// value that may be null), or a Polars `AnyValue`.
pub struct Scalar<T> {
    frame: DataFrame,
    column: String,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Scalar<T> {
    fn clone(&self) -> Self {
        Scalar {
            frame: self.frame.clone(),
            column: self.column.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> Scalar<T> {
    pub(crate) fn new(frame: DataFrame, column: &str) -> Self {
        Scalar {
            frame,
            column: column.to_string(),
            _t: PhantomData,
        }
    }

    /// The one-row frame this value is read from.
    pub fn frame(&self) -> &DataFrame {
        &self.frame
    }
}

fn dtype_name(v: &AnyValue<'_>) -> &'static str {
    match v.dtype() {
        DataType::Null => "null",
        DataType::Boolean => "bool",
        DataType::String => "str",
        DataType::Float64 | DataType::Float32 => "float",
        dt if dt.is_integer() => "integer",
        dt if dt.is_temporal() => "temporal",
        _ => "another type",
    }
}

impl<T: FromAnyValue> Collection for Scalar<T> {
    type Output = T;

    fn layers(&self) -> Vec<Arc<Layer>> {
        self.frame.layers()
    }

    fn output_keys(&self) -> Vec<Key> {
        self.frame.output_keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<T, brisk_core::Error> {
        let df = self.frame.finalize(values)?;
        let key = self
            .frame
            .output_keys()
            .into_iter()
            .next()
            .unwrap_or_else(|| Key::from("scalar"));
        let wrong = |found: &'static str| brisk_core::Error::WrongType {
            key: key.clone(),
            mismatch: TypeMismatch {
                expected: type_name::<T>(),
                found,
            },
        };
        let c = df
            .column(&self.column)
            .map_err(|_| wrong("no such column"))?;
        if c.is_empty() {
            return T::from_any(&AnyValue::Null).ok_or_else(|| wrong("null"));
        }
        let v = c.get(0).map_err(|_| wrong("no value"))?;
        T::from_any(&v).ok_or_else(|| wrong(dtype_name(&v)))
    }
}
