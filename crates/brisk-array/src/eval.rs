//! Evaluating a [`Program`] over one output chunk, tile by tile.
//!
//! A chunk of shape `S` is cut into tiles that are contiguous in C order: the first axis `k`
//! whose trailing block `S[k+1..]` fits in [`TILE`] elements is split into row ranges, the axes
//! before it are fixed one index at a time. Each tile is at most a few thousand elements, so
//! every intermediate of the program stays in the L1/L2 cache. Leaves are loaded per tile:
//! input chunks are borrowed in place when contiguous (zero copy) and broadcast otherwise;
//! generators compute their values from global indices. Registers are freed after their last
//! use, and an operation whose left operand dies reuses its buffer.

use brisk_core::{TaskFailure, Value};
use ndarray::{ArrayD, IxDyn, Slice};
use serde::{Deserialize, Serialize};

use crate::dtype::{DType, ScalarValue, with_dtype};
pub(crate) use crate::eval_ops::{Opnd, binary, cast, select, type_error, unary};
use crate::expr::{ENode, LeafView, Program};
pub(crate) use crate::generate::{gen_tile, hash64};
use crate::num::Num;

crate::kernels::kernel! {
    /// `(program, loc, inputs…) -> chunk`
    pub(crate) EVAL = "brisk_array::eval" => crate::eval::eval_kernel
}

/// The blockwise evaluation kernel, labelled by the expression's outermost operation.
pub(crate) fn eval_func(label: &'static str) -> brisk_core::Func {
    crate::kernels::func(EVAL, label)
}

/// Elements per tile: small enough that a handful of `f64` registers fit in L1/L2.
pub const TILE: usize = 4096;

/// Where one chunk sits in its array: global start and shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkLoc {
    /// The global index of the chunk's first element, per axis.
    pub start: Vec<usize>,
    /// The chunk's shape.
    pub shape: Vec<usize>,
}
brisk_core::data!(ChunkLoc, serde);

/// A buffer of one tile: borrowed from an input chunk, owned, or one value broadcast.
pub(crate) enum Buf<'a, T> {
    Slice(&'a [T]),
    Owned(Vec<T>),
    Scalar(T),
}

/// A borrowed view of a [`Buf`] for reading.
#[derive(Clone, Copy)]
pub(crate) enum Src<'b, T> {
    Slice(&'b [T]),
    Scalar(T),
}

impl<T: Copy> Buf<'_, T> {
    pub fn src(&self) -> Src<'_, T> {
        match self {
            Buf::Slice(s) => Src::Slice(s),
            Buf::Owned(v) => Src::Slice(v),
            Buf::Scalar(x) => Src::Scalar(*x),
        }
    }

    /// Write the tile's `len` values into `out`.
    pub fn write_to(&self, out: &mut [T]) {
        match self {
            Buf::Slice(s) => out.copy_from_slice(&s[..out.len()]),
            Buf::Owned(v) => out.copy_from_slice(&v[..out.len()]),
            Buf::Scalar(x) => out.fill(*x),
        }
    }
}

