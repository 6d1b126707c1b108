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

use crate::dtype::{DType, Element, ScalarValue, with_dtype};
use crate::expr::{BinaryOp, Dist, ENode, Gen, LeafView, Program, UnaryOp};
use crate::num::{FloatMath, Num};

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

fn fail(msg: impl Into<String>) -> TaskFailure {
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

/// SplitMix64's output function at counter `i` of the stream `seed`.
#[inline]
pub(crate) fn hash64(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The generator's values on one tile.
fn gen_tile<T: KElem>(
    generator: &Gen,
    leaf_shape: &[usize],
    view: &LeafView,
    loc: &ChunkLoc,
    tile: &Tile,
) -> Result<Buf<'static, T>, TaskFailure> {
    let n = loc.shape.len();
    let la = leaf_shape.len();
    let mut lstride = vec![1u64; la];
    for a in (0..la.saturating_sub(1)).rev() {
        lstride[a] = lstride[a + 1] * leaf_shape[a + 1] as u64;
    }
    let ts = tile.nd_shape(&loc.shape);
    let local = tile.local_start(n);
    let rowlen = ts.last().copied().unwrap_or(1);
    let inc: u64 = if la > 0 && !view.bcast[la - 1] { 1 } else { 0 };
    let mut out: Vec<T> = Vec::with_capacity(tile.len);
    // Odometer over the tile's rows (all axes but the last).
    let mut pos = vec![0usize; n.saturating_sub(1)];
    let rows = tile.len / rowlen.max(1);
    let seed = match generator {
        Gen::Random { seed, .. } => hash64(*seed, u64::MAX),
        _ => 0,
    };
    for _ in 0..rows {
        let mut base = 0u64;
        for (a, ls) in lstride.iter().enumerate() {
            if view.bcast[a] {
                continue;
            }
            let o = view.out_axis(a);
            let t = if o + 1 == n { 0 } else { pos[o] };
            let g = loc.start[o] + local[o] + t;
            base += g as u64 * ls;
        }
        match generator {
            Gen::Arange { start, step } => {
                if T::IS_FLOAT {
                    let s0 = scalar_f64(*start);
                    let d = scalar_f64(*step);
                    fill_affine_f64(&mut out, s0, d, base, inc, rowlen);
                } else {
                    let s0 = scalar_as::<T>(*start);
                    let d = scalar_as::<T>(*step);
                    let first = s0.add(d.mul(T::from_u64(base)));
                    fill_affine(&mut out, first, d.mul(T::from_u64(inc)), rowlen);
                }
            }
            Gen::Linspace {
                start,
                step,
                last,
                num,
            } => out.extend((0..rowlen as u64).map(|j| {
                let i = base + j * inc;
                match last {
                    Some(l) if i + 1 == *num => T::from_f64(*l),
                    _ => T::from_f64(start + i as f64 * step),
                }
            })),
            Gen::Random { dist, .. } => {
                match *dist {
                    Dist::Uniform { low, high } => out.extend((0..rowlen as u64).map(|j| {
                        T::from_f64(low + (high - low) * unit(hash64(seed, base + j * inc)))
                    })),
                    Dist::Normal { mean, std } => out.extend((0..rowlen as u64).map(|j| {
                        let i = base + j * inc;
                        let u1 = 1.0 - unit(hash64(seed, 2 * i));
                        let u2 = unit(hash64(seed, 2 * i + 1));
                        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                        T::from_f64(mean + std * z)
                    })),
                    Dist::Integers { low, high } => {
                        let range = high.wrapping_sub(low) as u64;
                        out.extend((0..rowlen as u64).map(|j| {
                            let h = hash64(seed, base + j * inc);
                            let r = ((u128::from(h) * u128::from(range)) >> 64) as u64;
                            T::from_i64(low.wrapping_add(r as i64))
                        }))
                    }
                }
            }
            Gen::Eye { k } => {
                let cols = leaf_shape.get(1).copied().unwrap_or(1).max(1) as u64;
                out.extend((0..rowlen as u64).map(|j| {
                    let i = base + j * inc;
                    let (r, c) = (i / cols, i % cols);
                    if c as i64 - r as i64 == *k {
                        T::ONE
                    } else {
                        T::ZERO
                    }
                }))
            }
        }
        // Advance the row odometer over tile axes 0..n-1.
        let mut a = n.saturating_sub(1);
        while a > 0 {
            a -= 1;
            pos[a] += 1;
            if pos[a] < ts[a] {
                break;
            }
            pos[a] = 0;
        }
    }
    Ok(Buf::Owned(out))
}

/// Append `first, first + step, …` (`n` values) as a running sum: an induction variable the
/// compiler vectorizes without 64-bit multiplies.
fn fill_affine<T: Num>(out: &mut Vec<T>, first: T, step: T, n: usize) {
    let start = out.len();
    out.resize(start + n, first);
    let mut v = first;
    for o in &mut out[start..] {
        *o = v;
        v = v.add(step);
    }
}

/// [`fill_affine`] for floats computed in `f64` (`first + k * step`, exact in `k`).
fn fill_affine_f64<T: Num>(out: &mut Vec<T>, start: f64, step: f64, base: u64, inc: u64, n: usize) {
    let begin = out.len();
    out.resize(begin + n, T::ZERO);
    let (base, inc) = (base as f64, inc as f64);
    for (k, o) in out[begin..].iter_mut().enumerate() {
        // `start + i * step` with the global index `i` exact in f64, so values never depend on
        // the chunking; tiles are far below 2^31 elements, and i32 -> f64 converts in vector
        // registers.
        *o = T::from_f64(start + (base + f64::from(k as i32) * inc) * step);
    }
}

fn scalar_f64(s: ScalarValue) -> f64 {
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

/// An operand: a register taken by value (its buffer may be reused) or borrowed.
enum Opnd<'r, 'a> {
    Owned(Reg<'a>),
    Borrowed(&'r Reg<'a>),
}

fn map1<T: Copy, U: 'static>(a: Src<'_, T>, f: impl Fn(T) -> U) -> Buf<'static, U> {
    match a {
        Src::Scalar(x) => Buf::Scalar(f(x)),
        Src::Slice(s) => Buf::Owned(s.iter().map(|&x| f(x)).collect()),
    }
}

fn map1_owned<'a, T: Copy + 'static>(a: Buf<'a, T>, f: impl Fn(T) -> T) -> Buf<'a, T> {
    match a {
        Buf::Owned(mut v) => {
            for e in v.iter_mut() {
                *e = f(*e);
            }
            Buf::Owned(v)
        }
        Buf::Scalar(x) => Buf::Scalar(f(x)),
        Buf::Slice(s) => Buf::Owned(s.iter().map(|&x| f(x)).collect()),
    }
}

fn map2<T: Copy, U: 'static>(
    a: Src<'_, T>,
    b: Src<'_, T>,
    f: impl Fn(T, T) -> U,
) -> Buf<'static, U> {
    match (a, b) {
        (Src::Scalar(x), Src::Scalar(y)) => Buf::Scalar(f(x, y)),
        (Src::Scalar(x), Src::Slice(t)) => Buf::Owned(t.iter().map(|&y| f(x, y)).collect()),
        (Src::Slice(s), Src::Scalar(y)) => Buf::Owned(s.iter().map(|&x| f(x, y)).collect()),
        (Src::Slice(s), Src::Slice(t)) => {
            Buf::Owned(s.iter().zip(t).map(|(&x, &y)| f(x, y)).collect())
        }
    }
}

