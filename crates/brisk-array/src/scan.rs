//! Cumulative sums and products along an axis: each chunk is scanned on its own, then every
//! chunk adds (or multiplies by) the carry of the chunks before it along that axis, a chain of
//! small tasks holding one slice each.

use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use serde::{Deserialize, Serialize};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::dtype::{DType, Element, with_dtype};
use crate::error::Result;
use crate::num::Num;
use crate::reduce::normalize_axes;

crate::kernels::kernel! {
    /// `(spec, chunk) -> scanned chunk`
    pub(crate) SCAN = "brisk_array::scan" => crate::scan::scan_kernel
}
crate::kernels::kernel! {
    /// `(spec, carry or (), previous scanned chunk) -> carry`
    pub(crate) CARRY = "brisk_array::scan_carry" => crate::scan::carry_kernel
}
crate::kernels::kernel! {
    /// `(spec, scanned chunk, carry) -> chunk`
    pub(crate) APPLY = "brisk_array::scan_apply" => crate::scan::apply_kernel
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ScanSpec {
    dtype: DType,
    axis: usize,
    prod: bool,
}
brisk_core::data!(ScanSpec, serde);

fn spec(v: &Value) -> Result<&ScanSpec, TaskFailure> {
    v.downcast_ref::<ScanSpec>()
        .map_err(|m| TaskFailure::msg(format!("scan: {m}")))
}

fn chunk<'a, T: Element>(v: &'a Value, what: &str) -> Result<&'a ArrayD<T>, TaskFailure> {
    v.downcast_ref::<ArrayD<T>>()
        .map_err(|m| TaskFailure::msg(format!("scan {what}: {m}")))
}

fn op<T: Num>(prod: bool) -> impl Fn(T, T) -> T {
    move |a: T, b: T| if prod { a.mul(b) } else { a.add(b) }
}

fn scan_t<T: Num>(s: &ScanSpec, v: &Value) -> Result<Value, TaskFailure> {
    let mut a = chunk::<T>(v, "chunk")?.clone();
    if s.axis >= a.ndim() {
        return Err(TaskFailure::msg("scan: axis out of range"));
    }
    let f = op::<T>(s.prod);
    a.accumulate_axis_inplace(Axis(s.axis), |&prev, cur| *cur = f(prev, *cur));
    Ok(Value::new(a))
}

fn last_slice<T: Num>(s: &ScanSpec, a: &ArrayD<T>) -> ArrayD<T> {
    let n = a.shape()[s.axis];
    a.slice_axis(Axis(s.axis), Slice::from(n.saturating_sub(1)..n))
        .to_owned()
}

fn carry_t<T: Num>(s: &ScanSpec, prev: &Value, scanned: &Value) -> Result<Value, TaskFailure> {
    let last = last_slice(s, chunk::<T>(scanned, "chunk")?);
    if prev.is::<()>() {
        return Ok(Value::new(last));
    }
    let mut c = chunk::<T>(prev, "carry")?.clone();
    if c.shape() != last.shape() {
        return Err(TaskFailure::msg("scan: carries of different shapes"));
    }
    let f = op::<T>(s.prod);
    c.zip_mut_with(&last, |a, &b| *a = f(*a, b));
    Ok(Value::new(c))
}

fn apply_t<T: Num>(s: &ScanSpec, scanned: &Value, carry: &Value) -> Result<Value, TaskFailure> {
    let mut a = chunk::<T>(scanned, "chunk")?.clone();
    let c = chunk::<T>(carry, "carry")?;
    let b = c
        .broadcast(IxDyn(a.shape()))
        .ok_or_else(|| TaskFailure::msg("scan: carry does not line up"))?;
    let f = op::<T>(s.prod);
    a.zip_mut_with(&b, |x, &y| *x = f(y, *x));
    Ok(Value::new(a))
}

