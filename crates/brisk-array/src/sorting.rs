//! Order along an axis: `sort`, `argsort`, `median`/`quantile`/`percentile` (exact: the axis
//! is gathered into one chunk, the other axes keep theirs, one task per block), `topk` (a tree
//! of partial top-k selections, no gathering), `unique` with counts (a tree of merged sorted
//! runs), `isin` and `searchsorted`.
//!
//! Order is numpy's: NaN sorts after every number.

use std::cmp::Ordering;
use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::{ArrayD, Axis, IxDyn};
use serde::{Deserialize, Serialize};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::chunks::{self, UNKNOWN};
use crate::dtype::{DType, Element, Number, with_dtype};
use crate::error::{ArrayError, Result};
use crate::order_keys::{Lossy, OrderKey};
use crate::reduce::normalize_axes;

crate::kernels::kernel! {
    /// `(dtype, LaneOp, chunk) -> chunk`: an operation on every lane along one axis.
    pub(crate) LANE = "brisk_array::lane" => crate::sorting::lane_kernel
}
crate::kernels::kernel! {
    /// `(dtype, axis, k, chunks…) -> the top k along axis of their concatenation`
    pub(crate) TOPK = "brisk_array::topk" => crate::sorting::topk_kernel
}
crate::kernels::kernel! {
    /// `(dtype, chunk | parts…) -> sorted unique values with counts`
    pub(crate) UNIQUE = "brisk_array::unique" => crate::unique_kernels::unique_kernel
}
crate::kernels::kernel! {
    /// `(dtype, which, part) -> values | counts`
    pub(crate) UNIQUE_OUT = "brisk_array::unique_out" => crate::unique_kernels::unique_out_kernel
}
crate::kernels::kernel! {
    /// `(dtype, side, sorted, chunk) -> insertion indices` (or `isin` when side is 2)
    pub(crate) SEARCH = "brisk_array::searchsorted" => crate::sorting::search_kernel
}

/// numpy's order: NaN after every number, NaNs equal to each other.
pub(crate) fn np_cmp<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    match a.partial_cmp(b) {
        Some(o) => o,
        None => {
            #[allow(clippy::eq_op)]
            let (na, nb) = (a != a, b != b);
            match (na, nb) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                _ => Ordering::Less,
            }
        }
    }
}

#[allow(clippy::eq_op)]
pub(crate) fn is_nan<T: PartialEq>(a: &T) -> bool {
    a != a
}

pub(crate) fn fail(msg: impl Into<String>) -> TaskFailure {
    TaskFailure::msg(msg.into())
}

/// What [`LANE`] does to each lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum LaneOp {
    /// Sorted values.
    Sort,
    /// The indices that sort it (stable).
    Argsort,
    /// Quantiles (numpy's "linear" method) as `f64`; NaN skipped when `skip_nan`.
    Quantile { q: Vec<f64>, skip_nan: bool },
    /// The median (the mean of the two middle values); NaN skipped when `skip_nan`.
    Median { skip_nan: bool },
}

/// A kernel's parameters: the axis and the operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LaneSpec {
    axis: usize,
    op: LaneOp,
}
brisk_core::data!(LaneSpec, serde);

/// numpy's `_lerp`: exact at both ends, symmetric around the middle.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

fn quantiles_of(sorted: &[f64], q: &[f64], out: &mut Vec<f64>) {
    let n = sorted.len();
    for &qq in q {
        if n == 0 {
            out.push(f64::NAN);
            continue;
        }
        let v = qq * (n - 1) as f64;
        let lo = v.floor();
        let i = (lo as usize).min(n - 1);
        let j = (i + 1).min(n - 1);
        out.push(lerp(sorted[i], sorted[j], v - lo));
    }
}

