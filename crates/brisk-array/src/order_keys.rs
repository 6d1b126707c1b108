//! Numbers seen the way ordering and quantile kernels need them: [`OrderKey`], an
//! order-preserving map to `u64` (so lanes sort as integers, NaN last as in numpy), and
//! [`Lossy`], the conversion to `f64` numpy's quantiles make.

/// An order-preserving map to `u64` (numpy's order: NaN after everything, one NaN value).
pub(crate) trait OrderKey: Sized {
    fn order_key(self) -> u64;
    fn from_order_key(k: u64) -> Self;
}
macro_rules! order_unsigned {
    ($($t:ty),+) => {$(
        impl OrderKey for $t {
            fn order_key(self) -> u64 {
                u64::from(self)
            }
            fn from_order_key(k: u64) -> Self {
                k as $t
            }
        }
    )+};
}
order_unsigned!(u8, u64);
macro_rules! order_signed {
    ($($t:ty),+) => {$(
        impl OrderKey for $t {
            fn order_key(self) -> u64 {
                (i64::from(self) as u64) ^ (1 << 63)
            }
            fn from_order_key(k: u64) -> Self {
                (k ^ (1 << 63)) as i64 as $t
            }
        }
    )+};
}
order_signed!(i32, i64);
macro_rules! order_float {
    ($($t:ty),+) => {$(
        impl OrderKey for $t {
            fn order_key(self) -> u64 {
                if self.is_nan() {
                    return u64::MAX;
                }
                let b = f64::from(self).to_bits();
                if b >> 63 == 1 { !b } else { b | (1 << 63) }
            }
            fn from_order_key(k: u64) -> Self {
                if k == u64::MAX {
                    return <$t>::NAN;
                }
                let b = if k >> 63 == 1 { k & !(1 << 63) } else { !k };
                f64::from_bits(b) as $t
            }
        }
    )+};
}
order_float!(f32, f64);

/// A number converted to `f64` as numpy's quantiles do (rounding the widest integers).
pub(crate) struct Lossy<T>(pub T);
macro_rules! lossy {
    ($($t:ty),+) => {$(
        impl From<Lossy<$t>> for f64 {
            #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
            fn from(v: Lossy<$t>) -> f64 {
                v.0 as f64
            }
        }
    )+};
}
lossy!(u8, i32, i64, u64, f32, f64);
