//! Accumulators of the reductions: how one element is folded in, how two partial results merge
//! (Chan et al. for moments; lower index wins ties for arg-reductions), and how they travel as
//! arrays inside a [`crate::Partial`].

use ndarray::{ArrayD, IxDyn};

use crate::dtype::{AnyArray, Element};
use crate::error::ArrayError;
use crate::eval::KElem;
use crate::num::Num;
use crate::reduce_kernels::ReduceOp;

pub(crate) trait Acc<T: Copy>: Copy + Send + Sync + 'static {
    type Out: KElem;
    fn init() -> Self;
    fn push(&mut self, x: T, idx: i64);
    #[inline]
    fn push_slice(&mut self, xs: &[T], base: i64, inc: i64) {
        for (j, &x) in xs.iter().enumerate() {
            self.push(x, base.wrapping_add(j as i64 * inc));
        }
    }
    fn merge(&mut self, o: &Self);
    fn finish(&self, op: ReduceOp, ddof: f64) -> Result<Self::Out, ArrayError>;
    fn to_parts(accs: &[Self], shape: &[usize]) -> Vec<AnyArray>;
    fn from_parts(parts: &[AnyArray]) -> Option<Vec<Self>>;
}

pub(crate) fn arr<U: Element>(shape: &[usize], v: Vec<U>) -> AnyArray {
    U::into_any(
        ArrayD::from_shape_vec(IxDyn(shape), v)
            .unwrap_or_else(|_| ArrayD::from_elem(IxDyn(&[0]), U::default())),
    )
}

pub(crate) fn part<U: Element>(parts: &[AnyArray], i: usize) -> Option<Vec<U>> {
    let a = parts.get(i)?.as_typed::<U>()?;
    Some(a.iter().copied().collect())
}

#[derive(Clone, Copy)]
pub(crate) struct SumAcc<T: Element, const NAN: bool, const PROD: bool>(T::Sum);

impl<T: KElem, const NAN: bool, const PROD: bool> Acc<T> for SumAcc<T, NAN, PROD>
where
    T::Sum: KElem,
{
    type Out = T::Sum;
    fn init() -> Self {
        SumAcc(if PROD {
            <T::Sum as Num>::ONE
        } else {
            <T::Sum as Num>::ZERO
        })
    }
    #[inline]
    fn push(&mut self, x: T, _: i64) {
        if NAN && x.is_nan() {
            return;
        }
        self.0 = if PROD {
            self.0.mul(x.widen())
        } else {
            self.0.add(x.widen())
        };
    }
    #[inline]
    fn push_slice(&mut self, xs: &[T], _: i64, _: i64) {
        let s = crate::simd::fold_sum::<T, NAN, PROD>(xs);
        self.0 = if PROD { self.0.mul(s) } else { self.0.add(s) };
    }
    fn merge(&mut self, o: &Self) {
        self.0 = if PROD {
            self.0.mul(o.0)
        } else {
            self.0.add(o.0)
        };
    }
    fn finish(&self, _: ReduceOp, _: f64) -> Result<T::Sum, ArrayError> {
        Ok(self.0)
    }
    fn to_parts(accs: &[Self], shape: &[usize]) -> Vec<AnyArray> {
        vec![arr(shape, accs.iter().map(|a| a.0).collect())]
    }
    fn from_parts(parts: &[AnyArray]) -> Option<Vec<Self>> {
        Some(part::<T::Sum>(parts, 0)?.into_iter().map(SumAcc).collect())
    }
}

#[derive(Clone, Copy)]
pub(crate) struct MinMaxAcc<T, const MAX: bool, const NAN: bool> {
    v: T,
    seen: bool,
    any: bool,
}

