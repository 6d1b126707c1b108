//! The elementwise operations of the tile evaluator: unary and binary functions, casts and
//! `where`, over borrowed, owned (reused in place when dying) and scalar tile buffers.

use brisk_core::TaskFailure;

use crate::dtype::{DType, Element, with_dtype};
use crate::eval::{Buf, KElem, Reg, Src, fail};
use crate::expr::{BinaryOp, UnaryOp};
use crate::num::{FloatMath, Num};
use crate::simd;

/// An operand: a register taken by value (its buffer may be reused) or borrowed.
pub(crate) enum Opnd<'r, 'a> {
    Owned(Reg<'a>),
    Borrowed(&'r Reg<'a>),
}

fn map1<T: Copy, U: 'static>(a: Src<'_, T>, f: impl Fn(T) -> U) -> Buf<'static, U> {
    match a {
        Src::Scalar(x) => Buf::Scalar(f(x)),
        Src::Slice(s) => {
            let mut out = Vec::with_capacity(s.len());
            simd::map_into(s, &mut out, f);
            Buf::Owned(out)
        }
    }
}

fn map1_owned<'a, T: Copy + 'static>(a: Buf<'a, T>, f: impl Fn(T) -> T) -> Buf<'a, T> {
    match a {
        Buf::Owned(mut v) => {
            simd::map_in_place(&mut v, f);
            Buf::Owned(v)
        }
        Buf::Scalar(x) => Buf::Scalar(f(x)),
        Buf::Slice(s) => map1(Src::Slice(s), f),
    }
}

fn map2<T: Copy, U: 'static>(
    a: Src<'_, T>,
    b: Src<'_, T>,
    f: impl Fn(T, T) -> U,
) -> Buf<'static, U> {
    match (a, b) {
        (Src::Scalar(x), Src::Scalar(y)) => Buf::Scalar(f(x, y)),
        (Src::Scalar(x), Src::Slice(t)) => map1(Src::Slice(t), move |y| f(x, y)),
        (Src::Slice(s), Src::Scalar(y)) => map1(Src::Slice(s), move |x| f(x, y)),
        (Src::Slice(s), Src::Slice(t)) => {
            let mut out = Vec::with_capacity(s.len().min(t.len()));
            simd::zip_into(s, t, &mut out, f);
            Buf::Owned(out)
        }
    }
}

fn map2_owned<'a, T: Copy + 'static>(
    a: Buf<'a, T>,
    b: Src<'_, T>,
    f: impl Fn(T, T) -> T,
) -> Buf<'a, T> {
    match (a, b) {
        (Buf::Owned(mut v), Src::Scalar(y)) => {
            simd::map_in_place(&mut v, move |x| f(x, y));
            Buf::Owned(v)
        }
        (Buf::Owned(mut v), Src::Slice(t)) => {
            simd::zip_in_place(&mut v, t, f);
            Buf::Owned(v)
        }
        (a, b) => map2(a.src(), b, f),
    }
}

pub(crate) fn type_error(what: &str, found: DType, want: DType) -> TaskFailure {
    fail(format!("{what}: expected {want} values, found {found}"))
}

pub(crate) fn unary<'a>(op: UnaryOp, x: Opnd<'_, 'a>, out: DType) -> Result<Reg<'a>, TaskFailure> {
    let dt = match &x {
        Opnd::Owned(r) => r.dtype(),
        Opnd::Borrowed(r) => r.dtype(),
    };
    if op.is_predicate() {
        if out != DType::Bool {
            return Err(type_error(op.name(), out, DType::Bool));
        }
        return with_dtype!(dt, T => {
            let r = match &x {
                Opnd::Owned(r) => r,
                Opnd::Borrowed(r) => *r,
            };
            let b = T::unreg_ref(r).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?;
            Ok(Reg::Bool(match op {
                UnaryOp::IsNan => map1(b.src(), |v: T| Num::is_nan(v)),
                UnaryOp::IsInf => map1(b.src(), |v: T| v.is_inf()),
                _ => map1(b.src(), |v: T| !Num::is_nan(v) && !v.is_inf()),
            }))
        });
    }
    if out != dt {
        return Err(type_error(op.name(), dt, out));
    }
    if op.float_only() {
        return match x {
            Opnd::Owned(Reg::F64(b)) => Ok(Reg::F64(map1_owned(b, |v| v.apply(op)))),
            Opnd::Owned(Reg::F32(b)) => Ok(Reg::F32(map1_owned(b, |v| v.apply(op)))),
            Opnd::Borrowed(Reg::F64(b)) => Ok(Reg::F64(map1(b.src(), |v| v.apply(op)))),
            Opnd::Borrowed(Reg::F32(b)) => Ok(Reg::F32(map1(b.src(), |v| v.apply(op)))),
            _ => Err(fail(format!(
                "{} needs f32 or f64 values, found {dt}",
                op.name()
            ))),
        };
    }
    with_dtype!(dt, T => {
        let f = move |v: T| -> T {
            match op {
                UnaryOp::Neg => v.neg(),
                UnaryOp::Abs => Num::abs(v),
                UnaryOp::Sign => v.sign(),
                UnaryOp::Square => v.mul(v),
                _ => v.not(),
            }
        };
        match x {
            Opnd::Owned(r) => {
                let b = T::unreg(r).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?;
                Ok(T::reg(map1_owned(b, f)))
            }
            Opnd::Borrowed(r) => {
                let b = T::unreg_ref(r).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?;
                Ok(T::reg(map1(b.src(), f)))
            }
        }
    })
}

