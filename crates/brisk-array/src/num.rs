//! Element arithmetic with numpy's semantics, for the kernels: wrapping integer arithmetic,
//! floor division and modulo with the divisor's sign (0 when dividing by zero), NaN-propagating
//! `maximum`/`minimum`, casts like numpy's `astype`.

use crate::dtype::Element;

/// Arithmetic every element type supports inside kernels (`bool` follows numpy's logical
/// meaning where one exists; the typed API never asks `bool` for the rest).
pub(crate) trait Num: Element {
    const ZERO: Self;
    const ONE: Self;
    const IS_FLOAT: bool;
    const IS_UNSIGNED: bool;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn rem(self, o: Self) -> Self;
    fn pow(self, o: Self) -> Self;
    fn maximum(self, o: Self) -> Self;
    fn minimum(self, o: Self) -> Self;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
    fn sign(self) -> Self;
    fn bitand(self, o: Self) -> Self;
    fn bitor(self, o: Self) -> Self;
    fn bitxor(self, o: Self) -> Self;
    fn not(self) -> Self;
    fn is_nan(self) -> bool;
    fn is_inf(self) -> bool;
    fn truthy(self) -> bool;
    fn as_f64(self) -> f64;
    fn as_i64(self) -> i64;
    fn as_u64(self) -> u64;
    fn from_f64(x: f64) -> Self;
    fn from_i64(x: i64) -> Self;
    fn from_u64(x: u64) -> Self;
    /// Widen to the `sum` type.
    fn widen(self) -> Self::Sum;
    /// Convert as numpy's `astype` does.
    #[inline]
    fn cast<U: Num>(self) -> U {
        if Self::IS_FLOAT {
            U::from_f64(self.as_f64())
        } else if Self::IS_UNSIGNED {
            U::from_u64(self.as_u64())
        } else {
            U::from_i64(self.as_i64())
        }
    }
}

macro_rules! int_num {
    ($t:ty, $unsigned:expr) => {
        impl Num for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            const IS_FLOAT: bool = false;
            const IS_UNSIGNED: bool = $unsigned;
            #[inline]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline]
            fn div(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let q = self.wrapping_div(o);
                #[allow(unused_comparisons)]
                if (self.wrapping_rem(o) != 0) && ((self < 0) != (o < 0)) {
                    q.wrapping_sub(1)
                } else {
                    q
                }
            }
            #[inline]
            fn rem(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let r = self.wrapping_rem(o);
                #[allow(unused_comparisons)]
                if r != 0 && ((r < 0) != (o < 0)) {
                    r.wrapping_add(o)
                } else {
                    r
                }
            }
            #[inline]
            fn pow(self, o: Self) -> Self {
                #[allow(unused_comparisons)]
                if o < 0 {
                    return 0;
                }
                self.wrapping_pow(u32::try_from(o).unwrap_or(u32::MAX))
            }
            #[inline]
            fn maximum(self, o: Self) -> Self {
                if o > self { o } else { self }
            }
            #[inline]
            fn minimum(self, o: Self) -> Self {
                if o < self { o } else { self }
            }
            #[inline]
            fn neg(self) -> Self {
                (0 as $t).wrapping_sub(self)
            }
            #[inline]
            fn abs(self) -> Self {
                #[allow(unused_comparisons)]
                if self < 0 { self.neg() } else { self }
            }
            #[inline]
            fn sign(self) -> Self {
                #[allow(unused_comparisons)]
                if self > 0 {
                    1
                } else if self < 0 {
                    (0 as $t).wrapping_sub(1)
                } else {
                    0
                }
            }
            #[inline]
            fn bitand(self, o: Self) -> Self {
                self & o
            }
            #[inline]
            fn bitor(self, o: Self) -> Self {
                self | o
            }
            #[inline]
            fn bitxor(self, o: Self) -> Self {
                self ^ o
            }
            #[inline]
            fn not(self) -> Self {
                !self
            }
            #[inline]
            fn is_nan(self) -> bool {
                false
            }
            #[inline]
            fn is_inf(self) -> bool {
                false
            }
            #[inline]
            fn truthy(self) -> bool {
                self != 0
            }
            #[inline]
            fn as_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn as_i64(self) -> i64 {
                self as i64
            }
            #[inline]
            fn as_u64(self) -> u64 {
                self as u64
            }
            #[inline]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn from_i64(x: i64) -> Self {
                x as $t
            }
            #[inline]
            fn from_u64(x: u64) -> Self {
                x as $t
            }
            #[inline]
            fn widen(self) -> Self::Sum {
                self as Self::Sum
            }
        }
    };
}
int_num!(u8, true);
int_num!(i32, false);
int_num!(i64, false);
int_num!(u64, true);

