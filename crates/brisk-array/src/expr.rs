//! Blockwise expressions: how elementwise work is fused before it ever becomes tasks.
//!
//! An elementwise operation does not add a layer of tasks. It adds a node to a small
//! expression program ([`Program`]) whose leaves are input chunks, cheap generators (`arange`,
//! `random`, `eye`, …) and constants. Evaluating a program for one output chunk walks the chunk
//! in cache-sized tiles, so `(arange(1e9) + 1).sum()` never writes a whole chunk to memory: each
//! tile is generated, incremented and summed while it sits in L1.
//!
//! Leaves carry a [`LeafView`]: how the leaf's axes line up with the output's (numpy
//! broadcasting: leading new axes, and axes of length one stretched). Programs are plain data
//! (serde), so a task that evaluates one crosses process boundaries as a literal argument of a
//! named kernel.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::dtype::{DType, ScalarValue};

/// Elementwise functions of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum UnaryOp {
    Neg,
    Abs,
    Sign,
    Square,
    Not,
    IsNan,
    IsInf,
    IsFinite,
    Sqrt,
    Cbrt,
    Exp,
    Exp2,
    Expm1,
    Log,
    Log2,
    Log10,
    Log1p,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
    Sinh,
    Cosh,
    Tanh,
    Floor,
    Ceil,
    Trunc,
    Round,
    Reciprocal,
}

impl UnaryOp {
    /// numpy's name for it.
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "negative",
            Abs => "absolute",
            Sign => "sign",
            Square => "square",
            Not => "invert",
            IsNan => "isnan",
            IsInf => "isinf",
            IsFinite => "isfinite",
            Sqrt => "sqrt",
            Cbrt => "cbrt",
            Exp => "exp",
            Exp2 => "exp2",
            Expm1 => "expm1",
            Log => "log",
            Log2 => "log2",
            Log10 => "log10",
            Log1p => "log1p",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Arcsin => "arcsin",
            Arccos => "arccos",
            Arctan => "arctan",
            Sinh => "sinh",
            Cosh => "cosh",
            Tanh => "tanh",
            Floor => "floor",
            Ceil => "ceil",
            Trunc => "trunc",
            Round => "round",
            Reciprocal => "reciprocal",
        }
    }

    /// Whether the result is `bool` whatever the input.
    pub fn is_predicate(self) -> bool {
        matches!(self, UnaryOp::IsNan | UnaryOp::IsInf | UnaryOp::IsFinite)
    }

    /// Whether the function only exists for floats.
    pub fn float_only(self) -> bool {
        !matches!(
            self,
            UnaryOp::Neg
                | UnaryOp::Abs
                | UnaryOp::Sign
                | UnaryOp::Square
                | UnaryOp::Not
                | UnaryOp::IsNan
                | UnaryOp::IsInf
                | UnaryOp::IsFinite
        )
    }
}

/// Elementwise functions of two arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Maximum,
    Minimum,
    BitAnd,
    BitOr,
    BitXor,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl BinaryOp {
    /// numpy's name for it.
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "truediv",
            Rem => "mod",
            Pow => "pow",
            Maximum => "maximum",
            Minimum => "minimum",
            BitAnd => "and",
            BitOr => "or",
            BitXor => "xor",
            Lt => "lt",
            Le => "le",
            Gt => "gt",
            Ge => "ge",
            Eq => "eq",
            Ne => "ne",
        }
    }

    /// Whether the result is `bool` whatever the inputs.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Eq | BinaryOp::Ne
        )
    }
}

/// How a leaf's axes line up with the output's: `offset` new leading axes, then the leaf's
/// own axes, each either matching the output or stretched from length one (`bcast`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeafView {
    /// Output axes before the leaf's first axis.
    pub offset: usize,
    /// Per leaf axis: stretched from length one.
    pub bcast: Vec<bool>,
}

