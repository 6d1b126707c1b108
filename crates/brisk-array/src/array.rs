//! [`Array<T>`]: a lazy chunked array, and [`Scalar<T>`], the lazy result of a full reduction.
//!
//! An array knows its shape, element type and chunk sizes, and how to compute each chunk: either
//! a layer of tasks with one key per chunk (`(name, i, j, …)`), or a blockwise expression
//! ([`crate::expr`]) that is turned into such a layer only when something needs the keys.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use brisk_core::{Arg, Collection, Error, Func, Graph, Key, Layer, Node, Task, Value};
use ndarray::{ArrayD, IxDyn, Slice};

use crate::chunks::{self, UNKNOWN};
use crate::dtype::{DType, Element};
use crate::error::{ArrayError, Result, fmt_shape};
use crate::eval::ChunkLoc;
use crate::expr::{Expr, LeafView};

/// How an array's chunks are computed.
pub(crate) enum Body {
    /// Chunk keys live in this layer (and the layers below it).
    Layer(Arc<Layer>),
    /// A blockwise expression, turned into a layer on demand.
    Expr(Expr),
    /// The operation that made this array was refused; computing reports why.
    Failed(ArrayError),
}

/// The untyped description of an array (what `Array<T>` wraps).
#[doc(hidden)]
pub struct Meta {
    pub(crate) name: Arc<str>,
    pub(crate) dtype: DType,
    pub(crate) shape: Vec<usize>,
    pub(crate) chunks: Vec<Vec<usize>>,
    pub(crate) body: Body,
    /// Per axis with unknown chunk sizes: a token naming where those sizes come from. Two arrays
    /// whose unknown chunks have the same origin provably line up (`x[m]` and `x[m] * 2`);
    /// any other pair of unknown chunkings is refused by elementwise operations.
    pub(crate) origins: Vec<Option<Arc<str>>>,
    materialized: OnceLock<Arc<Layer>>,
}

impl Meta {
    pub(crate) fn new(
        name: Arc<str>,
        dtype: DType,
        shape: Vec<usize>,
        chunks: Vec<Vec<usize>>,
        body: Body,
    ) -> Arc<Meta> {
        // Unknown sizes made by something other than a mask or an elementwise operation are
        // known to line up only with themselves.
        let origins = chunks
            .iter()
            .map(|c| (!chunks::known(c)).then(|| Arc::clone(&name)))
            .collect();
        Meta::with_origins(name, dtype, shape, chunks, body, origins)
    }

    /// [`Meta::new`] with the origins of unknown chunk sizes given (`None` on known axes).
    pub(crate) fn with_origins(
        name: Arc<str>,
        dtype: DType,
        shape: Vec<usize>,
        chunks: Vec<Vec<usize>>,
        body: Body,
        origins: Vec<Option<Arc<str>>>,
    ) -> Arc<Meta> {
        Arc::new(Meta {
            name,
            dtype,
            shape,
            chunks,
            body,
            origins,
            materialized: OnceLock::new(),
        })
    }

    /// Where the unknown chunk sizes of axis `a` come from (`None` when they are known).
    pub(crate) fn origin(&self, a: usize) -> Option<&Arc<str>> {
        self.origins.get(a).and_then(Option::as_ref)
    }

    pub(crate) fn failed(dtype: DType, err: ArrayError) -> Arc<Meta> {
        Meta::new(
            brisk_core::tokenize("failed"),
            dtype,
            vec![],
            vec![],
            Body::Failed(err),
        )
    }

