//! Lossless numeric widening for typed reads: a literal `1` (an `i32`) reads as `i64` or `f64`.

use crate::Value;

/// A number that can be built from another number when no information is lost.
pub(crate) trait Widen: Sized {
    fn from_int(i: i128) -> Option<Self>;
    fn from_float(f: f64, from_f32: bool) -> Option<Self>;
}

macro_rules! widen_int {
    ($($t:ty),+) => {$(
        impl Widen for $t {
            fn from_int(i: i128) -> Option<Self> {
                <$t>::try_from(i).ok()
            }
            fn from_float(_: f64, _: bool) -> Option<Self> {
                None
            }
        }
    )+};
}
widen_int!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl Widen for f64 {
    fn from_int(i: i128) -> Option<Self> {
        let f = i as f64;
        (f as i128 == i && f.abs() < 2f64.powi(63)).then_some(f)
    }
    fn from_float(f: f64, _: bool) -> Option<Self> {
        Some(f)
    }
}

impl Widen for f32 {
    fn from_int(i: i128) -> Option<Self> {
        let f = i as f32;
        (f as i128 == i && f.abs() < 2f32.powi(31)).then_some(f)
    }
    fn from_float(f: f64, from_f32: bool) -> Option<Self> {
        from_f32.then_some(f as f32)
    }
}

/// The number in `value` as `T`, when `value` holds another numeric type and the conversion
/// loses nothing.
pub(crate) fn widen<T: Widen>(value: &Value) -> Option<T> {
    let any = value.as_any();
    macro_rules! try_int {
        ($($s:ty),+) => {$(
            if let Some(v) = any.downcast_ref::<$s>() {
                return i128::try_from(*v).ok().and_then(T::from_int);
            }
        )+};
    }
    try_int!(
        i64, i32, u64, usize, u32, i16, u16, i8, u8, isize, i128, u128
    );
    if let Some(v) = any.downcast_ref::<f64>() {
        return T::from_float(*v, false);
    }
    if let Some(v) = any.downcast_ref::<f32>() {
        return T::from_float(f64::from(*v), true);
    }
    None
}