/// A register: a tile of some element type.
pub(crate) enum Reg<'a> {
    Bool(Buf<'a, bool>),
    U8(Buf<'a, u8>),
    I32(Buf<'a, i32>),
    I64(Buf<'a, i64>),
    U64(Buf<'a, u64>),
    F32(Buf<'a, f32>),
    F64(Buf<'a, f64>),
}

/// A chunk passed to a kernel, typed at run time.
#[derive(Clone, Copy)]
pub(crate) enum ChunkRef<'a> {
    Bool(&'a ArrayD<bool>),
    U8(&'a ArrayD<u8>),
    I32(&'a ArrayD<i32>),
    I64(&'a ArrayD<i64>),
    U64(&'a ArrayD<u64>),
    F32(&'a ArrayD<f32>),
    F64(&'a ArrayD<f64>),
}

impl<'a> ChunkRef<'a> {
    pub fn shape(&self) -> &'a [usize] {
        match *self {
            ChunkRef::Bool(a) => a.shape(),
            ChunkRef::U8(a) => a.shape(),
            ChunkRef::I32(a) => a.shape(),
            ChunkRef::I64(a) => a.shape(),
            ChunkRef::U64(a) => a.shape(),
            ChunkRef::F32(a) => a.shape(),
            ChunkRef::F64(a) => a.shape(),
        }
    }

    /// Read `value` as a chunk of `dtype`.
    pub fn from_value(value: &'a Value, dtype: DType, what: &str) -> Result<Self, TaskFailure> {
        with_dtype!(dtype, T => {
            value
                .downcast_ref::<ArrayD<T>>()
                .map(T::chunk_ref)
                .map_err(|m| TaskFailure::msg(format!("{what}: {m}")))
        })
    }
}

/// Element types as kernels see them: arithmetic plus moving in and out of registers.
pub(crate) trait KElem: Num {
    fn reg(b: Buf<'_, Self>) -> Reg<'_>;
    fn unreg<'a>(r: Reg<'a>) -> Option<Buf<'a, Self>>;
    fn unreg_ref<'r, 'a>(r: &'r Reg<'a>) -> Option<&'r Buf<'a, Self>>;
    fn chunk_ref(a: &ArrayD<Self>) -> ChunkRef<'_>;
}

macro_rules! kelem {
    ($t:ty, $v:ident) => {
        impl KElem for $t {
            fn reg(b: Buf<'_, Self>) -> Reg<'_> {
                Reg::$v(b)
            }
            fn unreg<'a>(r: Reg<'a>) -> Option<Buf<'a, Self>> {
                match r {
                    Reg::$v(b) => Some(b),
                    _ => None,
                }
            }
            fn unreg_ref<'r, 'a>(r: &'r Reg<'a>) -> Option<&'r Buf<'a, Self>> {
                match r {
                    Reg::$v(b) => Some(b),
                    _ => None,
                }
            }
            fn chunk_ref(a: &ArrayD<Self>) -> ChunkRef<'_> {
                ChunkRef::$v(a)
            }
        }
    };
}
kelem!(bool, Bool);
kelem!(u8, U8);
kelem!(i32, I32);
kelem!(i64, I64);
kelem!(u64, U64);
kelem!(f32, F32);
kelem!(f64, F64);

impl Reg<'_> {
    pub fn dtype(&self) -> DType {
        match self {
            Reg::Bool(_) => DType::Bool,
            Reg::U8(_) => DType::U8,
            Reg::I32(_) => DType::I32,
            Reg::I64(_) => DType::I64,
            Reg::U64(_) => DType::U64,
            Reg::F32(_) => DType::F32,
            Reg::F64(_) => DType::F64,
        }
    }
}

/// One tile of a chunk: fixed indices on the axes before `k`, rows `r0..r1` of axis `k`, whole
/// trailing axes. `offset` is its first element's position in the chunk (C order).
pub(crate) struct Tile {
    pub k: usize,
    pub fixed: Vec<usize>,
    pub r0: usize,
    pub r1: usize,
    pub len: usize,
    pub offset: usize,
}

impl Tile {
    /// The tile's shape as an n-d block of the chunk (ones on the fixed axes).
    pub fn nd_shape(&self, chunk: &[usize]) -> Vec<usize> {
        (0..chunk.len())
            .map(|o| {
                if o < self.k {
                    1
                } else if o == self.k {
                    self.r1 - self.r0
                } else {
                    chunk[o]
                }
            })
            .collect()
    }

    /// The tile's start within the chunk, per axis.
    pub fn local_start(&self, ndim: usize) -> Vec<usize> {
        (0..ndim)
            .map(|o| {
                if o < self.k {
                    self.fixed[o]
                } else if o == self.k {
                    self.r0
                } else {
                    0
                }
            })
            .collect()
    }
}

/// Call `f` on every tile of a chunk of `shape`, in C order.
pub(crate) fn for_each_tile(
    shape: &[usize],
    mut f: impl FnMut(&Tile) -> Result<(), TaskFailure>,
) -> Result<(), TaskFailure> {
    let n = shape.len();
    if n == 0 {
        return f(&Tile {
            k: 0,
            fixed: vec![],
            r0: 0,
            r1: 1,
            len: 1,
            offset: 0,
        });
    }
    if shape.contains(&0) {
        return Ok(());
    }
    let mut k = 0;
    let mut inner: usize = shape[1..].iter().product();
    while k + 1 < n && inner > TILE {
        k += 1;
        inner /= shape[k];
    }
    let rows = (TILE / inner.max(1)).max(1);
    let mut fixed = vec![0usize; k];
    let mut offset = 0usize;
    loop {
        let mut r0 = 0;
        while r0 < shape[k] {
            let r1 = (r0 + rows).min(shape[k]);
            let len = (r1 - r0) * inner;
            f(&Tile {
                k,
                fixed: fixed.clone(),
                r0,
                r1,
                len,
                offset,
            })?;
            offset += len;
            r0 = r1;
        }
        // Odometer over the fixed axes.
        let mut a = k;
        loop {
            if a == 0 {
                return Ok(());
            }
            a -= 1;
            fixed[a] += 1;
            if fixed[a] < shape[a] {
                break;
            }
            fixed[a] = 0;
        }
    }
}

pub(crate) fn fail(msg: impl Into<String>) -> TaskFailure {
    TaskFailure::msg(msg.into())
}

/// Check that each input chunk has the shape its leaves expect for an output chunk of
/// `shape`.
pub(crate) fn check_inputs(
    program: &Program,
    inputs: &[ChunkRef<'_>],
    shape: &[usize],
) -> Result<(), TaskFailure> {
    if inputs.len() != program.inputs.len() {
        return Err(fail(format!(
            "the expression reads {} input chunk(s) but the task passed {}",
            program.inputs.len(),
            inputs.len()
        )));
    }
    if shape.len() != program.ndim {
        return Err(fail(format!(
            "chunk of {} axes for an expression of {}",
            shape.len(),
            program.ndim
        )));
    }
    for n in &program.nodes {
        if let ENode::Input { slot, view, .. } = n {
            let c = &inputs[*slot as usize];
            let cs = c.shape();
            let ok = cs.len() == view.bcast.len()
                && cs.iter().enumerate().all(|(a, &d)| {
                    if view.bcast[a] {
                        d == 1
                    } else {
                        d == shape[view.out_axis(a)]
                    }
                });
            if !ok {
                return Err(fail(format!(
                    "input chunk {slot} has shape {:?}, which does not line up with the output \
                     chunk {:?}",
                    cs, shape
                )));
            }
        }
    }
    Ok(())
}

/// Evaluate `program` on one tile. `last` is [`Program::last_uses`].
pub(crate) fn eval_tile<'a>(
    program: &Program,
    last: &[u32],
    inputs: &[ChunkRef<'a>],
    loc: &ChunkLoc,
    tile: &Tile,
    regs: &mut Vec<Option<Reg<'a>>>,
) -> Result<Reg<'a>, TaskFailure> {
    regs.clear();
    regs.resize_with(program.nodes.len(), || None);
    for (i, node) in program.nodes.iter().enumerate() {
        let dies = |x: u32| last.get(x as usize).copied() == Some(i as u32);
        let r = match node {
            ENode::Input { slot, view, .. } => load_input(inputs[*slot as usize], view, loc, tile)?,
            ENode::Gen {
                generator,
                dtype,
                shape,
                view,
            } => {
                with_dtype!(*dtype, T => T::reg(gen_tile::<T>(generator, shape, view, loc, tile)?))
            }
            ENode::Const(s) => scalar_reg(*s),
            ENode::Unary { op, x, dtype } => {
                let owned = if dies(*x) {
                    regs[*x as usize].take()
                } else {
                    None
                };
                match owned {
                    Some(r) => unary(*op, Opnd::Owned(r), *dtype)?,
                    None => unary(*op, Opnd::Borrowed(get(regs, *x)?), *dtype)?,
                }
            }
            ENode::Cast { x, dtype } => cast(get(regs, *x)?, *dtype)?,
            ENode::Binary { op, a, b, dtype } => {
                let owned = if dies(*a) && a != b {
                    regs[*a as usize].take()
                } else {
                    None
                };
                let rb = get(regs, *b)?;
                match owned {
                    Some(ra) => binary(*op, Opnd::Owned(ra), rb, *dtype)?,
                    None => binary(*op, Opnd::Borrowed(get(regs, *a)?), rb, *dtype)?,
                }
            }
            ENode::Where { c, a, b, dtype } => select(
                get(regs, *c)?,
                get(regs, *a)?,
                get(regs, *b)?,
                *dtype,
                tile.len,
            )?,
        };
        // Free operands whose last use was this node.
        for o in operands(node).into_iter().flatten() {
            if dies(o) {
                regs[o as usize] = None;
            }
        }
        regs[i] = Some(r);
    }
    regs.pop()
        .flatten()
        .ok_or_else(|| fail("empty expression program"))
}

fn operands(n: &ENode) -> [Option<u32>; 3] {
    match n {
        ENode::Unary { x, .. } | ENode::Cast { x, .. } => [Some(*x), None, None],
        ENode::Binary { a, b, .. } => [Some(*a), Some(*b), None],
        ENode::Where { c, a, b, .. } => [Some(*c), Some(*a), Some(*b)],
        _ => [None; 3],
    }
}

fn get<'r, 'a>(regs: &'r [Option<Reg<'a>>], i: u32) -> Result<&'r Reg<'a>, TaskFailure> {
    regs.get(i as usize)
        .and_then(Option::as_ref)
        .ok_or_else(|| fail(format!("expression node {i} is used before it is computed")))
}

fn scalar_reg(s: ScalarValue) -> Reg<'static> {
    match s {
        ScalarValue::Bool(x) => Reg::Bool(Buf::Scalar(x)),
        ScalarValue::U8(x) => Reg::U8(Buf::Scalar(x)),
        ScalarValue::I32(x) => Reg::I32(Buf::Scalar(x)),
        ScalarValue::I64(x) => Reg::I64(Buf::Scalar(x)),
        ScalarValue::U64(x) => Reg::U64(Buf::Scalar(x)),
        ScalarValue::F32(x) => Reg::F32(Buf::Scalar(x)),
        ScalarValue::F64(x) => Reg::F64(Buf::Scalar(x)),
    }
}

fn load_input<'a>(
    c: ChunkRef<'a>,
    view: &LeafView,
    loc: &ChunkLoc,
    tile: &Tile,
) -> Result<Reg<'a>, TaskFailure> {
    macro_rules! go {
        ($a:expr) => {
            Ok(KElem::reg(load_typed($a, view, loc, tile)?))
        };
    }
    match c {
        ChunkRef::Bool(a) => go!(a),
        ChunkRef::U8(a) => go!(a),
        ChunkRef::I32(a) => go!(a),
        ChunkRef::I64(a) => go!(a),
        ChunkRef::U64(a) => go!(a),
        ChunkRef::F32(a) => go!(a),
        ChunkRef::F64(a) => go!(a),
    }
}

fn load_typed<'a, T: Copy>(
    a: &'a ArrayD<T>,
    view: &LeafView,
    loc: &ChunkLoc,
    tile: &Tile,
) -> Result<Buf<'a, T>, TaskFailure> {
    let n = loc.shape.len();
    let v = a.slice_each_axis(|ad| {
        let la = ad.axis.index();
        let o = view.out_axis(la);
        if view.bcast[la] {
            Slice::from(0..1)
        } else if o < tile.k {
            let i = tile.fixed[o] as isize;
            Slice::from(i..i + 1)
        } else if o == tile.k {
            Slice::from(tile.r0..tile.r1)
        } else {
            Slice::from(..)
        }
    });
    if v.len() == 1 {
        return v
            .first()
            .map(|x| Buf::Scalar(*x))
            .ok_or_else(|| fail("empty input chunk"));
    }
    if v.len() == tile.len {
        if let Some(s) = v.to_slice() {
            return Ok(Buf::Slice(s));
        }
        return Ok(Buf::Owned(v.iter().copied().collect()));
    }
    let target = tile.nd_shape(&loc.shape);
    debug_assert_eq!(target.len(), n);
    let b = v
        .broadcast(IxDyn(&target))
        .ok_or_else(|| fail(format!("cannot broadcast {:?} to {:?}", v.shape(), target)))?;
    let mut out = Vec::with_capacity(tile.len);
    // Broadcast along the last axis (a column of means against rows): fill runs.
    if let Some(&last) = target.last()
        && b.strides().last() == Some(&0)
        && last > 1
    {
        for x in b.index_axis(ndarray::Axis(n - 1), 0).iter() {
            out.extend(std::iter::repeat_n(*x, last));
        }
        return Ok(Buf::Owned(out));
    }
    out.extend(b.iter().copied());
    Ok(Buf::Owned(out))
}

pub(crate) fn scalar_f64(s: ScalarValue) -> f64 {
    match s {
        ScalarValue::Bool(x) => x.as_f64(),
        ScalarValue::U8(x) => x.as_f64(),
        ScalarValue::I32(x) => x.as_f64(),
        ScalarValue::I64(x) => x.as_f64(),
        ScalarValue::U64(x) => x.as_f64(),
        ScalarValue::F32(x) => x.as_f64(),
        ScalarValue::F64(x) => x,
    }
}

pub(crate) fn scalar_as<T: Num>(s: ScalarValue) -> T {
    match s {
        ScalarValue::Bool(x) => x.cast(),
        ScalarValue::U8(x) => x.cast(),
        ScalarValue::I32(x) => x.cast(),
        ScalarValue::I64(x) => x.cast(),
        ScalarValue::U64(x) => x.cast(),
        ScalarValue::F32(x) => x.cast(),
        ScalarValue::F64(x) => x.cast(),
    }
}

/// Read `inputs` as the chunks `program` expects.
pub(crate) fn chunk_refs<'a>(
    program: &Program,
    inputs: &'a [Value],
) -> Result<Vec<ChunkRef<'a>>, TaskFailure> {
    if inputs.len() != program.inputs.len() {
        return Err(fail(format!(
            "the expression reads {} input chunk(s) but the task passed {}",
            program.inputs.len(),
            inputs.len()
        )));
    }
    inputs
        .iter()
        .zip(&program.inputs)
        .enumerate()
        .map(|(i, (v, dt))| ChunkRef::from_value(v, *dt, &format!("input chunk {i}")))
        .collect()
}