fn lane_t<T: Element + Number + OrderKey>(spec: &LaneSpec, x: &Value) -> Result<Value, TaskFailure>
where
    f64: From<Lossy<T>>,
{
    let x = x
        .downcast_ref::<ArrayD<T>>()
        .map_err(|e| fail(format!("lane: {e}")))?;
    let ax = spec.axis;
    if ax >= x.ndim() {
        return Err(fail(format!("lane: axis {ax} of a {}-d chunk", x.ndim())));
    }
    let n = x.shape()[ax];
    let mut lane: Vec<T> = Vec::with_capacity(n);
    match &spec.op {
        LaneOp::Sort => {
            // Sort order-preserving integer keys (NaN the largest): integer comparisons, and
            // no NaN test per comparison.
            let mut out = x.to_owned();
            let mut keys: Vec<u64> = Vec::with_capacity(n);
            for mut l in out.lanes_mut(Axis(ax)) {
                keys.clear();
                keys.extend(l.iter().map(|&v| v.order_key()));
                keys.sort_unstable();
                l.iter_mut()
                    .zip(&keys)
                    .for_each(|(o, &k)| *o = T::from_order_key(k));
            }
            Ok(Value::new(out))
        }
        LaneOp::Argsort => {
            let mut out = ArrayD::<i64>::zeros(x.raw_dim());
            let mut idx: Vec<usize> = Vec::with_capacity(n);
            for (l, mut o) in x.lanes(Axis(ax)).into_iter().zip(out.lanes_mut(Axis(ax))) {
                lane.clear();
                lane.extend(l.iter().copied());
                idx.clear();
                idx.extend(0..n);
                idx.sort_by(|&a, &b| np_cmp(&lane[a], &lane[b]));
                o.iter_mut().zip(&idx).for_each(|(o, &i)| *o = i as i64);
            }
            Ok(Value::new(out))
        }
        LaneOp::Quantile { q, skip_nan } => {
            let mut shape = x.shape().to_vec();
            shape[ax] = q.len();
            let mut out = ArrayD::<f64>::zeros(IxDyn(&shape));
            let mut f: Vec<f64> = Vec::with_capacity(n);
            let mut res = Vec::with_capacity(q.len());
            for (l, mut o) in x.lanes(Axis(ax)).into_iter().zip(out.lanes_mut(Axis(ax))) {
                f.clear();
                f.extend(l.iter().map(|&v| f64::from(Lossy(v))));
                let has_nan = f.iter().any(|v| v.is_nan());
                if *skip_nan {
                    f.retain(|v| !v.is_nan());
                }
                res.clear();
                if has_nan && !skip_nan {
                    res.resize(q.len(), f64::NAN);
                } else {
                    f.sort_unstable_by(np_cmp);
                    quantiles_of(&f, q, &mut res);
                }
                o.iter_mut().zip(&res).for_each(|(o, v)| *o = *v);
            }
            Ok(Value::new(out))
        }
        LaneOp::Median { skip_nan } => {
            let mut shape = x.shape().to_vec();
            shape[ax] = 1;
            let mut out = ArrayD::<f64>::zeros(IxDyn(&shape));
            let mut f: Vec<f64> = Vec::with_capacity(n);
            for (l, mut o) in x.lanes(Axis(ax)).into_iter().zip(out.lanes_mut(Axis(ax))) {
                f.clear();
                f.extend(l.iter().map(|&v| f64::from(Lossy(v))));
                let has_nan = f.iter().any(|v| v.is_nan());
                if *skip_nan {
                    f.retain(|v| !v.is_nan());
                }
                let m = f.len();
                let v = if (has_nan && !skip_nan) || m == 0 {
                    f64::NAN
                } else {
                    let h = m / 2;
                    let (_, hi, _) = f.select_nth_unstable_by(h, np_cmp);
                    let hi = *hi;
                    if m % 2 == 1 {
                        hi
                    } else {
                        let lo = f[..h].iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        (lo + hi) / 2.0
                    }
                };
                o.iter_mut().for_each(|o| *o = v);
            }
            Ok(Value::new(out))
        }
    }
}

