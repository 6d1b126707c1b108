//! The three stages of a tree reduction: per chunk (evaluating the chunk's expression tile by
//! tile and folding each tile into accumulators), combine (merge partials of neighbouring
//! chunks), finalize (merge, then turn accumulators into results).
//!
//! Partials are arrays with the chunk's shape where reduced axes have length one
//! ([`Partial`]), so they are small and cross process boundaries with serde.

use brisk_core::{TaskFailure, Value};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

pub(crate) use crate::accumulators::{Acc, ArgAcc, BoolAcc, MinMaxAcc, MomentAcc, SumAcc};
use crate::dtype::{AnyArray, DType, with_dtype};
use crate::eval::{Buf, ChunkLoc, KElem, Src, check_inputs, chunk_refs, eval_tile, for_each_tile};
use crate::expr::Program;

crate::kernels::kernel! {
    /// `(spec, loc, inputs…) -> partial`
    pub(crate) REDUCE_CHUNK = "brisk_array::reduce_chunk" => crate::reduce_kernels::reduce_chunk_kernel
}
crate::kernels::kernel! {
    /// `(spec, partials…) -> partial`
    pub(crate) REDUCE_COMBINE = "brisk_array::reduce_combine" => crate::reduce_kernels::reduce_combine_kernel
}
crate::kernels::kernel! {
    /// `(spec, partials…) -> chunk`
    pub(crate) REDUCE_FINALIZE = "brisk_array::reduce_finalize" => crate::reduce_kernels::reduce_finalize_kernel
}

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