    pub(crate) fn error(&self) -> Option<&ArrayError> {
        match &self.body {
            Body::Failed(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        match &self.body {
            Body::Failed(e) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    pub(crate) fn expr(&self) -> Option<Expr> {
        match &self.body {
            Body::Expr(e) => Some(e.clone()),
            _ => None,
        }
    }

    pub(crate) fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub(crate) fn numblocks(&self) -> Vec<usize> {
        self.chunks.iter().map(Vec::len).collect()
    }

    pub(crate) fn key(&self, idx: &[usize]) -> Key {
        let idx: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
        Key::with_shared_name(&self.name, &idx)
    }

    /// All chunk keys, in C order of their block index.
    pub(crate) fn keys(&self) -> Vec<Key> {
        let mut out = Vec::new();
        for_each_block(&self.numblocks(), |idx| out.push(self.key(idx)));
        out
    }

    /// Where chunk `idx` sits.
    #[allow(dead_code)]
    pub(crate) fn loc(&self, idx: &[usize], offsets: &[Vec<usize>]) -> ChunkLoc {
        ChunkLoc {
            start: idx
                .iter()
                .enumerate()
                .map(|(a, &i)| offsets[a][i])
                .collect(),
            shape: idx
                .iter()
                .enumerate()
                .map(|(a, &i)| self.chunks[a][i])
                .collect(),
        }
    }

    pub(crate) fn offsets(&self) -> Vec<Vec<usize>> {
        self.chunks.iter().map(|c| chunks::offsets(c)).collect()
    }

    /// The layer holding this array's chunk keys (building it for an expression).
    pub(crate) fn layer(&self) -> Result<Arc<Layer>> {
        match &self.body {
            Body::Layer(l) => Ok(Arc::clone(l)),
            Body::Failed(e) => Err(e.clone()),
            Body::Expr(expr) => Ok(Arc::clone(
                self.materialized.get_or_init(|| self.expr_layer(expr)),
            )),
        }
    }

    fn expr_layer(&self, expr: &Expr) -> Arc<Layer> {
        let deps: Vec<Arc<Layer>> = expr
            .inputs
            .iter()
            .filter_map(|(m, _)| m.layer().ok())
            .collect();
        let body = BlockwiseBody {
            name: Arc::clone(&self.name),
            chunks: self.chunks.clone(),
            func: crate::eval::eval_func(expr.program.label()),
            program: Value::from_arc(Arc::clone(&expr.program)),
            inputs: expr
                .inputs
                .iter()
                .map(|(m, v)| (Arc::clone(&m.name), v.clone()))
                .collect(),
            extra: vec![],
        };
        Layer::new(Arc::clone(&self.name), body, deps)
    }

    pub(crate) fn is_known(&self) -> bool {
        self.chunks.iter().all(|c| chunks::known(c))
    }

    pub(crate) fn require_known(&self, op: &'static str) -> Result<()> {
        self.check()?;
        match self.chunks.iter().position(|c| !chunks::known(c)) {
            Some(axis) => Err(ArrayError::UnknownChunkSizes { op, axis }),
            None => Ok(()),
        }
    }
}

/// Call `f` with every block index of a grid, in C order.
pub(crate) fn for_each_block(numblocks: &[usize], mut f: impl FnMut(&[usize])) {
    if numblocks.contains(&0) {
        return;
    }
    let n = numblocks.len();
    let mut idx = vec![0usize; n];
    loop {
        f(&idx);
        let mut a = n;
        loop {
            if a == 0 {
                return;
            }
            a -= 1;
            idx[a] += 1;
            if idx[a] < numblocks[a] {
                break;
            }
            idx[a] = 0;
        }
    }
}

/// A layer of blockwise tasks `func(program, loc, extra…, input chunks…)`, one per output
/// chunk, generated when the graph is materialized.
pub(crate) struct BlockwiseBody {
    pub name: Arc<str>,
    pub chunks: Vec<Vec<usize>>,
    pub func: Func,
    pub program: Value,
    /// Input names and how their axes line up with the output's.
    pub inputs: Vec<(Arc<str>, LeafView)>,
    /// Literal arguments after the location.
    pub extra: Vec<Value>,
}

impl brisk_core::layer::LayerBody for BlockwiseBody {
    fn materialize(&self, graph: &mut Graph) {
        let numblocks: Vec<usize> = self.chunks.iter().map(Vec::len).collect();
        let offsets: Vec<Vec<usize>> = self.chunks.iter().map(|c| chunks::offsets(c)).collect();
        graph.reserve(self.len());
        for_each_block(&numblocks, |idx| {
            let loc = ChunkLoc {
                start: idx
                    .iter()
                    .enumerate()
                    .map(|(a, &i)| offsets[a][i])
                    .collect(),
                shape: idx
                    .iter()
                    .enumerate()
                    .map(|(a, &i)| self.chunks[a][i])
                    .collect(),
            };
            let mut args = Vec::with_capacity(2 + self.extra.len() + self.inputs.len());
            args.push(Arg::Literal(self.program.clone()));
            args.push(Arg::Literal(Value::new(loc)));
            args.extend(self.extra.iter().map(|v| Arg::Literal(v.clone())));
            for (name, view) in &self.inputs {
                let iidx: Vec<u32> = (0..view.bcast.len())
                    .map(|a| {
                        if view.bcast[a] {
                            0
                        } else {
                            idx[view.out_axis(a)] as u32
                        }
                    })
                    .collect();
                args.push(Arg::Key(Key::with_shared_name(name, &iidx)));
            }
            let idx32: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
            graph.set(
                Key::with_shared_name(&self.name, &idx32),
                Node::Task(Task {
                    func: self.func.clone(),
                    args,
                }),
            );
        });
    }

    fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).product()
    }
}

/// A lazy, chunked n-dimensional array of `T` (Dask's `dask.array.Array`).
///
/// Operations build a task graph; nothing runs until [`Collection::compute`] (which returns an
/// [`ndarray::ArrayD<T>`]), [`Array::persist`] or a store.
///
/// ```
/// use brisk_array as da;
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let x = da::arange(10, 4)?;                    // 0..10 in chunks of 4
/// let y = (&x * 2 + 1).sum();                    // lazy
/// assert_eq!(y.compute()?, 100);
/// assert_eq!(x.to_string(), format!("brisk.array<arange, shape=(10,), dtype=i64, chunksize=(4,), chunktype=ndarray>"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Array<T> {
    pub(crate) meta: Arc<Meta>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            meta: Arc::clone(&self.meta),
            _t: PhantomData,
        }
    }
}

