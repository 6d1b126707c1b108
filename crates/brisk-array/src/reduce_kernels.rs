//! The three stages of a tree reduction: per chunk (evaluating the chunk's expression tile by
//! tile and folding each tile into accumulators), combine (merge partials of neighbouring
//! chunks), finalize (merge, then turn accumulators into results).
//!
//! Partials are arrays with the chunk's shape where reduced axes have length one
//! ([`Partial`]), so they are small and cross process boundaries with serde.

use brisk_core::{TaskFailure, Value};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::dtype::{AnyArray, DType, Element, with_dtype};
use crate::error::ArrayError;
use crate::eval::{Buf, ChunkLoc, KElem, Src, check_inputs, chunk_refs, eval_tile, for_each_tile};
use crate::expr::Program;
use crate::num::Num;

/// A reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ReduceOp {
    Sum,
    NanSum,
    Prod,
    NanProd,
    Min,
    NanMin,
    Max,
    NanMax,
    Any,
    All,
    Mean,
    NanMean,
    Var,
    NanVar,
    Std,
    NanStd,
    ArgMin,
    NanArgMin,
    ArgMax,
    NanArgMax,
}

impl ReduceOp {
    /// numpy's name.
    pub fn name(self) -> &'static str {
        use ReduceOp::*;
        match self {
            Sum => "sum",
            NanSum => "nansum",
            Prod => "prod",
            NanProd => "nanprod",
            Min => "min",
            NanMin => "nanmin",
            Max => "max",
            NanMax => "nanmax",
            Any => "any",
            All => "all",
            Mean => "mean",
            NanMean => "nanmean",
            Var => "var",
            NanVar => "nanvar",
            Std => "std",
            NanStd => "nanstd",
            ArgMin => "argmin",
            NanArgMin => "nanargmin",
            ArgMax => "argmax",
            NanArgMax => "nanargmax",
        }
    }

    /// Whether the result is an index.
    pub fn is_arg(self) -> bool {
        matches!(
            self,
            ReduceOp::ArgMin | ReduceOp::NanArgMin | ReduceOp::ArgMax | ReduceOp::NanArgMax
        )
    }
}

/// What a reduction task needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReduceSpec {
    /// The reduction.
    pub op: ReduceOp,
    /// The input element type.
    pub dtype: DType,
    /// Per input axis: reduced.
    pub reduced: Vec<bool>,
    /// Keep reduced axes (length one) in the result.
    pub keepdims: bool,
    /// Delta degrees of freedom for `var`/`std`.
    pub ddof: f64,
    /// The expression of the input chunks (chunk stage only).
    pub program: Option<Program>,
    /// The whole input's shape (flat indices of `argmin`/`argmax`).
    pub full_shape: Vec<usize>,
}
brisk_core::data!(ReduceSpec, serde);

/// Accumulators of some chunks: arrays with reduced axes of length one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    /// The accumulator's parts (for example count and sum for `mean`).
    pub parts: Vec<AnyArray>,
    /// Their shape.
    pub shape: Vec<usize>,
}
brisk_core::data!(Partial, serde);

pub(crate) trait Acc<T: Copy>: Copy + Send + Sync + 'static {
    type Out: KElem;
    fn init() -> Self;
    fn push(&mut self, x: T, idx: i64);
    #[inline]
    fn push_slice(&mut self, xs: &[T], base: i64, inc: i64) {
        for (j, &x) in xs.iter().enumerate() {
            self.push(x, base + j as i64 * inc);
        }
    }
    fn merge(&mut self, o: &Self);
    fn finish(&self, op: ReduceOp, ddof: f64) -> Result<Self::Out, ArrayError>;
    fn to_parts(accs: &[Self], shape: &[usize]) -> Vec<AnyArray>;
    fn from_parts(parts: &[AnyArray]) -> Option<Vec<Self>>;
}

fn arr<U: Element>(shape: &[usize], v: Vec<U>) -> AnyArray {
    U::into_any(
        ArrayD::from_shape_vec(IxDyn(shape), v)
            .unwrap_or_else(|_| ArrayD::from_elem(IxDyn(&[0]), U::default())),
    )
}