pub(crate) fn lane_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, spec, x] = args else {
        return Err(fail("lane: expected a dtype, a spec and a chunk"));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| fail(format!("lane: {e}")))?;
    let spec = spec
        .downcast_ref::<LaneSpec>()
        .map_err(|e| fail(format!("lane: {e}")))?;
    match dt {
        DType::U8 => lane_t::<u8>(spec, x),
        DType::I32 => lane_t::<i32>(spec, x),
        DType::I64 => lane_t::<i64>(spec, x),
        DType::U64 => lane_t::<u64>(spec, x),
        DType::F32 => lane_t::<f32>(spec, x),
        DType::F64 => lane_t::<f64>(spec, x),
        DType::Bool => Err(fail("lane: bool arrays are not ordered here")),
    }
}

fn topk_t<T: Element>(axis: usize, k: i64, blocks: &[Value]) -> Result<Value, TaskFailure> {
    let blocks: Vec<&ArrayD<T>> = blocks
        .iter()
        .map(|b| b.downcast_ref::<ArrayD<T>>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| fail(format!("topk: {e}")))?;
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    let all = ndarray::concatenate(Axis(axis), &views).map_err(|e| fail(format!("topk: {e}")))?;
    let n = all.shape()[axis];
    let kk = (k.unsigned_abs() as usize).min(n);
    let mut shape = all.shape().to_vec();
    shape[axis] = kk;
    let mut out = ArrayD::<T>::from_elem(IxDyn(&shape), T::default());
    let mut lane: Vec<T> = Vec::with_capacity(n);
    for (l, mut o) in all
        .lanes(Axis(axis))
        .into_iter()
        .zip(out.lanes_mut(Axis(axis)))
    {
        lane.clear();
        lane.extend(l.iter().copied());
        if k > 0 {
            lane.sort_unstable_by(|a, b| np_cmp(b, a));
        } else {
            lane.sort_unstable_by(np_cmp);
        }
        o.iter_mut().zip(&lane).for_each(|(o, v)| *o = *v);
    }
    Ok(Value::new(out))
}

pub(crate) fn topk_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, axis, k, blocks @ ..] = args else {
        return Err(fail("topk: expected a dtype, an axis, k and blocks"));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| fail(format!("topk: {e}")))?;
    let axis = *axis
        .downcast_ref::<u64>()
        .map_err(|e| fail(format!("topk: {e}")))? as usize;
    let k = *k
        .downcast_ref::<i64>()
        .map_err(|e| fail(format!("topk: {e}")))?;
    if blocks.is_empty() {
        return Err(fail("topk: no blocks"));
    }
    with_dtype!(dt, T => topk_t::<T>(axis, k, blocks))
}

fn search_t<T: Element>(side: u64, sorted: &Value, v: &Value) -> Result<Value, TaskFailure> {
    let a = sorted
        .downcast_ref::<ArrayD<T>>()
        .map_err(|e| fail(format!("searchsorted: {e}")))?;
    let v = v
        .downcast_ref::<ArrayD<T>>()
        .map_err(|e| fail(format!("searchsorted: {e}")))?;
    let a: Vec<T> = a.iter().copied().collect();
    if side == 2 {
        // isin: `a` holds the test values, sorted.
        let out = v.mapv(|x| !is_nan(&x) && a.binary_search_by(|p| np_cmp(p, &x)).is_ok());
        return Ok(Value::new(out));
    }
    let out = v.mapv(|x| {
        let i = if side == 0 {
            a.partition_point(|p| np_cmp(p, &x) == Ordering::Less)
        } else {
            a.partition_point(|p| np_cmp(p, &x) != Ordering::Greater)
        };
        i as i64
    });
    Ok(Value::new(out))
}