impl<T: Element> Array<T> {
    pub(crate) fn from_meta(meta: Arc<Meta>) -> Self {
        debug_assert!(meta.dtype == T::DTYPE || meta.error().is_some());
        Array {
            meta,
            _t: PhantomData,
        }
    }

    pub(crate) fn failed(err: ArrayError) -> Self {
        Array::from_meta(Meta::failed(T::DTYPE, err))
    }

    /// An array from a layer of chunk tasks named `name`.
    pub(crate) fn from_layer(
        name: Arc<str>,
        shape: Vec<usize>,
        chunks: Vec<Vec<usize>>,
        layer: Arc<Layer>,
    ) -> Self {
        Array::from_meta(Meta::new(name, T::DTYPE, shape, chunks, Body::Layer(layer)))
    }

    /// The shape (axes whose length is unknown after boolean indexing hold [`UNKNOWN`]).
    pub fn shape(&self) -> &[usize] {
        &self.meta.shape
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.meta.ndim()
    }

    /// The number of elements ([`UNKNOWN`] when an axis length is unknown).
    pub fn size(&self) -> usize {
        self.meta
            .shape
            .iter()
            .fold(1usize, |acc, &d| acc.saturating_mul(d))
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }

    /// The chunk sizes along each axis.
    pub fn chunks(&self) -> &[Vec<usize>] {
        &self.meta.chunks
    }

    /// The largest chunk along each axis (Dask's `chunksize`).
    pub fn chunksize(&self) -> Vec<usize> {
        self.meta
            .chunks
            .iter()
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .collect()
    }

    /// The number of chunks along each axis.
    pub fn numblocks(&self) -> Vec<usize> {
        self.meta.numblocks()
    }

    /// The number of chunks.
    pub fn npartitions(&self) -> usize {
        self.meta.numblocks().iter().product()
    }