fn map2_owned<'a, T: Copy + 'static>(
    a: Buf<'a, T>,
    b: Src<'_, T>,
    f: impl Fn(T, T) -> T,
) -> Buf<'a, T> {
    match (a, b) {
        (Buf::Owned(mut v), Src::Scalar(y)) => {
            for e in v.iter_mut() {
                *e = f(*e, y);
            }
            Buf::Owned(v)
        }
        (Buf::Owned(mut v), Src::Slice(t)) => {
            for (e, &y) in v.iter_mut().zip(t) {
                *e = f(*e, y);
            }
            Buf::Owned(v)
        }
        (a, b) => map2(a.src(), b, f),
    }
}

fn type_error(what: &str, found: DType, want: DType) -> TaskFailure {
    fail(format!("{what}: expected {want} values, found {found}"))
}

fn unary<'a>(op: UnaryOp, x: Opnd<'_, 'a>, out: DType) -> Result<Reg<'a>, TaskFailure> {
    let dt = match &x {
        Opnd::Owned(r) => r.dtype(),
        Opnd::Borrowed(r) => r.dtype(),
    };
    if op.is_predicate() {
        if out != DType::Bool {
            return Err(type_error(op.name(), out, DType::Bool));
        }
        return with_dtype!(dt, T => {
            let r = match &x {
                Opnd::Owned(r) => r,
                Opnd::Borrowed(r) => *r,
            };
            let b = T::unreg_ref(r).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?;
            Ok(Reg::Bool(match op {
                UnaryOp::IsNan => map1(b.src(), |v: T| Num::is_nan(v)),
                UnaryOp::IsInf => map1(b.src(), |v: T| v.is_inf()),
                _ => map1(b.src(), |v: T| !Num::is_nan(v) && !v.is_inf()),
            }))
        });
    }
    if out != dt {
        return Err(type_error(op.name(), dt, out));
    }
    if op.float_only() {
        return match x {
            Opnd::Owned(Reg::F64(b)) => Ok(Reg::F64(map1_owned(b, |v| v.apply(op)))),
            Opnd::Owned(Reg::F32(b)) => Ok(Reg::F32(map1_owned(b, |v| v.apply(op)))),
            Opnd::Borrowed(Reg::F64(b)) => Ok(Reg::F64(map1(b.src(), |v| v.apply(op)))),
            Opnd::Borrowed(Reg::F32(b)) => Ok(Reg::F32(map1(b.src(), |v| v.apply(op)))),
            _ => Err(fail(format!(
                "{} needs f32 or f64 values, found {dt}",
                op.name()
            ))),
        };
    }
    with_dtype!(dt, T => {
        let f = move |v: T| -> T {
            match op {
                UnaryOp::Neg => v.neg(),
                UnaryOp::Abs => Num::abs(v),
                UnaryOp::Sign => v.sign(),
                UnaryOp::Square => v.mul(v),
                _ => v.not(),
            }
        };
        match x {
            Opnd::Owned(r) => {
                let b = T::unreg(r).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?;
                Ok(T::reg(map1_owned(b, f)))
            }
            Opnd::Borrowed(r) => {
                let b = T::unreg_ref(r).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?;
                Ok(T::reg(map1(b.src(), f)))
            }
        }
    })
}