pub(crate) fn search_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, side, sorted, v] = args else {
        return Err(fail(
            "searchsorted: expected a dtype, a side, an array and values",
        ));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| fail(format!("searchsorted: {e}")))?;
    let side = *side
        .downcast_ref::<u64>()
        .map_err(|e| fail(format!("searchsorted: {e}")))?;
    with_dtype!(dt, T => search_t::<T>(side, sorted, v))
}

fn idx32(idx: &[usize]) -> Vec<u32> {
    idx.iter().map(|&i| i as u32).collect()
}

/// One task per block of `x` gathered along `axis`, running [`LANE`] with `op`; the output
/// has `out_len` along `axis` (`None`: unchanged).
fn along_axis(
    m: &Arc<Meta>,
    op_name: &'static str,
    axis: usize,
    op: LaneOp,
    out: DType,
    out_len: Option<usize>,
) -> Result<Arc<Meta>> {
    m.require_known(op_name)?;
    let mut want = m.chunks.clone();
    want[axis] = vec![m.shape[axis]];
    // As Dask does: gather the axis, and let the other axes shrink ("auto") when a gathered
    // chunk would pass the chunk byte target.
    let bytes = want
        .iter()
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .fold(m.dtype.itemsize(), |acc, d| acc.saturating_mul(d.max(1)));
    if bytes > crate::chunks::DEFAULT_CHUNK_BYTES {
        let rules = (0..m.ndim())
            .map(|a| {
                if a == axis {
                    crate::chunks::AxisChunks::Full
                } else {
                    crate::chunks::AxisChunks::Auto
                }
            })
            .collect();
        want = chunks::normalize(
            &crate::chunks::ChunkSpec::PerAxis(rules),
            &m.shape,
            m.dtype.itemsize(),
        )?;
    }
    let x = crate::rechunk::rechunk_meta(m, want)?;
    let name = tokenize(op_name);
    let func = crate::kernels::func(LANE, op_name);
    let (dt, spec) = (Value::new(m.dtype), Value::new(LaneSpec { axis, op }));
    let mut nodes = Vec::new();
    for_each_block(&x.numblocks(), |idx| {
        nodes.push((
            Key::with_shared_name(&name, &idx32(idx)),
            Node::Task(Task {
                func: func.clone(),
                args: vec![
                    Arg::Literal(dt.clone()),
                    Arg::Literal(spec.clone()),
                    Arg::Key(x.key(idx)),
                ],
            }),
        ));
    });
    let mut shape = x.shape.clone();
    let mut chunks = x.chunks.clone();
    if let Some(n) = out_len {
        shape[axis] = n;
        chunks[axis] = vec![n];
    }
    let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![x.layer()?]);
    Ok(Meta::new(name, out, shape, chunks, Body::Layer(layer)))
}

fn check_q(what: &'static str, q: &[f64], scale: f64) -> Result<Vec<f64>> {
    if q.is_empty() {
        return Err(ArrayError::invalid(what, "no quantiles given"));
    }
    q.iter()
        .map(|&v| {
            let f = v / scale;
            if (0.0..=1.0).contains(&f) {
                Ok(f)
            } else {
                Err(ArrayError::invalid(
                    what,
                    format!("{v} is outside [0, {scale}]"),
                ))
            }
        })
        .collect()
}

