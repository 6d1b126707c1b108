//! Elementwise operations: numpy broadcasting, `std::ops` on arrays, references and scalars,
//! comparisons, math functions, `where`, `astype`, `clip`.
//!
//! Operators cannot return a `Result`, so a refused operation (shapes that do not broadcast)
//! gives an array that carries the error: computing it, or calling [`Array::check`], reports
//! it; operations on it pass it on.

use std::sync::Arc;

use brisk_core::tokenize;

use crate::array::{Array, Body, Meta, Scalar};
use crate::chunks;
use crate::creation::constant_meta;
use crate::dtype::{Bits, DType, Element, Float, Number, Signed};
use crate::error::{ArrayError, Result};
use crate::expr::{BinaryOp, ENode, ExprBuilder, LeafView, UnaryOp};

/// numpy's broadcast of several shapes.
pub(crate) fn broadcast_shapes(op: &'static str, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let n = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; n];
    for s in shapes {
        let off = n - s.len();
        for (a, &d) in s.iter().enumerate() {
            let o = &mut out[off + a];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                let left = shapes[0].to_vec();
                let right = s.to_vec();
                return Err(ArrayError::Broadcast { op, left, right });
            }
        }
    }
    Ok(out)
}

/// Combine `operands` elementwise: broadcast, line chunks up (rechunking where they differ),
/// and add `node` (built from the operands' node ids) to a fused expression.
pub(crate) fn elementwise(
    op: &'static str,
    dtype: DType,
    operands: &[Arc<Meta>],
    node: impl FnOnce(&[u32]) -> ENode,
) -> Arc<Meta> {
    match try_elementwise(op, dtype, operands, node) {
        Ok(m) => m,
        Err(e) => Meta::failed(dtype, e),
    }
}

fn try_elementwise(
    op: &'static str,
    dtype: DType,
    operands: &[Arc<Meta>],
    node: impl FnOnce(&[u32]) -> ENode,
) -> Result<Arc<Meta>> {
    for m in operands {
        m.check()?;
    }
    let shapes: Vec<&[usize]> = operands.iter().map(|m| m.shape.as_slice()).collect();
    let shape = broadcast_shapes(op, &shapes)?;
    if chunks::known(&shape) {
        chunks::check_size(&shape, dtype.itemsize())?;
    }
    let n = shape.len();
    // Output chunks: the common refinement of the operands that span each axis. Unknown sizes
    // (after a mask) line up only with the same unknown sizes: the same origin.
    // Per output axis: the chunks, and which operand axis they come from.
    type Source<'m> = Option<(Vec<usize>, &'m Arc<Meta>, usize)>;
    let mut out_chunks: Vec<Source<'_>> = vec![None; n];
    for m in operands {
        let off = n - m.ndim();
        for a in 0..m.ndim() {
            let o = off + a;
            if m.shape[a] != shape[o] {
                continue;
            }
            let c = &m.chunks[a];
            out_chunks[o] = Some(match out_chunks[o].take() {
                None => (c.clone(), m, a),
                Some((prev, pm, pa)) => {
                    let (pk, ck) = (chunks::known(&prev), chunks::known(c));
                    if pk && ck {
                        if prev == *c {
                            (prev, pm, pa)
                        } else {
                            (chunks::common_refinement(&prev, c), pm, pa)
                        }
                    } else if !pk && !ck && prev == *c && pm.origin(pa) == m.origin(a) {
                        (prev, pm, pa)
                    } else {
                        return Err(ArrayError::UnknownChunksMismatch {
                            op,
                            axis: o,
                            left: pm.name.to_string(),
                            right: m.name.to_string(),
                        });
                    }
                }
            });
        }
    }
    let origins: Vec<Option<Arc<str>>> = out_chunks
        .iter()
        .map(|c| c.as_ref().and_then(|(_, m, a)| m.origin(*a).cloned()))
        .collect();
    let out_chunks: Vec<Vec<usize>> = out_chunks
        .into_iter()
        .enumerate()
        .map(|(o, c)| c.map(|(c, _, _)| c).unwrap_or_else(|| vec![shape[o]]))
        .collect();
    let mut b = ExprBuilder::new(n);
    let mut ids = Vec::with_capacity(operands.len());
    for m in operands {
        let off = n - m.ndim();
        let bcast: Vec<bool> = (0..m.ndim())
            .map(|a| m.shape[a] != shape[off + a])
            .collect();
        let want: Vec<Vec<usize>> = (0..m.ndim())
            .map(|a| {
                if bcast[a] {
                    m.chunks[a].clone()
                } else {
                    out_chunks[off + a].clone()
                }
            })
            .collect();
        let m = if want != m.chunks {
            crate::rechunk::rechunk_meta(m, want)?
        } else {
            Arc::clone(m)
        };
        ids.push(b.operand(&m, LeafView { offset: off, bcast }));
    }
    let id = b.push(node(&ids));
    let expr = b.finish(id);
    Ok(Meta::with_origins(
        tokenize(expr.program.label()),
        dtype,
        shape,
        out_chunks,
        Body::Expr(expr),
        origins,
    ))
}

