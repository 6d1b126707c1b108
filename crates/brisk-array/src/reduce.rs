//! Reductions (`sum`, `mean`, `std`, `argmax`, … and their NaN-skipping variants) as tree
//! reductions: one task per input chunk folds the chunk (fused with the elementwise work that
//! produced it), then groups of `split_every` partials are merged until one is left per output
//! chunk.

use std::sync::Arc;

use brisk_core::{Arg, Graph, Key, Layer, Node, Task, Value, tokenize};

use crate::array::{Array, BlockwiseBody, Body, Meta, Scalar, for_each_block};
use crate::creation::identity_expr;
use crate::dtype::{DType, Element};
use crate::error::{ArrayError, Result};
use crate::kernels;
use crate::reduce_kernels::{ReduceOp, ReduceSpec};

/// The default number of partials merged by one task (Dask's `split_every`).
pub const DEFAULT_SPLIT_EVERY: usize = 16;

/// Options of a reduction: which axes, whether to keep them, the tree's fan-in, `ddof`.
///
/// ```
/// use brisk_array::ReduceOpts;
/// let o = ReduceOpts::axis(1).keepdims(true).split_every(4);
/// let all = ReduceOpts::new().ddof(1.0);
/// # let _ = (o, all);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ReduceOpts {
    axes: Option<Vec<isize>>,
    keepdims: bool,
    split_every: Option<usize>,
    ddof: f64,
}

impl ReduceOpts {
    /// Over every axis.
    pub fn new() -> Self {
        Self::default()
    }

    /// Over one axis (negative counts from the end).
    pub fn axis(axis: isize) -> Self {
        ReduceOpts {
            axes: Some(vec![axis]),
            ..Self::default()
        }
    }

    /// Over these axes.
    pub fn axes(axes: impl IntoIterator<Item = isize>) -> Self {
        ReduceOpts {
            axes: Some(axes.into_iter().collect()),
            ..Self::default()
        }
    }

    /// Keep reduced axes with length one (numpy's `keepdims=True`).
    pub fn keepdims(mut self, keep: bool) -> Self {
        self.keepdims = keep;
        self
    }

    /// Merge at most `n` partials per task (at least 2).
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = Some(n);
        self
    }

    /// Delta degrees of freedom of `var` and `std` (the divisor is `n - ddof`).
    pub fn ddof(mut self, ddof: f64) -> Self {
        self.ddof = ddof;
        self
    }
}

/// Axis numbers (negative from the end) as a sorted set of positions.
pub(crate) fn normalize_axes(op: &'static str, axes: &[isize], ndim: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let p = if a < 0 { a + ndim as isize } else { a };
        if p < 0 || p >= ndim as isize {
            return Err(ArrayError::AxisOutOfRange { op, axis: a, ndim });
        }
        let p = p as usize;
        if out.contains(&p) {
            return Err(ArrayError::DuplicateAxis { op, axis: p });
        }
        out.push(p);
    }
    out.sort_unstable();
    Ok(out)
}

/// Nodes of one combine (or finalize) level, generated when the graph is materialized.
struct TreeBody {
    name: Arc<str>,
    input: Arc<str>,
    /// Blocks of the level below.
    below: Vec<usize>,
    /// Blocks of this level.
    grid: Vec<usize>,
    /// Per axis: how many blocks below make one here (1 on kept axes).
    factor: Vec<usize>,
    /// Per axis: whether the key of this level has this axis (false: dropped by the final
    /// level without keepdims).
    keep_axis: Vec<bool>,
    func: brisk_core::Func,
    spec: Value,
}

impl brisk_core::layer::LayerBody for TreeBody {
    fn materialize(&self, graph: &mut Graph) {
        for_each_block(&self.grid, |idx| {
            let ranges: Vec<(usize, usize)> = idx
                .iter()
                .enumerate()
                .map(|(a, &i)| {
                    (
                        i * self.factor[a],
                        ((i + 1) * self.factor[a]).min(self.below[a]),
                    )
                })
                .collect();
            let counts: Vec<usize> = ranges.iter().map(|(s, e)| e - s).collect();
            let mut args = vec![Arg::Literal(self.spec.clone())];
            for_each_block(&counts, |sel| {
                let below: Vec<u32> = sel
                    .iter()
                    .enumerate()
                    .map(|(a, &s)| (ranges[a].0 + s) as u32)
                    .collect();
                args.push(Arg::Key(Key::with_shared_name(&self.input, &below)));
            });
            let key_idx: Vec<u32> = idx
                .iter()
                .enumerate()
                .filter(|(a, _)| self.keep_axis[*a])
                .map(|(_, &i)| i as u32)
                .collect();
            graph.set(
                Key::with_shared_name(&self.name, &key_idx),
                Node::Task(Task {
                    func: self.func.clone(),
                    args,
                }),
            );
        });
    }