impl<T: Element + Number> Array<T> {
    /// The values sorted along `axis` (numpy's `np.sort(x, axis)`; NaN last). The axis is
    /// gathered into one chunk; the other axes keep their chunks, one task per block.
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let x = brisk_array::from_array(&ndarray::array![[3.0, 1.0, 2.0], [0.0, f64::NAN, -1.0]], 1)?;
    /// let s = x.sort(1)?.compute()?;
    /// assert_eq!(s.index_axis(ndarray::Axis(0), 0).iter().copied().collect::<Vec<_>>(), [1.0, 2.0, 3.0]);
    /// let order = x.argsort(1)?.compute()?;
    /// assert_eq!(order.index_axis(ndarray::Axis(0), 1).iter().copied().collect::<Vec<_>>(), [2, 0, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sort(&self, axis: isize) -> Result<Array<T>> {
        let ax = normalize_axes("sort", &[axis], self.ndim())?[0];
        Ok(Array::from_meta(along_axis(
            &self.meta,
            "sort",
            ax,
            LaneOp::Sort,
            T::DTYPE,
            None,
        )?))
    }

    /// The indices that sort each lane along `axis` (numpy's `argsort(kind="stable")`).
    pub fn argsort(&self, axis: isize) -> Result<Array<i64>> {
        let ax = normalize_axes("argsort", &[axis], self.ndim())?[0];
        Ok(Array::from_meta(along_axis(
            &self.meta,
            "argsort",
            ax,
            LaneOp::Argsort,
            DType::I64,
            None,
        )?))
    }

    /// The median along `axis` (numpy's `np.median(x, axis)`: NaN if the lane holds NaN),
    /// exact: the axis is gathered into one chunk per block of the other axes.
    pub fn median_axis(&self, axis: isize) -> Result<Array<T::Mean>> {
        self.median_impl(axis, false)
    }

    /// [`Array::median_axis`] skipping NaN (numpy's `nanmedian`).
    pub fn nanmedian_axis(&self, axis: isize) -> Result<Array<T::Mean>> {
        self.median_impl(axis, true)
    }

    fn median_impl(&self, axis: isize, skip_nan: bool) -> Result<Array<T::Mean>> {
        let ax = normalize_axes("median", &[axis], self.ndim())?[0];
        let m = along_axis(
            &self.meta,
            "median",
            ax,
            LaneOp::Median { skip_nan },
            DType::F64,
            Some(1),
        )?;
        Array::<f64>::from_meta(m)
            .squeeze(&[ax as isize])
            .map(|a| a.astype::<T::Mean>())
    }

    /// Quantiles `q` (in `[0, 1]`) along `axis` with numpy's default "linear" method: the
    /// result has the quantiles as its first axis (`np.quantile(x, q, axis)`), exact. NaN in a
    /// lane gives NaN unless `skip_nan` (numpy's `nanquantile`).
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let x = brisk_array::arange_with(0.0, 10.0, 1.0, 3)?;
    /// let q = x.quantile(&[0.25, 0.5], 0, false)?.compute()?;
    /// assert_eq!(q.as_slice().unwrap(), &[2.25, 4.5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn quantile(&self, q: &[f64], axis: isize, skip_nan: bool) -> Result<Array<T::Mean>> {
        let q = check_q("q", q, 1.0)?;
        let ax = normalize_axes("quantile", &[axis], self.ndim())?[0];
        let n = q.len();
        let m = along_axis(
            &self.meta,
            "quantile",
            ax,
            LaneOp::Quantile { q, skip_nan },
            DType::F64,
            Some(n),
        )?;
        // The quantile axis first, as numpy returns it.
        let mut perm: Vec<isize> = vec![ax as isize];
        perm.extend((0..self.ndim() as isize).filter(|&a| a != ax as isize));
        Ok(Array::<f64>::from_meta(m)
            .transpose(&perm)?
            .astype::<T::Mean>())
    }

    /// Percentiles `q` (in `[0, 100]`) along `axis`: [`Array::quantile`] of `q / 100`.
    pub fn percentile(&self, q: &[f64], axis: isize, skip_nan: bool) -> Result<Array<T::Mean>> {
        let q: Vec<f64> = check_q("q", q, 100.0)?;
        self.quantile(&q, axis, skip_nan)
    }
}