/// Things that can be the other operand of an elementwise operation on `Array<T>`: arrays
/// (owned or borrowed), lazy scalars, and plain `T` values.
pub trait Operand<T: Element> {
    /// The operand as an array description.
    #[doc(hidden)]
    fn operand_meta(self) -> Arc<Meta>;
}

impl<T: Element> Operand<T> for &Array<T> {
    fn operand_meta(self) -> Arc<Meta> {
        Arc::clone(&self.meta)
    }
}
impl<T: Element> Operand<T> for Array<T> {
    fn operand_meta(self) -> Arc<Meta> {
        self.meta
    }
}
impl<T: Element> Operand<T> for &Scalar<T> {
    fn operand_meta(self) -> Arc<Meta> {
        Arc::clone(&self.0.meta)
    }
}
impl<T: Element> Operand<T> for Scalar<T> {
    fn operand_meta(self) -> Arc<Meta> {
        self.0.meta
    }
}
impl<T: Element> Operand<T> for T {
    fn operand_meta(self) -> Arc<Meta> {
        constant_meta(self.to_scalar())
    }
}

fn binop<U: Element>(a: &Arc<Meta>, b: Arc<Meta>, op: BinaryOp) -> Array<U> {
    Array::from_meta(elementwise(
        op.name(),
        U::DTYPE,
        &[Arc::clone(a), b],
        |ids| ENode::Binary {
            op,
            a: ids[0],
            b: ids[1],
            dtype: U::DTYPE,
        },
    ))
}

fn rbinop<T: Element>(a: Arc<Meta>, b: &Arc<Meta>, op: BinaryOp) -> Array<T> {
    Array::from_meta(elementwise(
        op.name(),
        T::DTYPE,
        &[a, Arc::clone(b)],
        |ids| ENode::Binary {
            op,
            a: ids[0],
            b: ids[1],
            dtype: T::DTYPE,
        },
    ))
}

fn unop<U: Element>(a: &Arc<Meta>, op: UnaryOp) -> Array<U> {
    Array::from_meta(elementwise(op.name(), U::DTYPE, &[Arc::clone(a)], |ids| {
        ENode::Unary {
            op,
            x: ids[0],
            dtype: U::DTYPE,
        }
    }))
}

