//! Values: what a task returns, shared in-process without copying.
//!
//! A [`Value`] is a reference-counted, type-erased box. Cloning it never copies the data. Typed
//! access goes through [`FromValue`] (a clone of the inner data, or a zero-copy `Arc<T>`) and
//! mismatches are a [`TypeMismatch`] that names both types.

use std::any::{Any, TypeId, type_name};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use crate::codec;

/// The data a task returns. Cheap to clone: clones share the same allocation.
///
/// ```
/// use brisk_core::Value;
/// let v = Value::from(13i64);
/// assert_eq!(v.get::<i64>().unwrap(), 13);
/// let err = v.get::<String>().unwrap_err();
/// assert_eq!(err.to_string(), "expected a value of type alloc::string::String, found i64");
/// ```
#[derive(Clone)]
pub struct Value {
    inner: Arc<dyn Any + Send + Sync>,
    type_name: &'static str,
}

/// A typed read of a [`Value`] asked for one type and found another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a value of type {expected}, found {found}")]
pub struct TypeMismatch {
    /// The type that was asked for.
    pub expected: &'static str,
    /// The type the value holds.
    pub found: &'static str,
}

impl Value {
    /// Wrap any thread-safe value.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Value {
            inner: Arc::new(value),
            type_name: type_name::<T>(),
        }
    }

    /// Wrap an already shared value without copying it.
    pub fn from_arc<T: Any + Send + Sync>(value: Arc<T>) -> Self {
        Value {
            inner: value,
            type_name: type_name::<T>(),
        }
    }

    /// A list of values: what a list argument of a task evaluates to.
    pub fn list(items: Vec<Value>) -> Self {
        Value::new(items)
    }

    /// The Rust type name of the data inside.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The `TypeId` of the data inside.
    pub fn inner_type_id(&self) -> TypeId {
        (*self.inner).type_id()
    }

    /// Whether the value holds a `T`.
    pub fn is<T: Any>(&self) -> bool {
        self.inner.is::<T>()
    }

    /// Borrow the data as a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Result<&T, TypeMismatch> {
        self.inner
            .downcast_ref::<T>()
            .ok_or_else(|| self.mismatch::<T>())
    }

    /// Share the data as an `Arc<T>` without copying it.
    pub fn downcast_arc<T: Any + Send + Sync>(&self) -> Result<Arc<T>, TypeMismatch> {
        Arc::clone(&self.inner)
            .downcast::<T>()
            .map_err(|_| self.mismatch::<T>())
    }

    /// The items of a list value, if this is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        self.inner.downcast_ref::<Vec<Value>>().map(Vec::as_slice)
    }

    /// Read the value as a `T` (see [`FromValue`]).
    pub fn get<T: FromValue>(&self) -> Result<T, TypeMismatch> {
        T::from_value(self)
    }

    /// Whether two values share one allocation.
    pub fn ptr_eq(&self, other: &Value) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// An estimate of the bytes this value holds, used for data-locality decisions and
    /// memory reports. Exact for registered types, `size_of` of the top level otherwise.
    pub fn nbytes(&self) -> usize {
        codec::nbytes(self).unwrap_or_else(|| std::mem::size_of_val(&*self.inner))
    }

    /// The inner data as `&dyn Any`.
    pub fn as_any(&self) -> &(dyn Any + Send + Sync) {
        &*self.inner
    }

    pub(crate) fn mismatch<T: Any>(&self) -> TypeMismatch {
        TypeMismatch {
            expected: type_name::<T>(),
            found: self.type_name,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(list) = self.as_list() {
            return f.debug_list().entries(list).finish();
        }
        match codec::debug(self, f) {
            Some(result) => result,
            None => write!(f, "<{}>", self.type_name),
        }
    }
}

/// Typed reads of a [`Value`]: implemented for the standard types, for `Arc<T>` (zero-copy, any
/// `T`), for [`Value`] itself, and for your own types with [`crate::data!`].
///
/// Numbers widen when no information is lost: an `i32` value reads as an `i64` or an `f64`.
pub trait FromValue: Sized {
    /// Read `value` as `Self`.
    fn from_value(value: &Value) -> Result<Self, TypeMismatch>;
}