    /// The bytes the whole array would take in memory.
    pub fn nbytes(&self) -> usize {
        self.size().saturating_mul(T::DTYPE.itemsize())
    }

    /// The name of this array's keys (`"add-3f9a…"`).
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// Why the operation that made this array was refused, if it was. Such an array reports
    /// the error when computed; [`Array::check`] reports it at once.
    pub fn error(&self) -> Option<&ArrayError> {
        self.meta.error()
    }

    /// `Ok(self)` unless the operation that made this array was refused: lets
    /// `(&a + &b).check()?` report a shape mismatch where it happens.
    pub fn check(self) -> Result<Self> {
        self.meta.check().map(|()| self)
    }

    /// Whether every chunk size is known.
    pub fn has_known_chunks(&self) -> bool {
        self.meta.is_known()
    }

    /// Compute every chunk now and keep them in memory: the returned array has no work left,
    /// and everything built on it starts from the stored chunks.
    pub fn persist(&self) -> Result<Array<T>> {
        self.meta.check()?;
        let keys = self.meta.keys();
        let graph = Collection::graph(self);
        let values = brisk_core::default_scheduler()?.persist(
            &graph,
            &keys,
            &brisk_core::ComputeOptions::optimized(),
        )?;
        let nodes: Vec<(Key, Node)> = keys
            .into_iter()
            .zip(values)
            .map(|(k, v)| (k, Node::Literal(v)))
            .collect();
        let layer = Layer::from_nodes(Arc::clone(&self.meta.name), nodes, vec![]);
        Ok(Array::from_layer(
            Arc::clone(&self.meta.name),
            self.meta.shape.clone(),
            self.meta.chunks.clone(),
            layer,
        ))
    }

    /// The task graph, as Graphviz DOT text.
    pub fn to_dot(&self) -> String {
        brisk_core::dot::to_dot(&Collection::graph(self))
    }

    /// Write a picture of the task graph (`.svg`, `.png`, `.pdf`, `.dot`).
    pub fn visualize(&self, path: impl AsRef<std::path::Path>) -> Result<std::path::PathBuf> {
        Ok(Collection::visualize(self, path)?)
    }
}

/// Put computed chunks (C order of their block index) together into one array.
pub(crate) fn assemble<T: Element>(meta: &Meta, values: Vec<Value>) -> Result<ArrayD<T>, Error> {
    if let Some(e) = meta.error() {
        return Err(e.clone().into());
    }
    let keys = meta.keys();
    let mut chunks: Vec<Arc<ArrayD<T>>> = Vec::with_capacity(values.len());
    for (v, k) in values.iter().zip(&keys) {
        chunks.push(
            v.downcast_arc::<ArrayD<T>>()
                .map_err(|mismatch| Error::WrongType {
                    key: k.clone(),
                    mismatch,
                })?,
        );
    }
    drop(values);
    let nb = meta.numblocks();
    // Unknown sizes: find them from the chunks themselves.
    let mut sizes: Vec<Vec<usize>> = meta.chunks.clone();
    if !meta.is_known() {
        let mut i = 0;
        for_each_block(&nb, |idx| {
            for (a, &b) in idx.iter().enumerate() {
                if sizes[a][b] == UNKNOWN {
                    sizes[a][b] = chunks[i].shape().get(a).copied().unwrap_or(0);
                }
            }
            i += 1;
        });
    }
    let shape: Vec<usize> = sizes.iter().map(|c| c.iter().sum()).collect();
    if chunks.len() == 1 && chunks[0].shape() == shape.as_slice() {
        let only = chunks.pop().map(Arc::try_unwrap);
        return Ok(match only {
            Some(Ok(a)) => a,
            Some(Err(shared)) => (*shared).clone(),
            None => ArrayD::from_elem(IxDyn(&shape), T::default()),
        });
    }
    let offsets: Vec<Vec<usize>> = sizes.iter().map(|c| chunks::offsets(c)).collect();
    let mut out = ArrayD::from_elem(IxDyn(&shape), T::default());
    let mut i = 0;
    let mut bad: Option<(Key, Vec<usize>, Vec<usize>)> = None;
    for_each_block(&nb, |idx| {
        let c = &chunks[i];
        let want: Vec<usize> = idx.iter().enumerate().map(|(a, &b)| sizes[a][b]).collect();
        if c.shape() != want.as_slice() {
            if bad.is_none() {
                bad = Some((keys[i].clone(), want, c.shape().to_vec()));
            }
        } else {
            let mut view = out.slice_each_axis_mut(|ad| {
                let a = ad.axis.index();
                let s = offsets[a][idx[a]];
                Slice::from(s..s + sizes[a][idx[a]])
            });
            view.assign(c);
        }
        i += 1;
    });
    if let Some((key, expected, found)) = bad {
        return Err(Error::Collection {
            collection: "array",
            source: Arc::new(ArrayError::ShapeMismatch {
                op: if key.index().is_empty() {
                    "chunk"
                } else {
                    "chunk of the computed array"
                },
                expected,
                found,
            }),
        });
    }
    Ok(out)
}