macro_rules! std_binop {
    ($trait:ident, $method:ident, $op:expr, $bound:ident) => {
        impl<T: $bound, R: Operand<T>> std::ops::$trait<R> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: R) -> Array<T> {
                binop::<T>(&self.meta, rhs.operand_meta(), $op)
            }
        }
        impl<T: $bound, R: Operand<T>> std::ops::$trait<R> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: R) -> Array<T> {
                binop::<T>(&self.meta, rhs.operand_meta(), $op)
            }
        }
        impl<T: $bound, R: Operand<T>> std::ops::$trait<R> for &Scalar<T> {
            type Output = Array<T>;
            fn $method(self, rhs: R) -> Array<T> {
                binop::<T>(&self.0.meta, rhs.operand_meta(), $op)
            }
        }
        std_binop!(@scalar_lhs $trait, $method, $op, $bound, f64, f32, i64, i32, u64, u8);
    };
    (@scalar_lhs $trait:ident, $method:ident, $op:expr, $bound:ident, $($t:ty),+) => {$(
        std_binop!(@one $trait, $method, $op, $bound, $t);
    )+};
    (@one $trait:ident, $method:ident, $op:expr, Number, $t:ty) => {
        impl std::ops::$trait<&Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: &Array<$t>) -> Array<$t> {
                rbinop::<$t>(constant_meta(self.to_scalar()), &rhs.meta, $op)
            }
        }
        impl std::ops::$trait<Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: Array<$t>) -> Array<$t> {
                rbinop::<$t>(constant_meta(self.to_scalar()), &rhs.meta, $op)
            }
        }
    };
    (@one $trait:ident, $method:ident, $op:expr, Bits, $t:ty) => {};
}

std_binop!(Add, add, BinaryOp::Add, Number);
std_binop!(Sub, sub, BinaryOp::Sub, Number);
std_binop!(Mul, mul, BinaryOp::Mul, Number);
std_binop!(Div, div, BinaryOp::Div, Number);
std_binop!(Rem, rem, BinaryOp::Rem, Number);
std_binop!(BitAnd, bitand, BinaryOp::BitAnd, Bits);
std_binop!(BitOr, bitor, BinaryOp::BitOr, Bits);
std_binop!(BitXor, bitxor, BinaryOp::BitXor, Bits);

impl<T: Signed> std::ops::Neg for &Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        unop::<T>(&self.meta, UnaryOp::Neg)
    }
}
impl<T: Signed> std::ops::Neg for Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        unop::<T>(&self.meta, UnaryOp::Neg)
    }
}
impl<T: Bits> std::ops::Not for &Array<T> {
    type Output = Array<T>;
    fn not(self) -> Array<T> {
        unop::<T>(&self.meta, UnaryOp::Not)
    }
}
impl<T: Bits> std::ops::Not for Array<T> {
    type Output = Array<T>;
    fn not(self) -> Array<T> {
        unop::<T>(&self.meta, UnaryOp::Not)
    }
}

macro_rules! cmp_methods {
    ($($name:ident => $op:expr, $doc:literal;)+) => {$(
        #[doc = $doc]
        pub fn $name(&self, other: impl Operand<T>) -> Array<bool> {
            binop::<bool>(&self.meta, other.operand_meta(), $op)
        }
    )+};
}

macro_rules! float_methods {
    ($($name:ident => $op:expr;)+) => {$(
        #[doc = concat!("Elementwise `", stringify!($name), "` (numpy's `", stringify!($name), "`).")]
        pub fn $name(&self) -> Array<T> {
            unop::<T>(&self.meta, $op)
        }
    )+};
}

impl<T: Element> Array<T> {
    cmp_methods! {
        lt => BinaryOp::Lt, "Elementwise `self < other`.";
        le => BinaryOp::Le, "Elementwise `self <= other`.";
        gt => BinaryOp::Gt, "Elementwise `self > other`.";
        ge => BinaryOp::Ge, "Elementwise `self >= other`.";
        equal => BinaryOp::Eq, "Elementwise `self == other` (numpy's `==`).";
        not_equal => BinaryOp::Ne, "Elementwise `self != other`.";
    }

    /// Convert every element (numpy's `astype`: floats to integers truncate toward zero and
    /// saturate; NaN becomes 0; integers wrap).
    pub fn astype<U: Element>(&self) -> Array<U> {
        if U::DTYPE == T::DTYPE {
            return Array::from_meta(Arc::clone(&self.meta));
        }
        Array::from_meta(elementwise(
            "astype",
            U::DTYPE,
            &[Arc::clone(&self.meta)],
            |ids| ENode::Cast {
                x: ids[0],
                dtype: U::DTYPE,
            },
        ))
    }
}