/// Conversion of data into a [`Value`]; implemented for the same types as [`FromValue`].
pub trait IntoValue {
    /// Wrap `self` as a value.
    fn into_value(self) -> Value;
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
        Ok(value.clone())
    }
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

impl<T: Any + Send + Sync> FromValue for Arc<T> {
    fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
        value.downcast_arc::<T>()
    }
}

impl<T: Any + Send + Sync> IntoValue for Arc<T> {
    fn into_value(self) -> Value {
        Value::from_arc(self)
    }
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Self {
        Value::new(s.to_string())
    }
}

impl IntoValue for &str {
    fn into_value(self) -> Value {
        Value::new(self.to_string())
    }
}

/// Read a clone of a `T` stored exactly as a `T`.
pub fn clone_exact<T: Any + Clone>(value: &Value) -> Result<T, TypeMismatch> {
    value.downcast_ref::<T>().cloned()
}

/// Implements [`FromValue`] and [`IntoValue`] for your own `Clone + Send + Sync` types, so that
/// they can be task arguments and results. Add `serde` to make them able to cross a process
/// boundary (the type must implement `serde::Serialize` and `serde::Deserialize`).
///
/// ```
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Point { x: f64, y: f64 }
/// brisk_core::data!(Point, serde);
///
/// let v = brisk_core::IntoValue::into_value(Point { x: 1.0, y: 2.0 });
/// assert_eq!(v.get::<Point>().unwrap().y, 2.0);
/// ```
#[macro_export]
macro_rules! data {
    ($t:ty, serde) => {
        $crate::data!($t);
        $crate::register_serde_type!($t);
    };
    ($($t:ty),+ $(,)?) => {
        $(
            impl $crate::FromValue for $t {
                fn from_value(value: &$crate::Value) -> ::std::result::Result<Self, $crate::TypeMismatch> {
                    $crate::value::clone_exact::<$t>(value)
                }
            }
            impl $crate::IntoValue for $t {
                fn into_value(self) -> $crate::Value {
                    $crate::Value::new(self)
                }
            }
            impl ::std::convert::From<$t> for $crate::Value {
                fn from(v: $t) -> Self {
                    $crate::Value::new(v)
                }
            }
        )+
    };
}

// Numbers: exact reads first, then lossless widening from other numeric types.
macro_rules! numeric {
    ($($t:ty),+) => {
        $(
            impl FromValue for $t {
                fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
                    if let Some(v) = value.as_any().downcast_ref::<$t>() {
                        return Ok(*v);
                    }
                    crate::numeric::widen::<$t>(value).ok_or_else(|| value.mismatch::<$t>())
                }
            }
            impl IntoValue for $t {
                fn into_value(self) -> Value {
                    Value::new(self)
                }
            }
            impl From<$t> for Value {
                fn from(v: $t) -> Self {
                    Value::new(v)
                }
            }
        )+
    };
}
numeric!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

macro_rules! plain {
    ($($t:ty),+) => {
        $(
            impl FromValue for $t {
                fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
                    clone_exact::<$t>(value)
                }
            }
            impl IntoValue for $t {
                fn into_value(self) -> Value {
                    Value::new(self)
                }
            }
            impl From<$t> for Value {
                fn from(v: $t) -> Self {
                    Value::new(v)
                }
            }
        )+
    };
}
plain!(bool, char, String, ());

impl<T: FromValue + Any + Clone + Send + Sync> FromValue for Vec<T> {
    fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
        if let Some(v) = value.as_any().downcast_ref::<Vec<T>>() {
            return Ok(v.clone());
        }
        if let Some(list) = value.as_list() {
            return list
                .iter()
                .map(T::from_value)
                .collect::<Result<Vec<T>, _>>()
                .map_err(|_| value.mismatch::<Vec<T>>());
        }
        Err(value.mismatch::<Vec<T>>())
    }
}

impl<T: Any + Send + Sync> IntoValue for Vec<T> {
    fn into_value(self) -> Value {
        Value::new(self)
    }
}

impl<T: Any + Clone + Send + Sync> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
        clone_exact::<Option<T>>(value)
    }
}