/// `loc` with unknown sizes (after boolean indexing) filled in from the input chunks.
pub(crate) fn resolve_loc(
    program: &Program,
    inputs: &[ChunkRef<'_>],
    loc: &ChunkLoc,
) -> Result<ChunkLoc, TaskFailure> {
    if !loc.shape.contains(&crate::chunks::UNKNOWN) {
        return Ok(loc.clone());
    }
    let mut out = loc.clone();
    for n in &program.nodes {
        match n {
            ENode::Input { slot, view, .. } => {
                let cs = inputs
                    .get(*slot as usize)
                    .map(|c| c.shape())
                    .ok_or_else(|| fail("expression input missing"))?;
                for (a, &d) in cs.iter().enumerate() {
                    let o = view.out_axis(a);
                    if !view.bcast.get(a).copied().unwrap_or(true)
                        && out.shape.get(o) == Some(&crate::chunks::UNKNOWN)
                    {
                        out.shape[o] = d;
                    }
                }
            }
            ENode::Gen { .. } => {
                return Err(fail(
                    "generated values cannot be combined with chunks of unknown size; call compute_chunk_sizes() first",
                ));
            }
            _ => {}
        }
    }
    if out.shape.contains(&crate::chunks::UNKNOWN) {
        return Err(fail(
            "chunk of unknown size; call compute_chunk_sizes() first",
        ));
    }
    Ok(out)
}

/// Evaluate `program` over a whole chunk at `loc`.
pub(crate) fn eval_chunk<T: KElem>(
    program: &Program,
    inputs: &[ChunkRef<'_>],
    loc: &ChunkLoc,
) -> Result<ArrayD<T>, TaskFailure> {
    if program.dtype() != T::DTYPE {
        return Err(type_error("expression", program.dtype(), T::DTYPE));
    }
    check_inputs(program, inputs, &loc.shape)?;
    let last = program.last_uses();
    let total: usize = loc.shape.iter().product();
    let mut out: Vec<T> = vec![T::ZERO; total];
    let mut regs = Vec::new();
    for_each_tile(&loc.shape, |tile| {
        let r = eval_tile(program, &last, inputs, loc, tile, &mut regs)?;
        let b = T::unreg(r).ok_or_else(|| type_error("expression", program.dtype(), T::DTYPE))?;
        b.write_to(&mut out[tile.offset..tile.offset + tile.len]);
        Ok(())
    })?;
    ArrayD::from_shape_vec(IxDyn(&loc.shape), out).map_err(|e| fail(e.to_string()))
}

/// The kernel behind every elementwise chunk: `(program, loc, inputs…) -> chunk`.
pub(crate) fn eval_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [program, loc, inputs @ ..] = args else {
        return Err(fail(
            "eval: expected a program, a chunk location and inputs",
        ));
    };
    let program = program
        .downcast_ref::<Program>()
        .map_err(|m| fail(format!("eval: {m}")))?;
    let loc = loc
        .downcast_ref::<ChunkLoc>()
        .map_err(|m| fail(format!("eval: {m}")))?;
    program.validate().map_err(fail)?;
    let refs = chunk_refs(program, inputs)?;
    let loc = resolve_loc(program, &refs, loc)?;
    with_dtype!(program.dtype(), T => Ok(Value::new(eval_chunk::<T>(program, &refs, &loc)?)))
}
