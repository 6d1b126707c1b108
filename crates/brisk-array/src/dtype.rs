//! Element types: the runtime [`DType`] tag, the typed [`Element`] trait behind `Array<T>`,
//! dynamically typed arrays ([`AnyArray`]) and scalars ([`ScalarValue`]).

use std::fmt;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

/// The element type of an array, known at run time (what Dask calls `dtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DType {
    /// `bool`
    Bool,
    /// `u8`
    U8,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
}

impl DType {
    /// Every supported type.
    pub const ALL: [DType; 7] = [
        DType::Bool,
        DType::U8,
        DType::I32,
        DType::I64,
        DType::U64,
        DType::F32,
        DType::F64,
    ];

    /// The Rust name (`"f64"`).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U64 => "u64",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// The numpy name (`"float64"`).
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U64 => "uint64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The numpy type string of a little-endian `.npy` header (`"<f8"`).
    pub fn npy_descr(self) -> &'static str {
        match self {
            DType::Bool => "|b1",
            DType::U8 => "|u1",
            DType::I32 => "<i4",
            DType::I64 => "<i8",
            DType::U64 => "<u8",
            DType::F32 => "<f4",
            DType::F64 => "<f8",
        }
    }

    /// The type for a numpy type string (`"<f8"`, `"|u1"`, `"int64"`, `"float32"`…).
    pub fn from_npy_descr(descr: &str) -> Option<DType> {
        DType::ALL
            .into_iter()
            .find(|d| d.npy_descr() == descr || d.numpy_name() == descr || d.name() == descr)
            .or(match descr {
                "<b1" | "b1" | "?" | "|?" => Some(DType::Bool),
                "u1" | "<u1" => Some(DType::U8),
                _ => None,
            })
    }

    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            DType::Bool | DType::U8 => 1,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    /// A one-byte code for binary headers.
    pub fn code(self) -> u8 {
        match self {
            DType::Bool => 0,
            DType::U8 => 1,
            DType::I32 => 2,
            DType::I64 => 3,
            DType::U64 => 4,
            DType::F32 => 5,
            DType::F64 => 6,
        }
    }

    /// The type of a one-byte code.
    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.get(usize::from(code)).copied()
    }

    /// One, as a scalar of this type.
    pub fn one(self) -> ScalarValue {
        match self {
            DType::Bool => ScalarValue::Bool(true),
            DType::U8 => ScalarValue::U8(1),
            DType::I32 => ScalarValue::I32(1),
            DType::I64 => ScalarValue::I64(1),
            DType::U64 => ScalarValue::U64(1),
            DType::F32 => ScalarValue::F32(1.0),
            DType::F64 => ScalarValue::F64(1.0),
        }
    }

    /// Whether this is `f32` or `f64`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A single number of any supported type (fill values, constants in expressions).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ScalarValue {
    Bool(bool),
    U8(u8),
    I32(i32),
    I64(i64),
    U64(u64),
    F32(f32),
    F64(f64),
}

impl ScalarValue {
    /// Its type.
    pub fn dtype(&self) -> DType {
        match self {
            ScalarValue::Bool(_) => DType::Bool,
            ScalarValue::U8(_) => DType::U8,
            ScalarValue::I32(_) => DType::I32,
            ScalarValue::I64(_) => DType::I64,
            ScalarValue::U64(_) => DType::U64,
            ScalarValue::F32(_) => DType::F32,
            ScalarValue::F64(_) => DType::F64,
        }
    }
}

/// An n-dimensional array of any supported type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum AnyArray {
    Bool(ArrayD<bool>),
    U8(ArrayD<u8>),
    I32(ArrayD<i32>),
    I64(ArrayD<i64>),
    U64(ArrayD<u64>),
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
}