fn part<U: Element>(parts: &[AnyArray], i: usize) -> Option<Vec<U>> {
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
        let zero = if PROD {
            <T::Sum as Num>::ONE
        } else {
            <T::Sum as Num>::ZERO
        };
        let f = |a: T::Sum, x: &T| {
            let v = x.widen();
            let v = if NAN && v.is_nan() { zero } else { v };
            if PROD { a.mul(v) } else { a.add(v) }
        };
        if !<T::Sum as Num>::IS_FLOAT {
            // Integer sums reassociate freely: one fold vectorizes.
            let s = xs.iter().fold(zero, f);
            self.0 = if PROD { self.0.mul(s) } else { self.0.add(s) };
            return;
        }
        // Floats: eight independent partial sums (also closer to numpy's pairwise sum).
        let mut lanes = [zero; 8];
        let chunks = xs.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            lanes = std::array::from_fn(|i| f(lanes[i], &c[i]));
        }
        let mut s = rest.iter().fold(zero, f);
        for l in lanes {
            s = if PROD { s.mul(l) } else { s.add(l) };
        }
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
        let mut lanes = [0.0f64; 8];
        let mut counts = [0.0f64; 8];
        let chunks = xs.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..8 {
                let v = c[i].as_f64();
                let ok = !(NAN && v.is_nan());
                lanes[i] += if ok { v } else { 0.0 };
                counts[i] += if ok { 1.0 } else { 0.0 };
            }
        }
        let mut s: f64 = lanes.iter().sum();
        let mut n: f64 = counts.iter().sum();
        for &x in rest {
            let v = x.as_f64();
            if !(NAN && v.is_nan()) {
                s += v;
                n += 1.0;
            }
        }
        if MEAN_ONLY {
            self.n += n;
            self.mean += s;
            return;
        }
        if n == 0.0 {
            return;
        }
        let mean = s / n;
        let mut m2 = 0.0;
        for &x in xs {
            let v = x.as_f64();
            if !(NAN && v.is_nan()) {
                m2 += (v - mean) * (v - mean);
            }
        }
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

fn fail(msg: impl Into<String>) -> TaskFailure {
    TaskFailure::msg(msg.into())
}

fn keep_shape(shape: &[usize], reduced: &[bool]) -> Vec<usize> {
    shape
        .iter()
        .zip(reduced)
        .map(|(&d, &r)| if r { 1 } else { d })
        .collect()
}

fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        s[a] = s[a + 1] * shape[a + 1];
    }
    s
}

