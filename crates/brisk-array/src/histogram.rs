//! `histogram` (numpy's, with fixed bins over a range or explicit bin edges): every chunk
//! counts into the bins, a tree of `sum_blocks` tasks adds the counts.

use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::ArrayD;

use crate::array::{Array, Body, Meta, for_each_block};
use crate::dtype::{DType, Element, Number, with_dtype};
use crate::error::{ArrayError, Result};
use crate::order_keys::Lossy;

crate::kernels::kernel! {
    /// `(dtype, edges, chunk) -> counts per bin`
    pub(crate) HISTOGRAM = "brisk_array::histogram" => crate::histogram::histogram_kernel
}

fn fail(msg: impl Into<String>) -> TaskFailure {
    TaskFailure::msg(msg.into())
}

fn count<T: Element>(edges: &[f64], x: &Value) -> Result<Value, TaskFailure>
where
    f64: From<Lossy<T>>,
{
    let x = x
        .downcast_ref::<ArrayD<T>>()
        .map_err(|e| fail(format!("histogram: {e}")))?;
    let nbins = edges.len().saturating_sub(1);
    let (first, last) = match (edges.first(), edges.last()) {
        (Some(&f), Some(&l)) if nbins > 0 => (f, l),
        _ => return Err(fail("histogram: fewer than two edges")),
    };
    let mut counts = vec![0i64; nbins];
    for &v in x {
        let v = f64::from(Lossy(v));
        // NaN fails both comparisons and is not counted, as in numpy.
        if !(v >= first && v <= last) {
            continue;
        }
        // Bin i holds edges[i] <= v < edges[i + 1]; the last bin also holds its right edge.
        let i = edges
            .partition_point(|&e| e <= v)
            .saturating_sub(1)
            .min(nbins - 1);
        counts[i] += 1;
    }
    Ok(Value::new(ndarray::Array1::from(counts).into_dyn()))
}

pub(crate) fn histogram_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, edges, x] = args else {
        return Err(fail("histogram: expected a dtype, edges and a chunk"));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| fail(format!("histogram: {e}")))?;
    let edges = edges
        .downcast_ref::<Vec<f64>>()
        .map_err(|e| fail(format!("histogram: {e}")))?;
    match dt {
        DType::Bool => Err(fail("histogram: bool arrays have no bins")),
        _ => with_dtype!(dt, T => count_dispatch::<T>(edges, x)),
    }
}

fn count_dispatch<T: Element>(edges: &[f64], x: &Value) -> Result<Value, TaskFailure> {
    macro_rules! try_t {
        ($($t:ty),+) => {$(
            if T::DTYPE == <$t as Element>::DTYPE {
                return count::<$t>(edges, x);
            }
        )+};
    }
    try_t!(u8, i32, i64, u64, f32, f64);
    Err(fail("histogram: unsupported element type"))
}

/// numpy's `np.histogram(x, bins, range)`: counts in `bins` equal bins over `range` (edges as
/// numpy's `linspace` makes them; values outside the range and NaN are not counted; the last
/// bin holds its right edge), and the `bins + 1` edges. As in Dask, the range must be given.
///
/// ```
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let x = brisk_array::arange_with(0.0, 10.0, 1.0, 4)?;
/// let (counts, edges) = brisk_array::histogram(&x, 4, (0.0, 8.0))?;
/// assert_eq!(counts.compute()?.as_slice().unwrap(), &[2, 2, 2, 3]);
/// assert_eq!(edges, [0.0, 2.0, 4.0, 6.0, 8.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn histogram<T: Element + Number>(
    x: &Array<T>,
    bins: usize,
    range: (f64, f64),
) -> Result<(Array<i64>, Vec<f64>)> {
    if bins == 0 {
        return Err(ArrayError::invalid(
            "bins",
            "histogram needs at least one bin",
        ));
    }
    let (mut first, mut last) = range;
    if !(first.is_finite() && last.is_finite()) || first > last {
        return Err(ArrayError::invalid(
            "range",
            format!("histogram needs a finite range with min <= max, got ({first}, {last})"),
        ));
    }
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    if let Some(e) = edges.last_mut() {
        *e = last;
    }
    histogram_edges(x, &edges).map(|(c, _)| (c, edges))
}

/// numpy's `np.histogram(x, bins=edges)`: counts between explicit, increasing bin edges.
pub fn histogram_edges<T: Element + Number>(
    x: &Array<T>,
    edges: &[f64],
) -> Result<(Array<i64>, Vec<f64>)> {
    let m = &x.meta;
    m.check()?;
    if edges.len() < 2
        || edges.iter().any(|e| !e.is_finite())
        || edges.windows(2).any(|w| w[0] > w[1])
    {
        return Err(ArrayError::invalid(
            "bins",
            "bin edges must be at least two finite numbers that increase monotonically",
        ));
    }
    let nbins = edges.len() - 1;
    let pname = tokenize("histogram-partial");
    let name = tokenize("histogram");
    let count = crate::kernels::func(HISTOGRAM, "histogram");
    let add = crate::kernels::func(crate::linalg::matmul::SUM_BLOCKS, "sum");
    let (dt, ev) = (Value::new(T::DTYPE), Value::new(edges.to_vec()));
    let mut nodes = Vec::new();
    let mut leaves = Vec::new();
    for_each_block(&m.numblocks(), |idx| {
        let key = Key::with_shared_name(&pname, &[0, leaves.len() as u32]);
        nodes.push((
            key.clone(),
            Node::Task(Task {
                func: count.clone(),
                args: vec![
                    Arg::Literal(dt.clone()),
                    Arg::Literal(ev.clone()),
                    Arg::Key(m.key(idx)),
                ],
            }),
        ));
        leaves.push(key);
    });
    let sum = |inputs: Vec<Key>| {
        Node::Task(Task {
            func: add.clone(),
            args: inputs.into_iter().map(Arg::Key).collect(),
        })
    };
    let last = brisk_core::tree::reduce_levels(
        leaves,
        crate::DEFAULT_SPLIT_EVERY,
        true,
        |level, g, group| {
            let key = Key::with_shared_name(&pname, &[level + 1, g as u32]);
            nodes.push((key.clone(), sum(group.to_vec())));
            key
        },
    );
    let final_node = match last.as_slice() {
        [only] => Node::Alias(only.clone()),
        _ => sum(last),
    };
    nodes.push((Key::with_shared_name(&name, &[0]), final_node));
    let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![m.layer()?]);
    Ok((
        Array::from_meta(Meta::new(
            name,
            DType::I64,
            vec![nbins],
            vec![vec![nbins]],
            Body::Layer(layer),
        )),
        edges.to_vec(),
    ))
}