impl<T: Number> Array<T> {
    /// Elementwise maximum (NaN wins, like numpy's `maximum`).
    pub fn maximum(&self, other: impl Operand<T>) -> Array<T> {
        binop::<T>(&self.meta, other.operand_meta(), BinaryOp::Maximum)
    }

    /// Elementwise minimum (NaN wins, like numpy's `minimum`).
    pub fn minimum(&self, other: impl Operand<T>) -> Array<T> {
        binop::<T>(&self.meta, other.operand_meta(), BinaryOp::Minimum)
    }

    /// Elementwise power (integer powers wrap; negative integer exponents give 0).
    pub fn pow(&self, other: impl Operand<T>) -> Array<T> {
        binop::<T>(&self.meta, other.operand_meta(), BinaryOp::Pow)
    }

    /// Limit values to `[lo, hi]`.
    pub fn clip(&self, lo: T, hi: T) -> Array<T> {
        self.maximum(lo).minimum(hi)
    }

    /// The absolute value (unsigned types are unchanged).
    pub fn abs(&self) -> Array<T> {
        unop::<T>(&self.meta, UnaryOp::Abs)
    }

    /// -1, 0 or 1 by sign.
    pub fn sign(&self) -> Array<T> {
        unop::<T>(&self.meta, UnaryOp::Sign)
    }

    /// `self * self`.
    pub fn square(&self) -> Array<T> {
        unop::<T>(&self.meta, UnaryOp::Square)
    }

    /// Where the elements are NaN (always false for integers).
    pub fn isnan(&self) -> Array<bool> {
        unop::<bool>(&self.meta, UnaryOp::IsNan)
    }

    /// Where the elements are infinite.
    pub fn isinf(&self) -> Array<bool> {
        unop::<bool>(&self.meta, UnaryOp::IsInf)
    }

    /// Where the elements are neither NaN nor infinite.
    pub fn isfinite(&self) -> Array<bool> {
        unop::<bool>(&self.meta, UnaryOp::IsFinite)
    }
}

impl<T: Float> Array<T> {
    float_methods! {
        sqrt => UnaryOp::Sqrt;
        cbrt => UnaryOp::Cbrt;
        exp => UnaryOp::Exp;
        exp2 => UnaryOp::Exp2;
        expm1 => UnaryOp::Expm1;
        log => UnaryOp::Log;
        log2 => UnaryOp::Log2;
        log10 => UnaryOp::Log10;
        log1p => UnaryOp::Log1p;
        sin => UnaryOp::Sin;
        cos => UnaryOp::Cos;
        tan => UnaryOp::Tan;
        arcsin => UnaryOp::Arcsin;
        arccos => UnaryOp::Arccos;
        arctan => UnaryOp::Arctan;
        sinh => UnaryOp::Sinh;
        cosh => UnaryOp::Cosh;
        tanh => UnaryOp::Tanh;
        floor => UnaryOp::Floor;
        ceil => UnaryOp::Ceil;
        trunc => UnaryOp::Trunc;
        round => UnaryOp::Round;
        reciprocal => UnaryOp::Reciprocal;
    }
}

/// `x` where `cond` is true, `y` elsewhere, broadcasting all three (numpy's `where`).
///
/// ```
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let x = brisk_array::arange(6, 4)?;
/// let y = brisk_array::where_(&x.lt(3), &x, -1i64).compute()?;
/// assert_eq!(y.as_slice().unwrap(), &[0, 1, 2, -1, -1, -1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn where_<T: Element>(cond: &Array<bool>, x: impl Operand<T>, y: impl Operand<T>) -> Array<T> {
    Array::from_meta(elementwise(
        "where",
        T::DTYPE,
        &[Arc::clone(&cond.meta), x.operand_meta(), y.operand_meta()],
        |ids| ENode::Where {
            c: ids[0],
            a: ids[1],
            b: ids[2],
            dtype: T::DTYPE,
        },
    ))
}