fn chunk_stage<T: KElem, A: Acc<T>>(
    spec: &ReduceSpec,
    loc: &ChunkLoc,
    inputs: &[Value],
) -> Result<Partial, TaskFailure> {
    let program = spec
        .program
        .as_ref()
        .ok_or_else(|| fail("reduce: the chunk stage needs the input's expression"))?;
    program.validate().map_err(fail)?;
    if program.dtype() != T::DTYPE || spec.reduced.len() != loc.shape.len() {
        return Err(fail("reduce: spec and chunk disagree"));
    }
    let refs = chunk_refs(program, inputs)?;
    let loc = &crate::eval::resolve_loc(program, &refs, loc)?;
    check_inputs(program, &refs, &loc.shape)?;
    let last = program.last_uses();
    let n = loc.shape.len();
    let acc_shape = keep_shape(&loc.shape, &spec.reduced);
    let mut astride = c_strides(&acc_shape);
    for (a, s) in astride.iter_mut().enumerate() {
        if spec.reduced[a] {
            *s = 0;
        }
    }
    let fstride = c_strides(&spec.full_shape);
    // Arg reductions: flat index over the whole array, or the coordinate on the one axis.
    let arg_axis: Option<usize> = if spec.reduced.iter().all(|&r| r) {
        None
    } else {
        spec.reduced.iter().position(|&r| r)
    };
    let flat = arg_axis.is_none();
    if flat && fstride.len() != n && spec.op.is_arg() {
        return Err(fail("reduce: the full shape does not match the chunk"));
    }
    let mut accs: Vec<A> = vec![A::init(); acc_shape.iter().product()];
    let mut regs = Vec::new();
    let mut tmp: Vec<T> = Vec::new();
    for_each_tile(&loc.shape, |tile| {
        let r = eval_tile(program, &last, &refs, loc, tile, &mut regs)?;
        let b = T::unreg(r).ok_or_else(|| fail("reduce: expression of the wrong type"))?;
        let data: &[T] = match b.src() {
            Src::Slice(s) => {
                // Re-borrow below through `b` to keep the lifetime simple.
                let _ = s;
                match &b {
                    Buf::Slice(s) => s,
                    Buf::Owned(v) => v.as_slice(),
                    Buf::Scalar(_) => &[],
                }
            }
            Src::Scalar(x) => {
                tmp.clear();
                tmp.resize(tile.len, x);
                tmp.as_slice()
            }
        };
        if n == 0 {
            if let Some(&x) = data.first() {
                accs[0].push(x, 0);
            }
            return Ok(());
        }
        let ts = tile.nd_shape(&loc.shape);
        let local = tile.local_start(n);
        let rowlen = ts[n - 1];
        let rows = tile.len / rowlen.max(1);
        let mut pos = vec![0usize; n - 1];
        for r in 0..rows {
            let row = &data[r * rowlen..(r + 1) * rowlen];
            let mut abase = 0usize;
            let mut fbase = 0i64;
            for a in 0..n - 1 {
                let l = local[a] + pos[a];
                abase += l * astride[a];
                if flat {
                    fbase += ((loc.start[a] + l) * fstride.get(a).copied().unwrap_or(0)) as i64;
                }
            }
            let g_last = (loc.start[n - 1] + local[n - 1]) as i64;
            let (ibase, inc) = match arg_axis {
                None => (fbase + g_last, 1),
                Some(ax) if ax == n - 1 => (g_last, 1),
                Some(ax) => ((loc.start[ax] + local[ax] + pos[ax]) as i64, 0),
            };
            if spec.reduced[n - 1] {
                accs[abase].push_slice(row, ibase, inc);
            } else {
                let off = abase + local[n - 1];
                for (j, &x) in row.iter().enumerate() {
                    accs[off + j].push(x, ibase + j as i64 * inc);
                }
            }
            let mut a = n - 1;
            while a > 0 {
                a -= 1;
                pos[a] += 1;
                if pos[a] < ts[a] {
                    break;
                }
                pos[a] = 0;
            }
        }
        Ok(())
    })?;
    Ok(Partial {
        parts: A::to_parts(&accs, &acc_shape),
        shape: acc_shape,
    })
}

fn merge_partials<T: Copy, A: Acc<T>>(
    partials: &[Value],
) -> Result<(Vec<A>, Vec<usize>), TaskFailure> {
    let mut out: Option<(Vec<A>, Vec<usize>)> = None;
    for v in partials {
        let p = v
            .downcast_ref::<Partial>()
            .map_err(|m| fail(format!("reduce: {m}")))?;
        let accs = A::from_parts(&p.parts).ok_or_else(|| fail("reduce: malformed partial"))?;
        match &mut out {
            None => out = Some((accs, p.shape.clone())),
            Some((cur, shape)) => {
                if *shape != p.shape || cur.len() != accs.len() {
                    return Err(fail(format!(
                        "reduce: partials of shapes {:?} and {:?} cannot be merged",
                        shape, p.shape
                    )));
                }
                for (c, a) in cur.iter_mut().zip(&accs) {
                    c.merge(a);
                }
            }
        }
    }
    out.ok_or_else(|| fail("reduce: nothing to merge"))
}

fn combine_stage<T: Copy, A: Acc<T>>(partials: &[Value]) -> Result<Partial, TaskFailure> {
    let (accs, shape) = merge_partials::<T, A>(partials)?;
    Ok(Partial {
        parts: A::to_parts(&accs, &shape),
        shape,
    })
}