impl<T: KElem, const MAX: bool, const NAN: bool> Acc<T> for MinMaxAcc<T, MAX, NAN> {
    type Out = T;
    fn init() -> Self {
        MinMaxAcc {
            v: T::ZERO,
            seen: false,
            any: false,
        }
    }
    #[inline]
    fn push(&mut self, x: T, _: i64) {
        self.any = true;
        if NAN && x.is_nan() {
            return;
        }
        if !self.seen {
            self.v = x;
            self.seen = true;
        } else {
            self.v = if MAX {
                Num::maximum(self.v, x)
            } else {
                Num::minimum(self.v, x)
            };
        }
    }
    fn merge(&mut self, o: &Self) {
        self.any |= o.any;
        if o.seen {
            if !self.seen {
                self.v = o.v;
                self.seen = true;
            } else {
                self.v = if MAX {
                    Num::maximum(self.v, o.v)
                } else {
                    Num::minimum(self.v, o.v)
                };
            }
        }
    }
    fn finish(&self, op: ReduceOp, _: f64) -> Result<T, ArrayError> {
        if self.seen {
            Ok(self.v)
        } else if self.any && T::IS_FLOAT {
            Ok(T::from_f64(f64::NAN))
        } else {
            Err(ArrayError::EmptyReduction { op: op.name() })
        }
    }
    fn to_parts(accs: &[Self], shape: &[usize]) -> Vec<AnyArray> {
        vec![
            arr(shape, accs.iter().map(|a| a.v).collect()),
            arr(shape, accs.iter().map(|a| a.seen).collect()),
            arr(shape, accs.iter().map(|a| a.any).collect()),
        ]
    }
    fn from_parts(parts: &[AnyArray]) -> Option<Vec<Self>> {
        let v = part::<T>(parts, 0)?;
        let s = part::<bool>(parts, 1)?;
        let a = part::<bool>(parts, 2)?;
        if s.len() != v.len() || a.len() != v.len() {
            return None;
        }
        Some(
            v.into_iter()
                .zip(s)
                .zip(a)
                .map(|((v, seen), any)| MinMaxAcc { v, seen, any })
                .collect(),
        )
    }
}

#[derive(Clone, Copy)]
pub(crate) struct BoolAcc<const ALL: bool>(bool);

impl<T: KElem, const ALL: bool> Acc<T> for BoolAcc<ALL> {
    type Out = bool;
    fn init() -> Self {
        BoolAcc(ALL)
    }
    #[inline]
    fn push(&mut self, x: T, _: i64) {
        if ALL {
            self.0 &= x.truthy();
        } else {
            self.0 |= x.truthy();
        }
    }
    fn merge(&mut self, o: &Self) {
        if ALL {
            self.0 &= o.0;
        } else {
            self.0 |= o.0;
        }
    }
    fn finish(&self, _: ReduceOp, _: f64) -> Result<bool, ArrayError> {
        Ok(self.0)
    }
    fn to_parts(accs: &[Self], shape: &[usize]) -> Vec<AnyArray> {
        vec![arr(shape, accs.iter().map(|a| a.0).collect())]
    }
    fn from_parts(parts: &[AnyArray]) -> Option<Vec<Self>> {
        Some(part::<bool>(parts, 0)?.into_iter().map(BoolAcc).collect())
    }
}

/// Count, mean and sum of squared deviations (Chan et al. merge); `MEAN_ONLY` keeps a sum.
#[derive(Clone, Copy)]
pub(crate) struct MomentAcc<T, const NAN: bool, const MEAN_ONLY: bool, const STD: bool> {
    n: f64,
    mean: f64,
    m2: f64,
    _t: std::marker::PhantomData<T>,
}

impl<T: KElem, const NAN: bool, const MEAN_ONLY: bool, const STD: bool> Acc<T>
    for MomentAcc<T, NAN, MEAN_ONLY, STD>