fn cast<'a>(x: &Reg<'_>, to: DType) -> Result<Reg<'a>, TaskFailure> {
    let from = x.dtype();
    with_dtype!(from, T => {
        let b = T::unreg_ref(x).ok_or_else(|| type_error("astype", from, T::DTYPE))?;
        with_dtype!(to, U => Ok(U::reg(map1(b.src(), |v: T| v.cast::<U>()))))
    })
}

fn binary<'a>(
    op: BinaryOp,
    a: Opnd<'_, 'a>,
    b: &Reg<'_>,
    out: DType,
) -> Result<Reg<'a>, TaskFailure> {
    let dt = b.dtype();
    let adt = match &a {
        Opnd::Owned(r) => r.dtype(),
        Opnd::Borrowed(r) => r.dtype(),
    };
    if adt != dt {
        return Err(fail(format!(
            "{}: operands of different types ({adt} and {dt})",
            op.name()
        )));
    }
    if op.is_comparison() {
        if out != DType::Bool {
            return Err(type_error(op.name(), out, DType::Bool));
        }
        return with_dtype!(dt, T => {
            let ra = match &a {
                Opnd::Owned(r) => r,
                Opnd::Borrowed(r) => *r,
            };
            let x = T::unreg_ref(ra).ok_or_else(|| type_error(op.name(), adt, T::DTYPE))?.src();
            let y = T::unreg_ref(b).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?.src();
            Ok(Reg::Bool(match op {
                #[allow(clippy::bool_comparison)]
                BinaryOp::Lt => map2(x, y, |p: T, q: T| p < q),
                BinaryOp::Le => map2(x, y, |p: T, q: T| p <= q),
                #[allow(clippy::bool_comparison)]
                BinaryOp::Gt => map2(x, y, |p: T, q: T| p > q),
                BinaryOp::Ge => map2(x, y, |p: T, q: T| p >= q),
                BinaryOp::Eq => map2(x, y, |p: T, q: T| p == q),
                _ => map2(x, y, |p: T, q: T| p != q),
            }))
        });
    }
    if out != dt {
        return Err(type_error(op.name(), dt, out));
    }
    with_dtype!(dt, T => {
        let y = T::unreg_ref(b).ok_or_else(|| type_error(op.name(), dt, T::DTYPE))?.src();
        macro_rules! apply {
            ($f:expr) => {
                match a {
                    Opnd::Owned(r) => {
                        let x = T::unreg(r).ok_or_else(|| type_error(op.name(), adt, T::DTYPE))?;
                        T::reg(map2_owned(x, y, $f))
                    }
                    Opnd::Borrowed(r) => {
                        let x = T::unreg_ref(r).ok_or_else(|| type_error(op.name(), adt, T::DTYPE))?;
                        T::reg(map2(x.src(), y, $f))
                    }
                }
            };
        }
        Ok(match op {
            BinaryOp::Add => apply!(|p: T, q: T| p.add(q)),
            BinaryOp::Sub => apply!(|p: T, q: T| p.sub(q)),
            BinaryOp::Mul => apply!(|p: T, q: T| p.mul(q)),
            BinaryOp::Div => apply!(|p: T, q: T| p.div(q)),
            BinaryOp::Rem => apply!(|p: T, q: T| p.rem(q)),
            BinaryOp::Pow => apply!(|p: T, q: T| Num::pow(p, q)),
            BinaryOp::Maximum => apply!(|p: T, q: T| Num::maximum(p, q)),
            BinaryOp::Minimum => apply!(|p: T, q: T| Num::minimum(p, q)),
            BinaryOp::BitAnd => apply!(|p: T, q: T| p.bitand(q)),
            BinaryOp::BitOr => apply!(|p: T, q: T| p.bitor(q)),
            _ => apply!(|p: T, q: T| p.bitxor(q)),
        })
    })
}

fn select<'a>(
    c: &Reg<'_>,
    a: &Reg<'_>,
    b: &Reg<'_>,
    out: DType,
    len: usize,
) -> Result<Reg<'a>, TaskFailure> {
    let Reg::Bool(c) = c else {
        return Err(type_error("where", c.dtype(), DType::Bool));
    };
    with_dtype!(out, T => {
        let x = T::unreg_ref(a).ok_or_else(|| type_error("where", a.dtype(), out))?.src();
        let y = T::unreg_ref(b).ok_or_else(|| type_error("where", b.dtype(), out))?.src();
        let at = |s: Src<'_, T>, i: usize| match s {
            Src::Scalar(v) => v,
            Src::Slice(v) => v[i],
        };
        Ok(T::reg(match c.src() {
            Src::Scalar(true) => map1(x, |v| v),
            Src::Scalar(false) => map1(y, |v| v),
            Src::Slice(cs) => Buf::Owned(
                (0..len.min(cs.len()))
                    .map(|i| if cs[i] { at(x, i) } else { at(y, i) })
                    .collect(),
            ),
        }))
    })
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