fn finalize_stage<T: Copy, A: Acc<T>>(
    spec: &ReduceSpec,
    partials: &[Value],
) -> Result<Value, TaskFailure> {
    let (accs, shape) = merge_partials::<T, A>(partials)?;
    let vals = accs
        .iter()
        .map(|a| a.finish(spec.op, spec.ddof))
        .collect::<Result<Vec<_>, _>>()
        .map_err(TaskFailure::from)?;
    let out_shape: Vec<usize> = if spec.keepdims {
        shape
    } else {
        shape
            .iter()
            .zip(&spec.reduced)
            .filter(|(_, r)| !**r)
            .map(|(d, _)| *d)
            .collect()
    };
    let a = ArrayD::from_shape_vec(IxDyn(&out_shape), vals).map_err(|e| fail(e.to_string()))?;
    Ok(Value::new(a))
}

macro_rules! dispatch {
    ($spec:expr, $f:ident, ($($args:expr),*)) => {
        with_dtype!($spec.dtype, T => match $spec.op {
            ReduceOp::Sum => $f::<T, SumAcc<T, false, false>>($($args),*),
            ReduceOp::NanSum => $f::<T, SumAcc<T, true, false>>($($args),*),
            ReduceOp::Prod => $f::<T, SumAcc<T, false, true>>($($args),*),
            ReduceOp::NanProd => $f::<T, SumAcc<T, true, true>>($($args),*),
            ReduceOp::Min => $f::<T, MinMaxAcc<T, false, false>>($($args),*),
            ReduceOp::NanMin => $f::<T, MinMaxAcc<T, false, true>>($($args),*),
            ReduceOp::Max => $f::<T, MinMaxAcc<T, true, false>>($($args),*),
            ReduceOp::NanMax => $f::<T, MinMaxAcc<T, true, true>>($($args),*),
            ReduceOp::Any => $f::<T, BoolAcc<false>>($($args),*),
            ReduceOp::All => $f::<T, BoolAcc<true>>($($args),*),
            ReduceOp::Mean => $f::<T, MomentAcc<T, false, true, false>>($($args),*),
            ReduceOp::NanMean => $f::<T, MomentAcc<T, true, true, false>>($($args),*),
            ReduceOp::Var => $f::<T, MomentAcc<T, false, false, false>>($($args),*),
            ReduceOp::NanVar => $f::<T, MomentAcc<T, true, false, false>>($($args),*),
            ReduceOp::Std => $f::<T, MomentAcc<T, false, false, true>>($($args),*),
            ReduceOp::NanStd => $f::<T, MomentAcc<T, true, false, true>>($($args),*),
            ReduceOp::ArgMin => $f::<T, ArgAcc<T, false, false>>($($args),*),
            ReduceOp::NanArgMin => $f::<T, ArgAcc<T, false, true>>($($args),*),
            ReduceOp::ArgMax => $f::<T, ArgAcc<T, true, false>>($($args),*),
            ReduceOp::NanArgMax => $f::<T, ArgAcc<T, true, true>>($($args),*),
        })
    };
}

fn spec_of(v: &Value) -> Result<&ReduceSpec, TaskFailure> {
    v.downcast_ref::<ReduceSpec>()
        .map_err(|m| fail(format!("reduce: {m}")))
}

/// `(spec, loc, inputs…) -> partial`
pub(crate) fn reduce_chunk_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [spec, loc, inputs @ ..] = args else {
        return Err(fail("reduce: expected a spec and a location"));
    };
    let spec = spec_of(spec)?;
    let loc = loc
        .downcast_ref::<ChunkLoc>()
        .map_err(|m| fail(format!("reduce: {m}")))?;
    let p = dispatch!(spec, chunk_stage, (spec, loc, inputs))?;
    Ok(Value::new(p))
}

/// `(spec, partials…) -> partial`
pub(crate) fn reduce_combine_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [spec, partials @ ..] = args else {
        return Err(fail("reduce: expected a spec"));
    };
    let spec = spec_of(spec)?;
    let p = dispatch!(spec, combine_stage, (partials))?;
    Ok(Value::new(p))
}

/// `(spec, partials…) -> chunk`
pub(crate) fn reduce_finalize_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [spec, partials @ ..] = args else {
        return Err(fail("reduce: expected a spec"));
    };
    let spec = spec_of(spec)?;
    dispatch!(spec, finalize_stage, (spec, partials))
}