impl LeafView {
    /// A leaf that lines up exactly with an output of `ndim` axes.
    pub fn identity(ndim: usize) -> LeafView {
        LeafView {
            offset: 0,
            bcast: vec![false; ndim],
        }
    }

    /// The view of a leaf seen through `self` after it was seen through `inner`.
    pub fn compose(&self, inner: &LeafView) -> LeafView {
        LeafView {
            offset: inner.offset + self.offset,
            bcast: inner
                .bcast
                .iter()
                .enumerate()
                .map(|(a, &b)| b || self.bcast.get(inner.offset + a).copied().unwrap_or(false))
                .collect(),
        }
    }

    /// The output axis of leaf axis `a`.
    pub fn out_axis(&self, a: usize) -> usize {
        a + self.offset
    }
}

/// Random distributions of the generators.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Dist {
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound (excluded).
        high: f64,
    },
    /// Normal with a mean and a standard deviation.
    Normal {
        /// The mean.
        mean: f64,
        /// The standard deviation.
        std: f64,
    },
    /// Integers on `[low, high)`.
    Integers {
        /// Lower bound.
        low: i64,
        /// Upper bound (excluded).
        high: i64,
    },
}

/// Leaves computed from their global position: cheap, so never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Gen {
    /// `start + i * step` (1-D).
    Arange {
        /// The first value.
        start: ScalarValue,
        /// The step.
        step: ScalarValue,
    },
    /// `start + i * step`, with `stop` exactly at index `num - 1` when `endpoint` (1-D).
    Linspace {
        /// The first value.
        start: f64,
        /// The step.
        step: f64,
        /// The last value, when it is exact.
        last: Option<f64>,
        /// The number of values.
        num: u64,
    },
    /// Counter-based random numbers: the value at flat index `i` depends only on the seed and
    /// `i`, never on the chunking.
    Random {
        /// The seed.
        seed: u64,
        /// The distribution.
        dist: Dist,
    },
    /// One on the `k`-th diagonal (2-D).
    Eye {
        /// The diagonal: 0 main, > 0 above, < 0 below.
        k: i64,
    },
}

/// One node of a program; nodes refer to earlier nodes by position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ENode {
    /// The chunk passed as input `slot`.
    Input {
        /// Which input.
        slot: u32,
        /// Its element type.
        dtype: DType,
        /// Its axes against the output's.
        view: LeafView,
    },
    /// A generated leaf.
    Gen {
        /// What to generate.
        generator: Gen,
        /// The element type.
        dtype: DType,
        /// The leaf's whole shape (global, not per chunk).
        shape: Vec<usize>,
        /// Its axes against the output's.
        view: LeafView,
    },
    /// A constant, broadcast everywhere.
    Const(ScalarValue),
    /// `op(x)`.
    Unary {
        /// The function.
        op: UnaryOp,
        /// The argument.
        x: u32,
        /// The result type.
        dtype: DType,
    },
    /// `op(a, b)`.
    Binary {
        /// The function.
        op: BinaryOp,
        /// The left argument.
        a: u32,
        /// The right argument.
        b: u32,
        /// The result type.
        dtype: DType,
    },
    /// `x.astype(dtype)`.
    Cast {
        /// The argument.
        x: u32,
        /// The result type.
        dtype: DType,
    },
    /// `where(c, a, b)`.
    Where {
        /// The condition (`bool`).
        c: u32,
        /// Chosen where `c` is true.
        a: u32,
        /// Chosen elsewhere.
        b: u32,
        /// The result type.
        dtype: DType,
    },
}

impl ENode {
    /// The element type the node produces.
    pub fn dtype(&self) -> DType {
        match self {
            ENode::Input { dtype, .. }
            | ENode::Gen { dtype, .. }
            | ENode::Unary { dtype, .. }
            | ENode::Binary { dtype, .. }
            | ENode::Cast { dtype, .. }
            | ENode::Where { dtype, .. } => *dtype,
            ENode::Const(s) => s.dtype(),
        }
    }