pub(crate) fn scan_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [s, c] = args else {
        return Err(TaskFailure::msg("scan: expected a spec and a chunk"));
    };
    let s = spec(s)?;
    with_dtype!(s.dtype, T => scan_t::<T>(s, c))
}

pub(crate) fn carry_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [s, p, c] = args else {
        return Err(TaskFailure::msg("scan carry: expected 3 arguments"));
    };
    let s = spec(s)?;
    with_dtype!(s.dtype, T => carry_t::<T>(s, p, c))
}

pub(crate) fn apply_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [s, c, k] = args else {
        return Err(TaskFailure::msg("scan apply: expected 3 arguments"));
    };
    let s = spec(s)?;
    with_dtype!(s.dtype, T => apply_t::<T>(s, c, k))
}

fn key(name: &Arc<str>, idx: &[usize]) -> Key {
    let idx: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
    Key::with_shared_name(name, &idx)
}

fn scan_meta(m: &Arc<Meta>, axis: usize, prod: bool) -> Result<Arc<Meta>> {
    let s = Value::new(ScanSpec {
        dtype: m.dtype,
        axis,
        prod,
    });
    let label = if prod { "cumprod" } else { "cumsum" };
    let (sname, cname, name) = (
        tokenize(label),
        tokenize(&format!("{label}-carry")),
        tokenize(label),
    );
    let nb = m.numblocks();
    let mut nodes = Vec::new();
    let (fs, fc, fa) = (
        crate::kernels::func(SCAN, label),
        crate::kernels::func(CARRY, "carry"),
        crate::kernels::func(APPLY, label),
    );
    for_each_block(&nb, |idx| {
        nodes.push((
            key(&sname, idx),
            Node::Task(Task {
                func: fs.clone(),
                args: vec![Arg::Literal(s.clone()), Arg::Key(m.key(idx))],
            }),
        ));
        let j = idx[axis];
        if j + 1 < nb[axis] {
            let prev = if j == 0 {
                Arg::Literal(Value::new(()))
            } else {
                let mut p = idx.to_vec();
                p[axis] = j - 1;
                Arg::Key(key(&cname, &p))
            };
            nodes.push((
                key(&cname, idx),
                Node::Task(Task {
                    func: fc.clone(),
                    args: vec![Arg::Literal(s.clone()), prev, Arg::Key(key(&sname, idx))],
                }),
            ));
        }
        let out = if j == 0 {
            Node::Alias(key(&sname, idx))
        } else {
            let mut p = idx.to_vec();
            p[axis] = j - 1;
            Node::Task(Task {
                func: fa.clone(),
                args: vec![
                    Arg::Literal(s.clone()),
                    Arg::Key(key(&sname, idx)),
                    Arg::Key(key(&cname, &p)),
                ],
            })
        };
        nodes.push((key(&name, idx), out));
    });
    let layer = Layer::from_nodes(Arc::clone(&name), nodes, vec![m.layer()?]);
    Ok(Meta::new(
        name,
        m.dtype,
        m.shape.clone(),
        m.chunks.clone(),
        Body::Layer(layer),
    ))
}

impl<T: Element> Array<T> {
    /// The cumulative sum along `axis` (in the `sum` type: `i32` sums as `i64`).
    pub fn cumsum(&self, axis: isize) -> Result<Array<T::Sum>> {
        self.meta.require_known("cumsum")?;
        let a = normalize_axes("cumsum", &[axis], self.ndim())?[0];
        let x = self.astype::<T::Sum>();
        Ok(Array::from_meta(scan_meta(&x.meta, a, false)?))
    }

    /// The cumulative product along `axis` (in the `sum` type).
    pub fn cumprod(&self, axis: isize) -> Result<Array<T::Sum>> {
        self.meta.require_known("cumprod")?;
        let a = normalize_axes("cumprod", &[axis], self.ndim())?[0];
        let x = self.astype::<T::Sum>();
        Ok(Array::from_meta(scan_meta(&x.meta, a, true)?))
    }
}