    fn len(&self) -> usize {
        self.grid.iter().product()
    }
}

/// Build the reduction of `meta` by `op` with result type `out`.
pub(crate) fn reduce_meta(
    meta: &Arc<Meta>,
    op: ReduceOp,
    out: DType,
    opts: &ReduceOpts,
) -> Result<Arc<Meta>> {
    meta.check()?;
    let name = op.name();
    let ndim = meta.ndim();
    let axes: Vec<usize> = match &opts.axes {
        None => (0..ndim).collect(),
        Some(a) => normalize_axes(name, a, ndim)?,
    };
    if op.is_arg() && axes.len() > 1 && axes.len() != ndim {
        return Err(ArrayError::invalid(
            "axis",
            format!("{name} takes one axis or none, not {axes:?}"),
        ));
    }
    let split = opts.split_every.unwrap_or(DEFAULT_SPLIT_EVERY);
    if split < 2 {
        return Err(ArrayError::invalid(
            "split_every",
            format!("{split}; it must be at least 2"),
        ));
    }
    for &a in &axes {
        if !crate::chunks::known(&meta.chunks[a]) && op.is_arg() {
            return Err(ArrayError::UnknownChunkSizes { op: name, axis: a });
        }
    }
    let reduced: Vec<bool> = (0..ndim).map(|a| axes.contains(&a)).collect();
    let expr = match meta.expr() {
        Some(e) => e,
        None => identity_expr(meta),
    };
    let spec = ReduceSpec {
        op,
        dtype: meta.dtype,
        reduced: reduced.clone(),
        keepdims: opts.keepdims,
        ddof: opts.ddof,
        program: Some((*expr.program).clone()),
        full_shape: meta.shape.clone(),
    };
    // Stage 1: one task per input chunk.
    let chunk_name = tokenize(&format!("{name}-chunk"));
    let deps: Vec<Arc<Layer>> = expr
        .inputs
        .iter()
        .map(|(m, _)| m.layer())
        .collect::<Result<_>>()?;
    let chunk_layer = Layer::new(
        Arc::clone(&chunk_name),
        BlockwiseBody {
            name: Arc::clone(&chunk_name),
            chunks: meta.chunks.clone(),
            func: kernels::func(crate::reduce_kernels::REDUCE_CHUNK, name),
            program: Value::new(spec.clone()),
            inputs: expr
                .inputs
                .iter()
                .map(|(m, v)| (Arc::clone(&m.name), v.clone()))
                .collect(),
            extra: vec![],
        },
        deps,
    );
    let small = Value::new(ReduceSpec {
        program: None,
        ..spec
    });
    // Per reduced axis fan-in, as Dask: split_every ** (1 / number of reduced axes).
    let per_axis = ((split as f64).powf(1.0 / axes.len().max(1) as f64).floor() as usize).max(2);
    let mut grid = meta.numblocks();
    let mut below_name = chunk_name;
    let mut layer = chunk_layer;
    let combine_label: &'static str = match op {
        ReduceOp::Sum | ReduceOp::NanSum => "sum-partial",
        _ => "combine",
    };
    while axes.iter().any(|&a| grid[a] > per_axis) {
        let factor: Vec<usize> = (0..ndim)
            .map(|a| {
                if reduced[a] && grid[a] > 1 {
                    per_axis
                } else {
                    1
                }
            })
            .collect();
        let next: Vec<usize> = (0..ndim).map(|a| grid[a].div_ceil(factor[a])).collect();
        let lname = tokenize(&format!("{name}-combine"));
        layer = Layer::new(
            Arc::clone(&lname),
            TreeBody {
                name: Arc::clone(&lname),
                input: below_name,
                below: grid.clone(),
                grid: next.clone(),
                factor,
                keep_axis: vec![true; ndim],
                func: kernels::func(crate::reduce_kernels::REDUCE_COMBINE, combine_label),
                spec: small.clone(),
            },
            vec![layer],
        );
        below_name = lname;
        grid = next;
    }
    // Final level: everything left on the reduced axes.
    let factor: Vec<usize> = (0..ndim)
        .map(|a| if reduced[a] { grid[a] } else { 1 })
        .collect();
    let final_grid: Vec<usize> = (0..ndim)
        .map(|a| if reduced[a] { 1 } else { grid[a] })
        .collect();
    let keep_axis: Vec<bool> = (0..ndim).map(|a| opts.keepdims || !reduced[a]).collect();
    let fname = tokenize(&format!("{name}-aggregate"));
    let final_layer = Layer::new(
        Arc::clone(&fname),
        TreeBody {
            name: Arc::clone(&fname),
            input: below_name,
            below: grid,
            grid: final_grid,
            factor,
            keep_axis: keep_axis.clone(),
            func: kernels::func(crate::reduce_kernels::REDUCE_FINALIZE, name),
            spec: small,
        },
        vec![layer],
    );
    let mut shape = Vec::new();
    let mut chunks = Vec::new();
    for (a, &r) in reduced.iter().enumerate() {
        if r {
            if opts.keepdims {
                shape.push(1);
                chunks.push(vec![1]);
            }
        } else {
            shape.push(meta.shape[a]);
            chunks.push(meta.chunks[a].clone());
        }
    }
    Ok(Meta::new(
        fname,
        out,
        shape,
        chunks,
        Body::Layer(final_layer),
    ))
}