macro_rules! any_array_map {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            AnyArray::Bool($a) => $e,
            AnyArray::U8($a) => $e,
            AnyArray::I32($a) => $e,
            AnyArray::I64($a) => $e,
            AnyArray::U64($a) => $e,
            AnyArray::F32($a) => $e,
            AnyArray::F64($a) => $e,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use any_array_map;

impl AnyArray {
    /// Its element type.
    pub fn dtype(&self) -> DType {
        match self {
            AnyArray::Bool(_) => DType::Bool,
            AnyArray::U8(_) => DType::U8,
            AnyArray::I32(_) => DType::I32,
            AnyArray::I64(_) => DType::I64,
            AnyArray::U64(_) => DType::U64,
            AnyArray::F32(_) => DType::F32,
            AnyArray::F64(_) => DType::F64,
        }
    }

    /// Its shape.
    pub fn shape(&self) -> &[usize] {
        any_array_map!(self, a => a.shape())
    }

    /// The typed array, when it holds `T`.
    pub fn as_typed<T: Element>(&self) -> Option<&ArrayD<T>> {
        T::any_ref(self)
    }

    /// The typed array, when it holds `T`.
    pub fn into_typed<T: Element>(self) -> Result<ArrayD<T>, AnyArray> {
        T::from_any(self)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The element types an `Array<T>` can hold: `bool`, `u8`, `i32`, `i64`, `u64`, `f32`, `f64`.
pub trait Element:
    Copy
    + Send
    + Sync
    + Default
    + PartialEq
    + PartialOrd
    + fmt::Debug
    + fmt::Display
    + 'static
    + sealed::Sealed
{
    /// The runtime tag.
    const DTYPE: DType;
    /// What `sum`, `prod` and `cumsum` return (numpy's rules: small integers widen).
    type Sum: Element;
    /// What `mean`, `var` and `std` return.
    type Mean: Element;
    /// As a dynamically typed scalar.
    fn to_scalar(self) -> ScalarValue;
    /// From a dynamically typed scalar of exactly this type.
    fn from_scalar(s: ScalarValue) -> Option<Self>;
    /// Wrap an array.
    fn into_any(a: ArrayD<Self>) -> AnyArray;
    /// Borrow the typed array inside.
    fn any_ref(a: &AnyArray) -> Option<&ArrayD<Self>>;
    /// Take the typed array out.
    fn from_any(a: AnyArray) -> Result<ArrayD<Self>, AnyArray>;
    /// Append the little-endian bytes of `xs`.
    fn write_le(xs: &[Self], out: &mut Vec<u8>);
    /// Read little-endian bytes (`bytes.len()` must be a multiple of the item size; `None`
    /// for a `bool` byte other than 0 or 1).
    fn read_le(bytes: &[u8]) -> Option<Vec<Self>>;
}

macro_rules! element {
    ($t:ty, $variant:ident, $sum:ty, $mean:ty, $kind:ident) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            type Sum = $sum;
            type Mean = $mean;
            fn to_scalar(self) -> ScalarValue {
                ScalarValue::$variant(self)
            }
            fn from_scalar(s: ScalarValue) -> Option<Self> {
                match s {
                    ScalarValue::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn into_any(a: ArrayD<Self>) -> AnyArray {
                AnyArray::$variant(a)
            }
            fn any_ref(a: &AnyArray) -> Option<&ArrayD<Self>> {
                match a {
                    AnyArray::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn from_any(a: AnyArray) -> Result<ArrayD<Self>, AnyArray> {
                match a {
                    AnyArray::$variant(x) => Ok(x),
                    other => Err(other),
                }
            }
            fn write_le(xs: &[Self], out: &mut Vec<u8>) {
                out.reserve(xs.len() * std::mem::size_of::<$t>());
                for x in xs {
                    out.extend_from_slice(&element!(@to_le $kind x));
                }
            }
            fn read_le(bytes: &[u8]) -> Option<Vec<Self>> {
                const N: usize = std::mem::size_of::<$t>();
                let mut v = Vec::with_capacity(bytes.len() / N);
                for c in bytes.chunks_exact(N) {
                    v.push(element!(@from_le $kind c, $t)?);
                }
                Some(v)
            }
        }
    };
    (@to_le boolean $x:ident) => { [u8::from(*$x)] };
    (@to_le number $x:ident) => { $x.to_le_bytes() };
    (@from_le boolean $c:ident, $t:ty) => {
        match $c[0] { 0 => Some(false), 1 => Some(true), _ => None }
    };
    (@from_le number $c:ident, $t:ty) => {
        Some(<$t>::from_le_bytes($c.try_into().ok()?))
    };
}
element!(bool, Bool, i64, f64, boolean);
element!(u8, U8, u64, f64, number);
element!(i32, I32, i64, f64, number);
element!(i64, I64, i64, f64, number);
element!(u64, U64, u64, f64, number);
element!(f32, F32, f32, f32, number);
element!(f64, F64, f64, f64, number);

/// Numbers: every element type but `bool`. Arithmetic works on these.
pub trait Number: Element {}
impl Number for u8 {}
impl Number for i32 {}
impl Number for i64 {}
impl Number for u64 {}
impl Number for f32 {}
impl Number for f64 {}

/// Types with a sign: negation and `abs` work on these.
pub trait Signed: Number {}
impl Signed for i32 {}
impl Signed for i64 {}
impl Signed for f32 {}
impl Signed for f64 {}

/// `f32` and `f64`: the math functions (`sqrt`, `exp`, …) work on these.
pub trait Float: Signed {}
impl Float for f32 {}
impl Float for f64 {}

/// Integers and `bool`: the bitwise operators work on these.
pub trait Bits: Element {}
impl Bits for bool {}
impl Bits for u8 {}
impl Bits for i32 {}
impl Bits for i64 {}
impl Bits for u64 {}

/// Run `$body` with `$T` bound to the Rust type of a [`DType`].
macro_rules! with_dtype {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::dtype::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::dtype::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::dtype::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::dtype::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::dtype::DType::U64 => {
                type $T = u64;
                $body
            }
            $crate::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}
pub(crate) use with_dtype;