macro_rules! float_num {
    ($t:ty) => {
        impl Num for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const IS_FLOAT: bool = true;
            const IS_UNSIGNED: bool = false;
            #[inline]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline]
            fn sub(self, o: Self) -> Self {
                self - o
            }
            #[inline]
            fn mul(self, o: Self) -> Self {
                self * o
            }
            #[inline]
            fn div(self, o: Self) -> Self {
                self / o
            }
            #[inline]
            fn rem(self, o: Self) -> Self {
                // numpy's fmod-then-adjust: the result takes the divisor's sign.
                let r = self % o;
                if r != 0.0 && ((r < 0.0) != (o < 0.0)) {
                    r + o
                } else {
                    r
                }
            }
            #[inline]
            fn pow(self, o: Self) -> Self {
                self.powf(o)
            }
            #[inline]
            fn maximum(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else if o > self {
                    o
                } else {
                    self
                }
            }
            #[inline]
            fn minimum(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else if o < self {
                    o
                } else {
                    self
                }
            }
            #[inline]
            fn neg(self) -> Self {
                -self
            }
            #[inline]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline]
            fn sign(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    self
                }
            }
            #[inline]
            fn bitand(self, _o: Self) -> Self {
                <$t>::NAN
            }
            #[inline]
            fn bitor(self, _o: Self) -> Self {
                <$t>::NAN
            }
            #[inline]
            fn bitxor(self, _o: Self) -> Self {
                <$t>::NAN
            }
            #[inline]
            fn not(self) -> Self {
                <$t>::NAN
            }
            #[inline]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline]
            fn is_inf(self) -> bool {
                <$t>::is_infinite(self)
            }
            #[inline]
            fn truthy(self) -> bool {
                self != 0.0
            }
            #[inline]
            fn as_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn as_i64(self) -> i64 {
                self as i64
            }
            #[inline]
            fn as_u64(self) -> u64 {
                self as u64
            }
            #[inline]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn from_i64(x: i64) -> Self {
                x as $t
            }
            #[inline]
            fn from_u64(x: u64) -> Self {
                x as $t
            }
            #[inline]
            fn widen(self) -> Self::Sum {
                self
            }
        }
    };
}
float_num!(f32);
float_num!(f64);

impl Num for bool {
    const ZERO: Self = false;
    const ONE: Self = true;
    const IS_FLOAT: bool = false;
    const IS_UNSIGNED: bool = true;
    fn add(self, o: Self) -> Self {
        self | o
    }
    fn sub(self, o: Self) -> Self {
        self ^ o
    }
    fn mul(self, o: Self) -> Self {
        self & o
    }
    fn div(self, o: Self) -> Self {
        self & o
    }
    fn rem(self, _o: Self) -> Self {
        false
    }
    fn pow(self, o: Self) -> Self {
        self | !o
    }
    fn maximum(self, o: Self) -> Self {
        self | o
    }
    fn minimum(self, o: Self) -> Self {
        self & o
    }
    fn neg(self) -> Self {
        self
    }
    fn abs(self) -> Self {
        self
    }
    fn sign(self) -> Self {
        self
    }
    fn bitand(self, o: Self) -> Self {
        self & o
    }
    fn bitor(self, o: Self) -> Self {
        self | o
    }
    fn bitxor(self, o: Self) -> Self {
        self ^ o
    }
    fn not(self) -> Self {
        !self
    }
    fn is_nan(self) -> bool {
        false
    }
    fn is_inf(self) -> bool {
        false
    }
    fn truthy(self) -> bool {
        self
    }
    fn as_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn as_i64(self) -> i64 {
        i64::from(self)
    }
    fn as_u64(self) -> u64 {
        u64::from(self)
    }
    fn from_f64(x: f64) -> Self {
        x != 0.0
    }
    fn from_i64(x: i64) -> Self {
        x != 0
    }
    fn from_u64(x: u64) -> Self {
        x != 0
    }
    fn widen(self) -> i64 {
        i64::from(self)
    }
}

/// The math functions of `f32` and `f64`.
pub(crate) trait FloatMath: Num {
    fn apply(self, op: crate::expr::UnaryOp) -> Self;
}

macro_rules! float_math {
    ($t:ty) => {
        impl FloatMath for $t {
            #[inline]
            fn apply(self, op: crate::expr::UnaryOp) -> Self {
                use crate::expr::UnaryOp as U;
                match op {
                    U::Sqrt => self.sqrt(),
                    U::Exp => self.exp(),
                    U::Exp2 => self.exp2(),
                    U::Expm1 => self.exp_m1(),
                    U::Log => self.ln(),
                    U::Log2 => self.log2(),
                    U::Log10 => self.log10(),
                    U::Log1p => self.ln_1p(),
                    U::Sin => self.sin(),
                    U::Cos => self.cos(),
                    U::Tan => self.tan(),
                    U::Arcsin => self.asin(),
                    U::Arccos => self.acos(),
                    U::Arctan => self.atan(),
                    U::Sinh => self.sinh(),
                    U::Cosh => self.cosh(),
                    U::Tanh => self.tanh(),
                    U::Floor => self.floor(),
                    U::Ceil => self.ceil(),
                    U::Trunc => self.trunc(),
                    U::Round => self.round_ties_even(),
                    U::Reciprocal => 1.0 / self,
                    U::Cbrt => self.cbrt(),
                    _ => <$t>::NAN,
                }
            }
        }
    };
}
float_math!(f32);
float_math!(f64);