impl<T: Element> Collection for Array<T> {
    type Output = ArrayD<T>;

    fn layers(&self) -> Vec<Arc<Layer>> {
        self.meta.layer().map(|l| vec![l]).unwrap_or_default()
    }

    fn output_keys(&self) -> Vec<Key> {
        if self.meta.error().is_some() {
            return vec![];
        }
        self.meta.keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<ArrayD<T>, Error> {
        assemble(&self.meta, values)
    }
}

impl<T: Element> fmt::Display for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.error() {
            return write!(f, "brisk.array<failed: {e}>");
        }
        let key = Key::from(self.name());
        write!(
            f,
            "brisk.array<{}, shape={}, dtype={}, chunksize={}, chunktype=ndarray>",
            key.prefix(),
            fmt_shape(self.shape()),
            T::DTYPE,
            fmt_shape(&self.chunksize())
        )
    }
}

impl<T: Element> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The lazy result of a reduction over every axis: computes to a plain `T`.
///
/// ```
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let s = brisk_array::ones::<f64>([100, 100], 30)?.sum();
/// assert_eq!(s.compute()?, 10000.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Scalar<T>(pub(crate) Array<T>);

impl<T> Clone for Scalar<T> {
    fn clone(&self) -> Self {
        Scalar(self.0.clone())
    }
}

impl<T: Element> Scalar<T> {
    /// As a 0-d array (to combine with other arrays).
    pub fn as_array(&self) -> &Array<T> {
        &self.0
    }

    /// Into a 0-d array.
    pub fn into_array(self) -> Array<T> {
        self.0
    }

    /// The refused operation's error, if any.
    pub fn error(&self) -> Option<&ArrayError> {
        self.0.error()
    }

    /// Compute now and keep the value in memory.
    pub fn persist(&self) -> Result<Scalar<T>> {
        Ok(Scalar(self.0.persist()?))
    }

    /// Write a picture of the task graph (`.svg`, `.png`, `.pdf`, `.dot`).
    pub fn visualize(&self, path: impl AsRef<std::path::Path>) -> Result<std::path::PathBuf> {
        Ok(Collection::visualize(&self.0, path)?)
    }
}

impl<T: Element> Collection for Scalar<T> {
    type Output = T;

    fn layers(&self) -> Vec<Arc<Layer>> {
        self.0.layers()
    }

    fn output_keys(&self) -> Vec<Key> {
        self.0.output_keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<T, Error> {
        let a = assemble::<T>(&self.0.meta, values)?;
        a.iter().next().copied().ok_or_else(|| {
            ArrayError::ShapeMismatch {
                op: "scalar result",
                expected: vec![],
                found: a.shape().to_vec(),
            }
            .into()
        })
    }
}

impl<T: Element> fmt::Display for Scalar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<T: Element> fmt::Debug for Scalar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