fn reduce_array<T: Element, U: Element>(
    a: &Array<T>,
    op: ReduceOp,
    opts: &ReduceOpts,
) -> Result<Array<U>> {
    Ok(Array::from_meta(reduce_meta(&a.meta, op, U::DTYPE, opts)?))
}

fn reduce_scalar<T: Element, U: Element>(a: &Array<T>, op: ReduceOp) -> Scalar<U> {
    Scalar(
        match reduce_meta(&a.meta, op, U::DTYPE, &ReduceOpts::new()) {
            Ok(m) => Array::from_meta(m),
            Err(e) => Array::failed(e),
        },
    )
}

macro_rules! reductions {
    ($($op:ident: $all:ident, $axis:ident, $with:ident -> $out:ty, $doc:literal;)+) => {
        impl<T: Element> Array<T> {
            $(
                #[doc = concat!($doc, " over every element.")]
                pub fn $all(&self) -> Scalar<$out> {
                    reduce_scalar::<T, $out>(self, ReduceOp::$op)
                }

                #[doc = concat!($doc, " along one axis (negative counts from the end).")]
                pub fn $axis(&self, axis: isize) -> Result<Array<$out>> {
                    reduce_array::<T, $out>(self, ReduceOp::$op, &ReduceOpts::axis(axis))
                }

                #[doc = concat!($doc, " with [`ReduceOpts`]: axes, `keepdims`, `split_every`.")]
                pub fn $with(&self, opts: &ReduceOpts) -> Result<Array<$out>> {
                    reduce_array::<T, $out>(self, ReduceOp::$op, opts)
                }
            )+
        }
    };
}

reductions! {
    Sum: sum, sum_axis, sum_with -> T::Sum, "The sum";
    NanSum: nansum, nansum_axis, nansum_with -> T::Sum, "The sum, skipping NaN,";
    Prod: prod, prod_axis, prod_with -> T::Sum, "The product";
    NanProd: nanprod, nanprod_axis, nanprod_with -> T::Sum, "The product, skipping NaN,";
    Min: min, min_axis, min_with -> T, "The minimum (NaN if any NaN)";
    NanMin: nanmin, nanmin_axis, nanmin_with -> T, "The minimum, skipping NaN,";
    Max: max, max_axis, max_with -> T, "The maximum (NaN if any NaN)";
    NanMax: nanmax, nanmax_axis, nanmax_with -> T, "The maximum, skipping NaN,";
    Any: any, any_axis, any_with -> bool, "Whether any element is non-zero,";
    All: all, all_axis, all_with -> bool, "Whether every element is non-zero,";
    Mean: mean, mean_axis, mean_with -> T::Mean, "The mean";
    NanMean: nanmean, nanmean_axis, nanmean_with -> T::Mean, "The mean, skipping NaN,";
    Var: var, var_axis, var_with -> T::Mean, "The variance (`ddof` 0 unless given)";
    NanVar: nanvar, nanvar_axis, nanvar_with -> T::Mean, "The variance, skipping NaN,";
    Std: std, std_axis, std_with -> T::Mean, "The standard deviation (`ddof` 0 unless given)";
    NanStd: nanstd, nanstd_axis, nanstd_with -> T::Mean, "The standard deviation, skipping NaN,";
    ArgMin: argmin, argmin_axis, argmin_with -> i64, "The index of the minimum (flat index when over every axis)";
    NanArgMin: nanargmin, nanargmin_axis, nanargmin_with -> i64, "The index of the minimum, skipping NaN,";
    ArgMax: argmax, argmax_axis, argmax_with -> i64, "The index of the maximum (flat index when over every axis)";
    NanArgMax: nanargmax, nanargmax_axis, nanargmax_with -> i64, "The index of the maximum, skipping NaN,";
}
