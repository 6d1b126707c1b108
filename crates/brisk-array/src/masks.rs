//! Boolean masks (`x[mask]`), whose result has chunk sizes nobody knows until it is computed,
//! and [`Array::compute_chunk_sizes`], which finds them.

use std::sync::Arc;

use brisk_core::{Arg, ComputeOptions, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::{ArrayD, IxDyn};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::chunks::UNKNOWN;
use crate::dtype::{DType, Element, with_dtype};
use crate::error::{ArrayError, Result};

crate::kernels::kernel! {
    /// `(dtype, chunk, mask) -> 1-D chunk`
    pub(crate) MASK = "brisk_array::mask" => crate::masks::mask_kernel
}
crate::kernels::kernel! {
    /// `(chunk) -> its shape`
    pub(crate) SHAPE = "brisk_array::chunk_shape" => crate::masks::shape_kernel
}

fn mask_t<T: Element>(x: &Value, m: &Value) -> Result<Value, TaskFailure> {
    let x = x
        .downcast_ref::<ArrayD<T>>()
        .map_err(|e| TaskFailure::msg(format!("mask: {e}")))?;
    let m = m
        .downcast_ref::<ArrayD<bool>>()
        .map_err(|e| TaskFailure::msg(format!("mask: {e}")))?;
    if x.shape() != m.shape() {
        return Err(TaskFailure::msg(format!(
            "mask: chunk {:?} and mask {:?} differ",
            x.shape(),
            m.shape()
        )));
    }
    let v: Vec<T> = x
        .iter()
        .zip(m.iter())
        .filter(|(_, k)| **k)
        .map(|(v, _)| *v)
        .collect();
    let n = v.len();
    ArrayD::from_shape_vec(IxDyn(&[n]), v)
        .map(Value::new)
        .map_err(|e| TaskFailure::msg(e.to_string()))
}

pub(crate) fn mask_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, x, m] = args else {
        return Err(TaskFailure::msg(
            "mask: expected a dtype, a chunk and a mask",
        ));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| TaskFailure::msg(format!("mask: {e}")))?;
    with_dtype!(dt, T => mask_t::<T>(x, m))
}

pub(crate) fn shape_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [c] = args else {
        return Err(TaskFailure::msg("chunk_shape: expected a chunk"));
    };
    macro_rules! try_t {
        ($($t:ty),+) => {$(
            if let Ok(a) = c.downcast_ref::<ArrayD<$t>>() {
                return Ok(Value::new(a.shape().iter().map(|&d| d as u64).collect::<Vec<u64>>()));
            }
        )+};
    }
    try_t!(f64, f32, i64, i32, u64, u8, bool);
    Err(TaskFailure::msg(format!(
        "chunk_shape: {} is not a chunk",
        c.type_name()
    )))
}

brisk_core::data!(DType, serde);

impl<T: Element> Array<T> {
    /// The elements where `mask` is true, in C order, as a 1-D array (numpy's `x[mask]`). Its
    /// chunk sizes are unknown until computed (see [`Array::compute_chunk_sizes`]).
    pub fn mask(&self, mask: &Array<bool>) -> Result<Array<T>> {
        let (x, m) = (&self.meta, &mask.meta);
        x.require_known("mask")?;
        m.require_known("mask")?;
        if x.shape != m.shape {
            return Err(ArrayError::ShapeMismatch {
                op: "boolean mask",
                expected: x.shape.clone(),
                found: m.shape.clone(),
            });
        }
        // One chunk along every axis but the first keeps blocks in C order.
        let mut want = x.chunks.clone();
        for (a, c) in want.iter_mut().enumerate().skip(1) {
            *c = vec![x.shape[a]];
        }
        if x.ndim() == 0 {
            return Err(ArrayError::invalid("array", "a 0-d array cannot be masked"));
        }
        // The result's chunk sizes depend only on the mask and the row chunks: masking any
        // array of this chunking with this same mask gives chunks that line up.
        let origin: Arc<str> = format!("mask({}, {:?})", m.name, want[0]).into();
        let x = crate::rechunk::rechunk_meta(x, want.clone())?;
        let m = crate::rechunk::rechunk_meta(m, want)?;
        let name = tokenize("getitem-mask");
        let func = crate::kernels::func(MASK, "mask");
        let dt = Value::new(T::DTYPE);
        let mut nodes = Vec::new();
        for_each_block(&x.numblocks(), |idx| {
            nodes.push((
                Key::with_shared_name(&name, &[idx[0] as u32]),
                Node::Task(Task {
                    func: func.clone(),
                    args: vec![
                        Arg::Literal(dt.clone()),
                        Arg::Key(x.key(idx)),
                        Arg::Key(m.key(idx)),
                    ],
                }),
            ));
        });
        let nb = x.chunks[0].len();
        let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![x.layer()?, m.layer()?]);
        Ok(Array::from_meta(Meta::with_origins(
            name,
            T::DTYPE,
            vec![UNKNOWN],
            vec![vec![UNKNOWN; nb]],
            Body::Layer(layer),
            vec![Some(origin)],
        )))
    }

    /// The same array with its chunk sizes known (computes every chunk's shape now).
    pub fn compute_chunk_sizes(&self) -> Result<Array<T>> {
        let m = &self.meta;
        m.check()?;
        if m.is_known() {
            return Ok(self.clone());
        }
        let layer = m.layer()?;
        let name = tokenize("chunk-shape");
        let func = crate::kernels::func(SHAPE, "shape");
        let mut nodes = Vec::new();
        let mut keys = Vec::new();
        let mut blocks = Vec::new();
        for_each_block(&m.numblocks(), |idx| {
            let k =
                Key::with_shared_name(&name, &idx.iter().map(|&i| i as u32).collect::<Vec<_>>());
            nodes.push((
                k.clone(),
                Node::Task(Task {
                    func: func.clone(),
                    args: vec![Arg::Key(m.key(idx))],
                }),
            ));
            keys.push(k);
            blocks.push(idx.to_vec());
        });
        let sl = Layer::from_nodes(Arc::clone(&name), nodes, vec![Arc::clone(&layer)]);
        let graph = brisk_core::layer::materialize(&[&sl]);
        let values =
            brisk_core::default_scheduler()?.get(&graph, &keys, &ComputeOptions::optimized())?;
        let mut chunks = m.chunks.clone();
        for (v, idx) in values.iter().zip(&blocks) {
            let shape = v
                .downcast_ref::<Vec<u64>>()
                .map_err(|e| ArrayError::invalid("chunk", e.to_string()))?;
            for (a, &b) in idx.iter().enumerate() {
                let d = shape.get(a).copied().unwrap_or(0) as usize;
                if chunks[a][b] == UNKNOWN {
                    chunks[a][b] = d;
                }
            }
        }
        let shape = chunks.iter().map(|c| c.iter().sum()).collect();
        Ok(Array::from_meta(Meta::new(
            Arc::clone(&m.name),
            T::DTYPE,
            shape,
            chunks,
            Body::Layer(layer),
        )))
    }
}