    fn operands(&self) -> [Option<u32>; 3] {
        match self {
            ENode::Input { .. } | ENode::Gen { .. } | ENode::Const(_) => [None; 3],
            ENode::Unary { x, .. } | ENode::Cast { x, .. } => [Some(*x), None, None],
            ENode::Binary { a, b, .. } => [Some(*a), Some(*b), None],
            ENode::Where { c, a, b, .. } => [Some(*c), Some(*a), Some(*b)],
        }
    }

    fn shifted(&self, map: &[u32]) -> ENode {
        let m = |i: &u32| map.get(*i as usize).copied().unwrap_or(u32::MAX);
        match self {
            ENode::Unary { op, x, dtype } => ENode::Unary {
                op: *op,
                x: m(x),
                dtype: *dtype,
            },
            ENode::Binary { op, a, b, dtype } => ENode::Binary {
                op: *op,
                a: m(a),
                b: m(b),
                dtype: *dtype,
            },
            ENode::Cast { x, dtype } => ENode::Cast {
                x: m(x),
                dtype: *dtype,
            },
            ENode::Where { c, a, b, dtype } => ENode::Where {
                c: m(c),
                a: m(a),
                b: m(b),
                dtype: *dtype,
            },
            other => other.clone(),
        }
    }

    /// A short name for pictures and layer names.
    pub fn label(&self) -> &'static str {
        match self {
            ENode::Input { .. } => "getitem",
            ENode::Gen { generator, .. } => match generator {
                Gen::Arange { .. } => "arange",
                Gen::Linspace { .. } => "linspace",
                Gen::Random { .. } => "random",
                Gen::Eye { .. } => "eye",
            },
            ENode::Const(_) => "full",
            ENode::Unary { op, .. } => op.name(),
            ENode::Binary { op, .. } => op.name(),
            ENode::Cast { .. } => "astype",
            ENode::Where { .. } => "where",
        }
    }
}

/// A blockwise expression: nodes in evaluation order, the last one is the result. Evaluated
/// per output chunk of `ndim` axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// The nodes.
    pub nodes: Vec<ENode>,
    /// The output's number of axes.
    pub ndim: usize,
    /// The element type of each input slot.
    pub inputs: Vec<DType>,
}

impl Program {
    /// The result's element type.
    pub fn dtype(&self) -> DType {
        self.nodes.last().map(ENode::dtype).unwrap_or(DType::F64)
    }

    /// For each node, the last node that reads it (itself if none; the result is read last).
    pub fn last_uses(&self) -> Vec<u32> {
        let mut last: Vec<u32> = (0..self.nodes.len() as u32).collect();
        for (i, n) in self.nodes.iter().enumerate() {
            for o in n.operands().into_iter().flatten() {
                if let Some(l) = last.get_mut(o as usize) {
                    *l = i as u32;
                }
            }
        }
        if let Some(l) = last.last_mut() {
            *l = u32::MAX;
        }
        last
    }

    /// Check that every node refers to earlier nodes and inputs that exist.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("empty program".into());
        }
        for (i, n) in self.nodes.iter().enumerate() {
            for o in n.operands().into_iter().flatten() {
                if o as usize >= i {
                    return Err(format!(
                        "node {i} refers to node {o}, which is not before it"
                    ));
                }
            }
            let view = match n {
                ENode::Input { slot, view, dtype } => {
                    if self.inputs.get(*slot as usize) != Some(dtype) {
                        return Err(format!(
                            "node {i} reads input {slot}, which is not declared"
                        ));
                    }
                    Some(view)
                }
                ENode::Gen { view, shape, .. } => {
                    if shape.len() != view.bcast.len() {
                        return Err(format!("node {i}: generator shape and view disagree"));
                    }
                    Some(view)
                }
                _ => None,
            };
            if let Some(v) = view
                && v.offset + v.bcast.len() > self.ndim
            {
                return Err(format!("node {i} has more axes than the output"));
            }
        }
        Ok(())
    }

    /// The label of the outermost operation.
    pub fn label(&self) -> &'static str {
        self.nodes.last().map(ENode::label).unwrap_or("eval")
    }
}