pub(crate) fn cast<'a>(x: &Reg<'_>, to: DType) -> Result<Reg<'a>, TaskFailure> {
    let from = x.dtype();
    with_dtype!(from, T => {
        let b = T::unreg_ref(x).ok_or_else(|| type_error("astype", from, T::DTYPE))?;
        with_dtype!(to, U => Ok(U::reg(map1(b.src(), |v: T| v.cast::<U>()))))
    })
}

pub(crate) fn binary<'a>(
    op: BinaryOp,
    a: Opnd<'_, 'a>,
    b: &Reg<'_>,
    out: DType,
) -> Result<Reg<'a>, TaskFailure> {
    let dt = b.dtype();
    let adt = match &a {
        Opnd::Owned(r) => r.dtype(),
        Opnd::Borrowed(r) => r.dtype(),
    };
    if adt != dt {
        return Err(fail(format!(
            "{}: operands of different types ({adt} and {dt})",
            op.name()
        )));
    }
    if op.is_comparison() {
        if out != DType::Bool {
            return Err(type_error(op.name(), out, DType::Bool));
        }
        return with_dtype!(dt, T => {
            let ra = match &a {
                Opnd::Owned(r) => r,
                Opnd::Borrowed(r) => *r,
            };
            let x = T::unreg_ref(ra).ok_or_else(|| type_error(op.name(), adt, T::DTYPE))?.src();
            let y = T::unreg_ref(b).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?.src();
            Ok(Reg::Bool(match op {
                #[allow(clippy::bool_comparison)]
                BinaryOp::Lt => map2(x, y, |p: T, q: T| p < q),
                BinaryOp::Le => map2(x, y, |p: T, q: T| p <= q),
                #[allow(clippy::bool_comparison)]
                BinaryOp::Gt => map2(x, y, |p: T, q: T| p > q),
                BinaryOp::Ge => map2(x, y, |p: T, q: T| p >= q),
                BinaryOp::Eq => map2(x, y, |p: T, q: T| p == q),
                _ => map2(x, y, |p: T, q: T| p != q),
            }))
        });
    }
    if out != dt {
        return Err(type_error(op.name(), dt, out));
    }
    with_dtype!(dt, T => {
        let y = T::unreg_ref(b).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?.src();
        macro_rules! apply {
            ($f:expr) => {
                match a {
                    Opnd::Owned(r) => {
                        let x = T::unreg(r).ok_or_else(|| type_error(op.name(), adt, T::DTYPE))?;
                        T::reg(map2_owned(x, y, $f))
                    }
                    Opnd::Borrowed(r) => {
                        let x = T::unreg_ref(r).ok_or_else(|| type_error(op.name(), adt, T::DTYPE))?;
                        T::reg(map2(x.src(), y, $f))
                    }
                }
            };
        }
        Ok(match op {
            BinaryOp::Add => apply!(|p: T, q: T| p.add(q)),
            BinaryOp::Sub => apply!(|p: T, q: T| p.sub(q)),
            BinaryOp::Mul => apply!(|p: T, q: T| p.mul(q)),
            BinaryOp::Div => apply!(|p: T, q: T| p.div(q)),
            BinaryOp::Rem => apply!(|p: T, q: T| p.rem(q)),
            BinaryOp::Pow => apply!(|p: T, q: T| Num::pow(p, q)),
            BinaryOp::Maximum => apply!(|p: T, q: T| Num::maximum(p, q)),
            BinaryOp::Minimum => apply!(|p: T, q: T| Num::minimum(p, q)),
            BinaryOp::BitAnd => apply!(|p: T, q: T| p.bitand(q)),
            BinaryOp::BitOr => apply!(|p: T, q: T| p.bitor(q)),
            _ => apply!(|p: T, q: T| p.bitxor(q)),
        })
    })
}

pub(crate) fn select<'a>(
    c: &Reg<'_>,
    a: &Reg<'_>,
    b: &Reg<'_>,
    out: DType,
    len: usize,
) -> Result<Reg<'a>, TaskFailure> {
    let Reg::Bool(c) = c else {
        return Err(type_error("where", c.dtype(), DType::Bool));
    };
    with_dtype!(out, T => {
        let x = T::unreg_ref(a).ok_or_else(|| type_error("where", a.dtype(), out))?.src();
        let y = T::unreg_ref(b).ok_or_else(|| type_error("where", b.dtype(), out))?.src();
        let at = |s: Src<'_, T>, i: usize| match s {
            Src::Scalar(v) => v,
            Src::Slice(v) => v[i],
        };
        Ok(T::reg(match c.src() {
            Src::Scalar(true) => map1(x, |v| v),
            Src::Scalar(false) => map1(y, |v| v),
            Src::Slice(cs) => Buf::Owned(
                (0..len.min(cs.len()))
                    .map(|i| if cs[i] { at(x, i) } else { at(y, i) })
                    .collect(),
            ),
        }))
    })
}
