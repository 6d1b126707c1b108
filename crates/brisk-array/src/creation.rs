//! Making arrays: ranges, constants, identity matrices, random numbers whose values do not
//! depend on the chunking, in-memory ndarrays, and any source that can read a region.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use brisk_core::{Key, Layer, Node, TaskFailure, Value, tokenize};
use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn, Slice};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::chunks::{self, ChunkSpec};
use crate::dtype::{DType, Element, Number, ScalarValue};
use crate::error::{ArrayError, Result};
use crate::eval::ChunkLoc;
use crate::expr::{Dist, ENode, Expr, ExprBuilder, Gen, LeafView, Program};

crate::kernels::kernel! {
    /// Reads `(source, loc) -> chunk` from a [`ChunkSource`].
    pub(crate) FROM_SOURCE = "brisk_array::from_source" => crate::creation::source_kernel
}

fn generated<T: Element>(
    label: &str,
    generator: Option<Gen>,
    constant: Option<ScalarValue>,
    shape: Vec<usize>,
    chunks: &ChunkSpec,
) -> Result<Array<T>> {
    let chunks = chunks::normalize(chunks, &shape, T::DTYPE.itemsize())?;
    let ndim = shape.len();
    let node = match (generator, constant) {
        (Some(generator), _) => ENode::Gen {
            generator,
            dtype: T::DTYPE,
            shape: shape.clone(),
            view: LeafView::identity(ndim),
        },
        (None, Some(c)) => ENode::Const(c),
        (None, None) => ENode::Const(T::default().to_scalar()),
    };
    let mut b = ExprBuilder::new(ndim);
    let id = b.push(node);
    let expr = b.finish(id);
    Ok(Array::from_meta(Meta::new(
        tokenize(label),
        T::DTYPE,
        shape,
        chunks,
        Body::Expr(expr),
    )))
}

/// A length that may be written as a float (`1e9`) as long as it is a whole number.
pub trait Length {
    /// The length, or why it is not one.
    fn length(self) -> Result<usize>;
}

impl Length for usize {
    fn length(self) -> Result<usize> {
        Ok(self)
    }
}
impl Length for i32 {
    fn length(self) -> Result<usize> {
        usize::try_from(self)
            .map_err(|_| ArrayError::invalid("length", format!("{self} is negative")))
    }
}
impl Length for i64 {
    fn length(self) -> Result<usize> {
        usize::try_from(self)
            .map_err(|_| ArrayError::invalid("length", format!("{self} is negative")))
    }
}
impl Length for u64 {
    fn length(self) -> Result<usize> {
        usize::try_from(self)
            .map_err(|_| ArrayError::invalid("length", format!("{self} is too large")))
    }
}
impl Length for f64 {
    fn length(self) -> Result<usize> {
        if self.is_finite() && self >= 0.0 && self.fract() == 0.0 && self < 2f64.powi(53) {
            Ok(self as usize)
        } else {
            Err(ArrayError::invalid(
                "length",
                format!("{self} is not a whole non-negative number"),
            ))
        }
    }
}

/// `0, 1, …, stop - 1` as `i64`, in chunks (Dask's `arange(stop, chunks=…)`).
///
/// ```
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let x = brisk_array::arange(1e9, 3e6)?;          // the talk's array: nothing is allocated
/// assert_eq!(x.npartitions(), 334);
/// let small = brisk_array::arange(5, 2)?.compute()?;
/// assert_eq!(small.as_slice().unwrap(), &[0, 1, 2, 3, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn arange(stop: impl Length, chunks: impl Into<ChunkSpec>) -> Result<Array<i64>> {
    let n = stop.length()?;
    generated::<i64>(
        "arange",
        Some(Gen::Arange {
            start: ScalarValue::I64(0),
            step: ScalarValue::I64(1),
        }),
        None,
        vec![n],
        &chunks.into(),
    )
}