/// A program plus the arrays its `Input` leaves read (by slot).
#[derive(Clone)]
pub(crate) struct Expr {
    pub program: Arc<Program>,
    /// Input arrays (each with chunk keys), and their views against the output.
    pub inputs: Vec<(Arc<crate::array::Meta>, LeafView)>,
}

/// Builds a program by combining operands.
pub(crate) struct ExprBuilder {
    nodes: Vec<ENode>,
    ndim: usize,
    inputs: Vec<(Arc<crate::array::Meta>, LeafView)>,
    input_slots: FxHashMap<(usize, LeafView), u32>,
    /// Operands already added; holding the `Arc` keeps its address from being reused.
    memo: FxHashMap<(usize, LeafView), (u32, Arc<crate::array::Meta>)>,
}

impl ExprBuilder {
    pub fn new(ndim: usize) -> Self {
        ExprBuilder {
            nodes: Vec::new(),
            ndim,
            inputs: Vec::new(),
            input_slots: FxHashMap::default(),
            memo: FxHashMap::default(),
        }
    }

    pub fn push(&mut self, node: ENode) -> u32 {
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }

    fn input(&mut self, meta: &Arc<crate::array::Meta>, view: LeafView) -> u32 {
        let key = (Arc::as_ptr(meta) as usize, view.clone());
        if let Some(&s) = self.input_slots.get(&key) {
            return s;
        }
        let s = self.inputs.len() as u32;
        self.inputs.push((Arc::clone(meta), view));
        self.input_slots.insert(key, s);
        s
    }

    /// Add `meta` seen through `view`: an expression is inlined (its leaves re-viewed), an
    /// array with chunk keys becomes an input leaf. The same operand twice is one node.
    pub fn operand(&mut self, meta: &Arc<crate::array::Meta>, view: LeafView) -> u32 {
        let key = (Arc::as_ptr(meta) as usize, view.clone());
        if let Some((id, _)) = self.memo.get(&key) {
            return *id;
        }
        let id = match meta.expr() {
            Some(expr) => self.inline(&expr, &view),
            None => {
                let slot = self.input(meta, view.clone());
                self.push(ENode::Input {
                    slot,
                    dtype: meta.dtype,
                    view,
                })
            }
        };
        self.memo.insert(key, (id, Arc::clone(meta)));
        id
    }

    fn inline(&mut self, expr: &Expr, view: &LeafView) -> u32 {
        let mut map: Vec<u32> = Vec::with_capacity(expr.program.nodes.len());
        for n in &expr.program.nodes {
            let new = match n {
                ENode::Input { slot, view: v, .. } => {
                    let (meta, _) = &expr.inputs[*slot as usize];
                    let composed = view.compose(v);
                    self.operand(meta, composed)
                }
                ENode::Gen {
                    generator,
                    dtype,
                    shape,
                    view: v,
                } => self.push(ENode::Gen {
                    generator: generator.clone(),
                    dtype: *dtype,
                    shape: shape.clone(),
                    view: view.compose(v),
                }),
                other => self.push(other.shifted(&map)),
            };
            map.push(new);
        }
        map.last().copied().unwrap_or(0)
    }

    /// Finish with node `out` as the result.
    pub fn finish(mut self, out: u32) -> Expr {
        if out as usize + 1 != self.nodes.len() {
            // Make the result the last node (a copy through an identity cast).
            let dtype = self.nodes[out as usize].dtype();
            self.push(ENode::Cast { x: out, dtype });
        }
        let inputs_dtypes = self.inputs.iter().map(|(m, _)| m.dtype).collect();
        Expr {
            program: Arc::new(Program {
                nodes: self.nodes,
                ndim: self.ndim,
                inputs: inputs_dtypes,
            }),
            inputs: self.inputs,
        }
    }
}

brisk_core::data!(Program, serde);