where
    T::Mean: KElem,
{
    type Out = T::Mean;
    fn init() -> Self {
        MomentAcc {
            n: 0.0,
            mean: 0.0,
            m2: 0.0,
            _t: std::marker::PhantomData,
        }
    }
    #[inline]
    fn push(&mut self, x: T, _: i64) {
        if NAN && x.is_nan() {
            return;
        }
        let x = x.as_f64();
        self.n += 1.0;
        if MEAN_ONLY {
            self.mean += x;
        } else {
            let d = x - self.mean;
            self.mean += d / self.n;
            self.m2 += d * (x - self.mean);
        }
    }
    fn push_slice(&mut self, xs: &[T], _: i64, _: i64) {
        let (n, s) = crate::simd::fold_count_sum::<T, NAN>(xs);
        if MEAN_ONLY {
            self.n += n;
            self.mean += s;
            return;
        }
        if n == 0.0 {
            return;
        }
        let mean = s / n;
        let m2 = crate::simd::fold_sq_dev::<T, NAN>(xs, mean);
        self.merge(&MomentAcc {
            n,
            mean,
            m2,
            _t: std::marker::PhantomData,
        });
    }
    fn merge(&mut self, o: &Self) {
        if MEAN_ONLY {
            self.n += o.n;
            self.mean += o.mean;
            return;
        }
        if o.n == 0.0 {
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n / n;
        self.m2 += o.m2 + d * d * self.n * o.n / n;
        self.n = n;
    }
    fn finish(&self, _: ReduceOp, ddof: f64) -> Result<T::Mean, ArrayError> {
        let v = if MEAN_ONLY {
            self.mean / self.n
        } else {
            let var = self.m2 / (self.n - ddof).max(0.0);
            if STD { var.sqrt() } else { var }
        };
        Ok(<T::Mean as Num>::from_f64(v))
    }
    fn to_parts(accs: &[Self], shape: &[usize]) -> Vec<AnyArray> {
        vec![
            arr(shape, accs.iter().map(|a| a.n).collect()),
            arr(shape, accs.iter().map(|a| a.mean).collect()),
            arr(shape, accs.iter().map(|a| a.m2).collect()),
        ]
    }
    fn from_parts(parts: &[AnyArray]) -> Option<Vec<Self>> {
        let n = part::<f64>(parts, 0)?;
        let m = part::<f64>(parts, 1)?;
        let q = part::<f64>(parts, 2)?;
        if m.len() != n.len() || q.len() != n.len() {
            return None;
        }
        Some(
            n.into_iter()
                .zip(m)
                .zip(q)
                .map(|((n, mean), m2)| MomentAcc {
                    n,
                    mean,
                    m2,
                    _t: std::marker::PhantomData,
                })
                .collect(),
        )
    }
}

#[derive(Clone, Copy)]
pub(crate) struct ArgAcc<T, const MAX: bool, const NAN: bool> {
    v: T,
    idx: i64,
    seen: bool,
    any: bool,
}

impl<T: KElem, const MAX: bool, const NAN: bool> ArgAcc<T, MAX, NAN> {
    /// Whether `(x, i)` beats the current best (NaN wins unless skipped; ties keep the lower
    /// index).
    #[inline]
    fn better(&self, x: T, i: i64) -> bool {
        if !self.seen {
            return true;
        }
        let (cn, xn) = (self.v.is_nan(), x.is_nan());
        if cn || xn {
            return xn && (!cn || i < self.idx);
        }
        if MAX {
            x > self.v || (x == self.v && i < self.idx)
        } else {
            x < self.v || (x == self.v && i < self.idx)
        }
    }
}

impl<T: KElem, const MAX: bool, const NAN: bool> Acc<T> for ArgAcc<T, MAX, NAN> {
    type Out = i64;
    fn init() -> Self {
        ArgAcc {
            v: T::ZERO,
            idx: 0,
            seen: false,
            any: false,
        }
    }
    #[inline]
    fn push(&mut self, x: T, i: i64) {
        self.any = true;
        if NAN && x.is_nan() {
            return;
        }
        if self.better(x, i) {
            self.v = x;
            self.idx = i;
            self.seen = true;
        }
    }
    fn merge(&mut self, o: &Self) {
        self.any |= o.any;
        if o.seen && self.better(o.v, o.idx) {
            self.v = o.v;
            self.idx = o.idx;
            self.seen = true;
        }
    }
    fn finish(&self, op: ReduceOp, _: f64) -> Result<i64, ArrayError> {
        if self.seen {
            Ok(self.idx)
        } else if self.any {
            Err(ArrayError::AllNan { op: op.name() })
        } else {
            Err(ArrayError::EmptyReduction { op: op.name() })
        }
    }
    fn to_parts(accs: &[Self], shape: &[usize]) -> Vec<AnyArray> {
        vec![
            arr(shape, accs.iter().map(|a| a.v).collect()),
            arr(shape, accs.iter().map(|a| a.idx).collect()),
            arr(shape, accs.iter().map(|a| a.seen).collect()),
            arr(shape, accs.iter().map(|a| a.any).collect()),
        ]
    }
    fn from_parts(parts: &[AnyArray]) -> Option<Vec<Self>> {
        let v = part::<T>(parts, 0)?;
        let i = part::<i64>(parts, 1)?;
        let s = part::<bool>(parts, 2)?;
        let a = part::<bool>(parts, 3)?;
        if i.len() != v.len() || s.len() != v.len() || a.len() != v.len() {
            return None;
        }
        Some(
            (0..v.len())
                .map(|k| ArgAcc {
                    v: v[k],
                    idx: i[k],
                    seen: s[k],
                    any: a[k],
                })
                .collect(),
        )
    }
}