impl<T: Element> Array<T> {
    /// The `k` largest values along `axis`, largest first (Dask's `topk`), or the `|k|`
    /// smallest, smallest first, for a negative `k`. Each block keeps its own top `k`; a tree
    /// of tasks (at most [`crate::DEFAULT_SPLIT_EVERY`] inputs each) merges them, so no task
    /// gathers the axis.
    pub fn topk(&self, k: i64, axis: isize) -> Result<Array<T>> {
        let m = &self.meta;
        m.require_known("topk")?;
        let ax = normalize_axes("topk", &[axis], m.ndim())?[0];
        if k == 0 {
            return Err(ArrayError::invalid("k", "topk needs k != 0"));
        }
        let kk = (k.unsigned_abs() as usize).min(m.shape[ax]);
        let name = tokenize("topk");
        let pname = tokenize("topk-partial");
        let func = crate::kernels::func(TOPK, "topk");
        let (dt, axv, kv) = (Value::new(T::DTYPE), Value::new(ax as u64), Value::new(k));
        let task = |inputs: Vec<Key>| {
            let mut args = vec![
                Arg::Literal(dt.clone()),
                Arg::Literal(axv.clone()),
                Arg::Literal(kv.clone()),
            ];
            args.extend(inputs.into_iter().map(Arg::Key));
            Node::Task(Task {
                func: func.clone(),
                args,
            })
        };
        let nb = m.numblocks();
        let mut other = nb.clone();
        other[ax] = 1;
        let mut nodes = Vec::new();
        for_each_block(&other, |o| {
            let leaves: Vec<Key> = (0..nb[ax])
                .map(|b| {
                    let mut src = o.to_vec();
                    src[ax] = b;
                    let key = Key::with_shared_name(&pname, &idx32(&[&src[..], &[0]].concat()));
                    nodes.push((key.clone(), task(vec![m.key(&src)])));
                    key
                })
                .collect();
            let base = idx32(o);
            let last = brisk_core::tree::reduce_levels(
                leaves,
                crate::DEFAULT_SPLIT_EVERY,
                true,
                |level, g, group| {
                    let mut i = base.clone();
                    i.extend([level, g as u32 + 1]);
                    let key = Key::with_shared_name(&pname, &i);
                    nodes.push((key.clone(), task(group.to_vec())));
                    key
                },
            );
            nodes.push((Key::with_shared_name(&name, &base), task(last)));
        });
        let mut shape = m.shape.clone();
        shape[ax] = kk;
        let mut out_chunks = m.chunks.clone();
        out_chunks[ax] = vec![kk];
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![m.layer()?]);
        Ok(Array::from_meta(Meta::new(
            name,
            T::DTYPE,
            shape,
            out_chunks,
            Body::Layer(layer),
        )))
    }

    /// The sorted distinct values and how often each occurs (numpy's `np.unique(x,
    /// return_counts=True)`, NaNs counted as one value). Each chunk finds its own; a tree of
    /// merges combines them. Both results have one chunk of unknown length (the same, so they
    /// combine elementwise).
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let x = brisk_array::from_array(&ndarray::array![3, 1, 3, 3, 2, 1], 2)?;
    /// let (values, counts) = x.unique()?;
    /// assert_eq!(values.compute()?.as_slice().unwrap(), &[1, 2, 3]);
    /// assert_eq!(counts.compute()?.as_slice().unwrap(), &[2, 1, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unique(&self) -> Result<(Array<T>, Array<i64>)> {
        let m = &self.meta;
        m.check()?;
        let pname = tokenize("unique-partial");
        let func = crate::kernels::func(UNIQUE, "unique");
        let dt = Value::new(T::DTYPE);
        let task = |inputs: Vec<Key>| {
            let mut args = vec![Arg::Literal(dt.clone())];
            args.extend(inputs.into_iter().map(Arg::Key));
            Node::Task(Task {
                func: func.clone(),
                args,
            })
        };
        let mut nodes = Vec::new();
        let mut leaves = Vec::new();
        for_each_block(&m.numblocks(), |idx| {
            let key = Key::with_shared_name(&pname, &[0, leaves.len() as u32]);
            nodes.push((key.clone(), task(vec![m.key(idx)])));
            leaves.push(key);
        });
        let last = brisk_core::tree::reduce_levels(
            leaves,
            crate::DEFAULT_SPLIT_EVERY,
            true,
            |level, g, group| {
                let key = Key::with_shared_name(&pname, &[level + 1, g as u32]);
                nodes.push((key.clone(), task(group.to_vec())));
                key
            },
        );
        let root = Key::with_shared_name(&pname, &[u32::MAX, 0]);
        nodes.push((root.clone(), task(last)));
        let partial = Layer::from_nodes(Arc::clone(&pname), nodes, vec![m.layer()?]);
        let origin: Arc<str> = format!("unique({})", m.name).into();
        let out = |which: u64, label: &'static str, dtype: DType| {
            let name = tokenize(label);
            let node = Node::Task(Task {
                func: crate::kernels::func(UNIQUE_OUT, label),
                args: vec![
                    Arg::Literal(Value::new(T::DTYPE)),
                    Arg::Literal(Value::new(which)),
                    Arg::Key(root.clone()),
                ],
            });
            let layer = Layer::from_nodes(
                Arc::clone(&name),
                vec![(Key::with_shared_name(&name, &[0]), node)],
                vec![Arc::clone(&partial)],
            );
            Meta::with_origins(
                name,
                dtype,
                vec![UNKNOWN],
                vec![vec![UNKNOWN]],
                Body::Layer(layer),
                vec![Some(Arc::clone(&origin))],
            )
        };
        Ok((
            Array::from_meta(out(0, "unique", T::DTYPE)),
            Array::from_meta(out(1, "unique-counts", DType::I64)),
        ))
    }

    /// Whether each element is one of `test` (numpy's `np.isin`; NaN is never in it).
    pub fn isin(&self, test: &[T]) -> Result<Array<bool>> {
        let mut sorted = test.to_vec();
        sorted.sort_by(np_cmp);
        let a =
            crate::creation::from_array(&ndarray::Array1::from(sorted), vec![vec![test.len()]])?;
        self.search_with(&a, 2, DType::Bool, "isin")
    }

    fn search_with<U: Element>(
        &self,
        sorted: &Array<T>,
        side: u64,
        out: DType,
        label: &'static str,
    ) -> Result<Array<U>> {
        let m = &self.meta;
        m.check()?;
        let a = &sorted.meta;
        a.require_known(label)?;
        let a = crate::rechunk::rechunk_meta(a, vec![vec![a.shape[0]]])?;
        let name = tokenize(label);
        let func = crate::kernels::func(SEARCH, label);
        let (dt, sv) = (Value::new(T::DTYPE), Value::new(side));
        let ak = a.key(&[0]);
        let mut nodes = Vec::new();
        for_each_block(&m.numblocks(), |idx| {
            nodes.push((
                Key::with_shared_name(&name, &idx32(idx)),
                Node::Task(Task {
                    func: func.clone(),
                    args: vec![
                        Arg::Literal(dt.clone()),
                        Arg::Literal(sv.clone()),
                        Arg::Key(ak.clone()),
                        Arg::Key(m.key(idx)),
                    ],
                }),
            ));
        });
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![m.layer()?, a.layer()?]);
        Ok(Array::from_meta(Meta::with_origins(
            name,
            out,
            m.shape.clone(),
            m.chunks.clone(),
            Body::Layer(layer),
            m.origins.clone(),
        )))
    }
}

/// Where `v`'s values would be inserted into the sorted 1-D `a` to keep it sorted (numpy's
/// `np.searchsorted(a, v, side)`: `right` puts them after equal values). `a` is gathered into
/// one chunk; the result is chunked like `v`.
pub fn searchsorted<T: Element>(a: &Array<T>, v: &Array<T>, right: bool) -> Result<Array<i64>> {
    if a.ndim() != 1 {
        return Err(ArrayError::invalid(
            "a",
            format!(
                "searchsorted needs a 1-D sorted array, got {} axes",
                a.ndim()
            ),
        ));
    }
    v.search_with(a, u64::from(right), DType::I64, "searchsorted")
}