/// `start, start + step, …` below `stop` (above it for a negative step), like `numpy.arange`.
pub fn arange_with<T: Number>(
    start: T,
    stop: T,
    step: T,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    use crate::eval::scalar_as;
    let f = |x: T| scalar_as::<f64>(x.to_scalar());
    let i = |x: T| scalar_as::<i64>(x.to_scalar());
    let (s, e, d) = (f(start), f(stop), f(step));
    if d == 0.0 || d.is_nan() {
        return Err(ArrayError::invalid(
            "step",
            "the step of arange must not be zero",
        ));
    }
    let n = if T::DTYPE.is_float() {
        ((e - s) / d).ceil().max(0.0) as usize
    } else {
        let (s, e, d) = (i(start) as i128, i(stop) as i128, i(step) as i128);
        let span = e - s;
        if (span > 0) != (d > 0) || span == 0 {
            0
        } else {
            ((span + d - d.signum()) / d) as usize
        }
    };
    generated::<T>(
        "arange",
        Some(Gen::Arange {
            start: start.to_scalar(),
            step: step.to_scalar(),
        }),
        None,
        vec![n],
        &chunks.into(),
    )
}

/// `num` evenly spaced values from `start` to `stop` (included), like `numpy.linspace`.
pub fn linspace(
    start: f64,
    stop: f64,
    num: usize,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<f64>> {
    linspace_with(start, stop, num, true, chunks)
}

/// [`linspace`] with `endpoint`: whether `stop` is the last value.
pub fn linspace_with(
    start: f64,
    stop: f64,
    num: usize,
    endpoint: bool,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<f64>> {
    let div = if endpoint { num.saturating_sub(1) } else { num };
    let step = if div > 0 {
        (stop - start) / div as f64
    } else {
        0.0
    };
    generated::<f64>(
        "linspace",
        Some(Gen::Linspace {
            start,
            step,
            last: (endpoint && num > 1).then_some(stop),
            num: num as u64,
        }),
        None,
        vec![num],
        &chunks.into(),
    )
}

/// An array of zeros.
pub fn zeros<T: Element>(
    shape: impl AsRef<[usize]>,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    generated::<T>(
        "zeros",
        None,
        Some(T::default().to_scalar()),
        shape.as_ref().to_vec(),
        &chunks.into(),
    )
}

/// An array of ones.
pub fn ones<T: Element>(
    shape: impl AsRef<[usize]>,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    generated::<T>(
        "ones",
        None,
        Some(T::DTYPE.one()),
        shape.as_ref().to_vec(),
        &chunks.into(),
    )
}

/// An array where every element is `value`.
pub fn full<T: Element>(
    shape: impl AsRef<[usize]>,
    value: T,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    generated::<T>(
        "full",
        None,
        Some(value.to_scalar()),
        shape.as_ref().to_vec(),
        &chunks.into(),
    )
}

/// The `n × n` identity matrix.
pub fn eye<T: Element>(n: usize, chunks: impl Into<ChunkSpec>) -> Result<Array<T>> {
    eye_with(n, n, 0, chunks)
}

/// An `n × m` matrix with ones on diagonal `k` (0 main, positive above, negative below).
pub fn eye_with<T: Element>(
    n: usize,
    m: usize,
    k: i64,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    generated::<T>(
        "eye",
        Some(Gen::Eye { k }),
        None,
        vec![n, m],
        &chunks.into(),
    )
}

/// Random arrays whose values depend only on the seed and each element's position, never on
/// the chunking: the same seed gives the same numbers for `chunks=10` and `chunks=1000`.
///
/// Each call draws from its own stream, as successive numpy calls do.
///
/// ```
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let a = brisk_array::RandomState::new(42).random([1000], 100)?.compute()?;
/// let b = brisk_array::RandomState::new(42).random([1000], 7)?.compute()?;
/// assert_eq!(a, b);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RandomState {
    seed: u64,
    calls: AtomicU64,
}

impl RandomState {
    /// A generator with a fixed seed.
    pub fn new(seed: u64) -> Self {
        RandomState {
            seed,
            calls: AtomicU64::new(0),
        }
    }

    /// A generator seeded from the clock and process id.
    pub fn from_entropy() -> Self {
        let t = tokenize("seed");
        let seed = t
            .rsplit('-')
            .next()
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap_or(0x5eed);
        RandomState::new(seed)
    }

    fn stream(&self) -> u64 {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        crate::eval::hash64(self.seed, n)
    }

    fn draw<T: Element>(
        &self,
        label: &str,
        dist: Dist,
        shape: &[usize],
        chunks: ChunkSpec,
    ) -> Result<Array<T>> {
        generated::<T>(
            label,
            Some(Gen::Random {
                seed: self.stream(),
                dist,
            }),
            None,
            shape.to_vec(),
            &chunks,
        )
    }

    /// Uniform on `[0, 1)`.
    pub fn random(
        &self,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<f64>> {
        self.uniform(0.0, 1.0, shape, chunks)
    }

    /// Uniform on `[low, high)`.
    pub fn uniform(
        &self,
        low: f64,
        high: f64,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<f64>> {
        if !(low.is_finite() && high.is_finite() && low <= high) {
            return Err(ArrayError::invalid(
                "bounds",
                format!("uniform needs finite low <= high, got {low} and {high}"),
            ));
        }
        self.draw(
            "uniform",
            Dist::Uniform { low, high },
            shape.as_ref(),
            chunks.into(),
        )
    }

    /// Normal with `mean` and standard deviation `std`.
    pub fn normal(
        &self,
        mean: f64,
        std: f64,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<f64>> {
        if !(std >= 0.0 && std.is_finite() && mean.is_finite()) {
            return Err(ArrayError::invalid(
                "std",
                format!("normal needs a finite mean and std >= 0, got {mean} and {std}"),
            ));
        }
        self.draw(
            "normal",
            Dist::Normal { mean, std },
            shape.as_ref(),
            chunks.into(),
        )
    }

    /// Integers on `[low, high)`.
    pub fn integers(
        &self,
        low: i64,
        high: i64,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<i64>> {
        if low >= high {
            return Err(ArrayError::invalid(
                "bounds",
                format!("integers needs low < high, got {low} and {high}"),
            ));
        }
        self.draw(
            "integers",
            Dist::Integers { low, high },
            shape.as_ref(),
            chunks.into(),
        )
    }
}

/// A chunked array over an in-memory ndarray: each chunk is copied out once, so the graph
/// holds the chunks (and can send them to other processes), not the whole array.
pub fn from_array<T: Element, S: Data<Elem = T>, D: Dimension>(
    a: &ArrayBase<S, D>,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    let shape = a.shape().to_vec();
    let chunks = chunks::normalize(&chunks.into(), &shape, T::DTYPE.itemsize())?;
    let name = tokenize("array");
    let a = a.view().into_dyn();
    let offsets: Vec<Vec<usize>> = chunks.iter().map(|c| chunks::offsets(c)).collect();
    let mut nodes = Vec::new();
    let nb: Vec<usize> = chunks.iter().map(Vec::len).collect();
    for_each_block(&nb, |idx| {
        let piece = a
            .slice_each_axis(|ad| {
                let ax = ad.axis.index();
                let s = offsets[ax][idx[ax]];
                Slice::from(s..s + chunks[ax][idx[ax]])
            })
            .as_standard_layout()
            .into_owned();
        let idx32: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
        nodes.push((
            Key::with_shared_name(&name, &idx32),
            Node::Literal(Value::new(piece)),
        ));
    });
    let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![]);
    Ok(Array::from_layer(name, shape, chunks, layer))
}

/// Anything that can read a rectangular region of an array: files, databases, other
/// libraries. [`from_source`] makes a chunked array with one read task per chunk.
pub trait ChunkSource<T: Element>: Send + Sync + 'static {
    /// The whole array's shape.
    fn shape(&self) -> Vec<usize>;
    /// Read the elements in `region` (one range per axis), in C order.
    fn read(
        &self,
        region: &[Range<usize>],
    ) -> std::result::Result<ArrayD<T>, Box<dyn std::error::Error + Send + Sync>>;
    /// A short name for keys and pictures.
    fn name(&self) -> &str {
        "from-source"
    }
}

struct SourceHandle<T: Element> {
    source: Arc<dyn ChunkSource<T>>,
}

/// A chunked array reading from `source` (in-process: the source itself is not sent to
/// other processes).
pub fn from_source<T: Element>(
    source: impl ChunkSource<T>,
    chunks: impl Into<ChunkSpec>,
) -> Result<Array<T>> {
    let shape = source.shape();
    let chunks = chunks::normalize(&chunks.into(), &shape, T::DTYPE.itemsize())?;
    let name = tokenize(source.name());
    let handle = Value::new(SourceHandle {
        source: Arc::new(source) as Arc<dyn ChunkSource<T>>,
    });
    let func = crate::kernels::func(FROM_SOURCE, "read");
    let meta_chunks = chunks.clone();
    let body = crate::array::BlockwiseBody {
        name: Arc::clone(&name),
        chunks: meta_chunks,
        func,
        program: handle,
        inputs: vec![],
        extra: vec![],
    };
    let layer = Layer::new(Arc::clone(&name), body, vec![]);
    Ok(Array::from_layer(name, shape, chunks, layer))
}

fn read_source<T: Element>(
    v: &Value,
    loc: &ChunkLoc,
) -> Option<std::result::Result<Value, TaskFailure>> {
    let h = v.downcast_ref::<SourceHandle<T>>().ok()?;
    let region: Vec<Range<usize>> = loc
        .start
        .iter()
        .zip(&loc.shape)
        .map(|(&s, &n)| s..s + n)
        .collect();
    Some(match h.source.read(&region) {
        Ok(a) if a.shape() == loc.shape.as_slice() => Ok(Value::new(a)),
        Ok(a) => Err(TaskFailure::from(ArrayError::ShapeMismatch {
            op: "chunk source read",
            expected: loc.shape.clone(),
            found: a.shape().to_vec(),
        })),
        Err(e) => Err(TaskFailure::from(ArrayError::Storage {
            context: format!("reading region {region:?} of {}", h.source.name()),
            source: Arc::from(e),
        })),
    })
}

pub(crate) fn source_kernel(args: &[Value]) -> std::result::Result<Value, TaskFailure> {
    let [src, loc] = args else {
        return Err(TaskFailure::msg("read: expected a source and a location"));
    };
    let loc = loc
        .downcast_ref::<ChunkLoc>()
        .map_err(|m| TaskFailure::msg(m.to_string()))?;
    read_source::<f64>(src, loc)
        .or_else(|| read_source::<f32>(src, loc))
        .or_else(|| read_source::<i64>(src, loc))
        .or_else(|| read_source::<i32>(src, loc))
        .or_else(|| read_source::<u64>(src, loc))
        .or_else(|| read_source::<u8>(src, loc))
        .or_else(|| read_source::<bool>(src, loc))
        .unwrap_or_else(|| {
            Err(TaskFailure::msg(format!(
                "read: {} is not a chunk source",
                src.type_name()
            )))
        })
}

/// The program of an array that reads its own chunks as they are (for kernels that take a
/// program and inputs).
pub(crate) fn identity_expr(meta: &Arc<Meta>) -> Expr {
    let mut b = ExprBuilder::new(meta.ndim());
    let id = b.operand(meta, LeafView::identity(meta.ndim()));
    b.finish(id)
}

/// A 0-d constant array.
pub(crate) fn constant_meta(value: ScalarValue) -> Arc<Meta> {
    let mut b = ExprBuilder::new(0);
    let id = b.push(ENode::Const(value));
    let expr = b.finish(id);
    Meta::new(
        tokenize("full"),
        value.dtype(),
        vec![],
        vec![],
        Body::Expr(expr),
    )
}

#[allow(dead_code)]
fn _uses(_: &Program, _: DType, _: IxDyn) {}