impl<T: Any + Send + Sync> IntoValue for Option<T> {
    fn into_value(self) -> Value {
        Value::new(self)
    }
}

impl<K, V> FromValue for HashMap<K, V>
where
    K: Any + Clone + Send + Sync + Eq + Hash,
    V: Any + Clone + Send + Sync,
{
    fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
        clone_exact::<HashMap<K, V>>(value)
    }
}

impl<K: Any + Send + Sync, V: Any + Send + Sync> IntoValue for HashMap<K, V> {
    fn into_value(self) -> Value {
        Value::new(self)
    }
}

impl<K, V> FromValue for BTreeMap<K, V>
where
    K: Any + Clone + Send + Sync + Ord,
    V: Any + Clone + Send + Sync,
{
    fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
        clone_exact::<BTreeMap<K, V>>(value)
    }
}

impl<K: Any + Send + Sync, V: Any + Send + Sync> IntoValue for BTreeMap<K, V> {
    fn into_value(self) -> Value {
        Value::new(self)
    }
}

macro_rules! tuple {
    ($($t:ident),+; $n:expr) => {
        impl<$($t: FromValue + Any + Clone + Send + Sync),+> FromValue for ($($t,)+) {
            #[allow(non_snake_case)]
            fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
                if let Some(v) = value.as_any().downcast_ref::<($($t,)+)>() {
                    return Ok(v.clone());
                }
                match value.as_list() {
                    Some(list) if list.len() == $n => {
                        let mut it = list.iter();
                        let bad = || value.mismatch::<($($t,)+)>();
                        $(let $t = $t::from_value(it.next().ok_or_else(bad)?).map_err(|_| bad())?;)+
                        Ok(($($t,)+))
                    }
                    _ => Err(value.mismatch::<($($t,)+)>()),
                }
            }
        }
        impl<$($t: Any + Send + Sync),+> IntoValue for ($($t,)+) {
            fn into_value(self) -> Value {
                Value::new(self)
            }
        }
    };
}
tuple!(A; 1);
tuple!(A, B; 2);
tuple!(A, B, C; 3);
tuple!(A, B, C, D; 4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_data() {
        let v = Value::new(vec![1u8; 1000]);
        let w = v.clone();
        assert!(v.ptr_eq(&w));
        let a: Arc<Vec<u8>> = w.get().unwrap();
        assert_eq!(a.len(), 1000);
    }

    #[test]
    fn numeric_widening_is_lossless_only() {
        let v = Value::from(7i32);
        assert_eq!(v.get::<i64>().unwrap(), 7);
        assert_eq!(v.get::<f64>().unwrap(), 7.0);
        assert_eq!(v.get::<u8>().unwrap(), 7);
        assert!(Value::from(-1i32).get::<u64>().is_err());
        assert!(Value::from(300i64).get::<u8>().is_err());
        assert!(Value::from(1.5f64).get::<i64>().is_err());
        assert!(Value::from(1.5f64).get::<f32>().is_err());
        assert_eq!(Value::from(1.5f32).get::<f64>().unwrap(), 1.5);
        assert!(Value::from(i64::MAX).get::<f64>().is_err());
        assert!(Value::from(true).get::<i64>().is_err());
    }

    #[test]
    fn lists_read_as_vectors_and_tuples() {
        let l = Value::list(vec![Value::from(1i64), Value::from(2i32)]);
        assert_eq!(l.get::<Vec<i64>>().unwrap(), vec![1, 2]);
        assert_eq!(l.get::<(i64, i64)>().unwrap(), (1, 2));
        assert!(l.get::<(i64, i64, i64)>().is_err());
        let err = l.get::<Vec<String>>().unwrap_err();
        assert_eq!(err.found, "alloc::vec::Vec<brisk_core::value::Value>");
        assert_eq!(format!("{l:?}"), "[1, 2]");
    }

    #[test]
    fn mismatch_names_both_types() {
        let err = Value::from("hi").get::<i64>().unwrap_err();
        assert_eq!(err.expected, "i64");
        assert_eq!(err.found, "alloc::string::String");
    }
}
