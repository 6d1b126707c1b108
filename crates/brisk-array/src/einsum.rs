//! `einsum` by blocks: every axis labelled by one letter gets one chunking across the
//! operands (their common refinement), one task evaluates the expression on one block of each
//! operand for each output block and each combination of contracted-letter blocks, and a tree
//! of `sum_blocks` tasks adds the partial results of an output block.
//!
//! The per-block kernel is a direct loop over every letter's positions: right for small or
//! oddly shaped contractions; use [`Array::matmul`] or [`crate::tensordot`] for large matrix
//! products, which run on faer's GEMM.

use std::sync::Arc;

use brisk_core::{Arg, Key, Layer, Node, Task, TaskFailure, Value, tokenize};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::array::{Array, Body, Meta, for_each_block};
use crate::chunks;
use crate::dtype::{DType, Element};
use crate::error::{ArrayError, Result};

crate::kernels::kernel! {
    /// `(dtype, EinsumSpec, one block per operand…) -> partial output block`
    pub(crate) EINSUM = "brisk_array::einsum" => crate::einsum::einsum_kernel
}

/// Letters (as numbers `0..nletters`) of every operand axis and of the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EinsumSpec {
    operands: Vec<Vec<usize>>,
    output: Vec<usize>,
    nletters: usize,
}
brisk_core::data!(EinsumSpec, serde);

fn fail(msg: impl Into<String>) -> TaskFailure {
    TaskFailure::msg(msg.into())
}

fn block<T: Element + ndarray::LinalgScalar>(
    spec: &EinsumSpec,
    blocks: &[Value],
) -> Result<Value, TaskFailure> {
    let arrays: Vec<&ArrayD<T>> = blocks
        .iter()
        .map(|b| b.downcast_ref::<ArrayD<T>>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| fail(format!("einsum: {e}")))?;
    if arrays.len() != spec.operands.len() {
        return Err(fail("einsum: one block per operand is needed"));
    }
    // Each letter's length in these blocks, consistent across operands.
    let mut size: Vec<Option<usize>> = vec![None; spec.nletters];
    for (a, letters) in arrays.iter().zip(&spec.operands) {
        if a.ndim() != letters.len() {
            return Err(fail("einsum: a block has the wrong number of axes"));
        }
        for (&l, &d) in letters.iter().zip(a.shape()) {
            match size.get(l).copied().flatten() {
                Some(s) if s != d => return Err(fail("einsum: blocks do not line up")),
                _ => size[l] = Some(d),
            }
        }
    }
    let size: Vec<usize> = size.into_iter().map(|s| s.unwrap_or(1)).collect();
    let out_shape: Vec<usize> = spec.output.iter().map(|&l| size[l]).collect();
    let mut out = ArrayD::<T>::zeros(IxDyn(&out_shape));
    if size.contains(&0) {
        return Ok(Value::new(out));
    }
    let mut pos = vec![0usize; spec.nletters];
    let mut idx: Vec<Vec<usize>> = spec.operands.iter().map(|l| vec![0; l.len()]).collect();
    let mut oidx = vec![0usize; spec.output.len()];
    loop {
        let mut prod = T::one();
        for ((a, letters), ix) in arrays.iter().zip(&spec.operands).zip(idx.iter_mut()) {
            for (slot, &l) in ix.iter_mut().zip(letters) {
                *slot = pos[l];
            }
            prod = prod * a[IxDyn(ix)];
        }
        for (slot, &l) in oidx.iter_mut().zip(&spec.output) {
            *slot = pos[l];
        }
        let o = &mut out[IxDyn(&oidx)];
        *o = *o + prod;
        // Next position, last letter fastest.
        let mut l = spec.nletters;
        loop {
            if l == 0 {
                return Ok(Value::new(out));
            }
            l -= 1;
            pos[l] += 1;
            if pos[l] < size[l] {
                break;
            }
            pos[l] = 0;
        }
    }
}

pub(crate) fn einsum_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, spec, blocks @ ..] = args else {
        return Err(fail("einsum: expected a dtype, a spec and blocks"));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| fail(format!("einsum: {e}")))?;
    let spec = spec
        .downcast_ref::<EinsumSpec>()
        .map_err(|e| fail(format!("einsum: {e}")))?;
    match dt {
        DType::F64 => block::<f64>(spec, blocks),
        DType::F32 => block::<f32>(spec, blocks),
        DType::I64 => block::<i64>(spec, blocks),
        other => Err(fail(format!("einsum: {other} is not supported"))),
    }
}

/// Parse `"ij,jk->ik"` (or implicit `"ij,jk"`: the letters seen once, alphabetically).
fn parse(subscripts: &str, nops: usize) -> Result<(Vec<Vec<char>>, Vec<char>)> {
    let bad = |why: String| ArrayError::invalid("subscripts", format!("{subscripts:?}: {why}"));
    let s: String = subscripts.chars().filter(|c| !c.is_whitespace()).collect();
    let (ins, out) = match s.split_once("->") {
        Some((i, o)) => (i.to_string(), Some(o.to_string())),
        None => (s.clone(), None),
    };
    let ops: Vec<Vec<char>> = ins.split(',').map(|t| t.chars().collect()).collect();
    if ops.len() != nops {
        return Err(bad(format!(
            "names {} operands but {nops} were given",
            ops.len()
        )));
    }
    if let Some(c) = ops
        .iter()
        .flatten()
        .chain(
            out.iter()
                .flat_map(|o| o.chars().collect::<Vec<_>>().into_iter())
                .collect::<Vec<_>>()
                .iter(),
        )
        .find(|c| !c.is_ascii_alphabetic())
    {
        return Err(bad(format!(
            "{c:?} is not a letter (ellipses are not supported)"
        )));
    }
    let out: Vec<char> = match out {
        Some(o) => {
            let o: Vec<char> = o.chars().collect();
            for (i, c) in o.iter().enumerate() {
                if o[..i].contains(c) {
                    return Err(bad(format!("output letter {c:?} repeats")));
                }
                if !ops.iter().flatten().any(|x| x == c) {
                    return Err(bad(format!("output letter {c:?} is in no operand")));
                }
            }
            o
        }
        None => {
            let mut once: Vec<char> = ops
                .iter()
                .flatten()
                .copied()
                .filter(|c| ops.iter().flatten().filter(|x| *x == c).count() == 1)
                .collect();
            once.sort_unstable();
            once
        }
    };
    Ok((ops, out))
}

/// numpy's `einsum` for explicit (`"ij,jk->ik"`) and implicit (`"ij,jk"`) subscripts without
/// ellipses, on `f32`, `f64` or `i64` arrays of one type: traces (`"ii"`), diagonals
/// (`"ii->i"`), transposes, outer products and contractions over any number of operands.
///
/// ```
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let a = brisk_array::arange_with(0.0, 6.0, 1.0, 4)?.reshape(&[2, 3])?;
/// let b = brisk_array::ones::<f64>([3, 2], 2)?;
/// let c = brisk_array::einsum("ij,jk->ik", &[&a, &b])?.compute()?;
/// assert_eq!(c.as_slice().unwrap(), &[3.0, 3.0, 12.0, 12.0]);
/// let trace = brisk_array::einsum("ii", &[&brisk_array::eye::<f64>(4, 3)?])?.compute()?;
/// assert_eq!(trace[[]], 4.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn einsum<T: Element + ndarray::LinalgScalar>(
    subscripts: &str,
    operands: &[&Array<T>],
) -> Result<Array<T>> {
    if !matches!(T::DTYPE, DType::F64 | DType::F32 | DType::I64) {
        return Err(ArrayError::invalid(
            "operands",
            format!("einsum takes f32, f64 or i64 arrays, not {}", T::DTYPE),
        ));
    }
    if operands.is_empty() {
        return Err(ArrayError::invalid(
            "operands",
            "einsum needs at least one operand",
        ));
    }
    let (ops, out) = parse(subscripts, operands.len())?;
    let mut letters: Vec<char> = ops.iter().flatten().copied().collect();
    letters.sort_unstable();
    letters.dedup();
    let id = |c: &char| letters.iter().position(|x| x == c).unwrap_or(0);
    // Every letter's length and common chunking.
    let mut dim: Vec<Option<usize>> = vec![None; letters.len()];
    let mut chunking: Vec<Option<Vec<usize>>> = vec![None; letters.len()];
    for (k, (a, names)) in operands.iter().zip(&ops).enumerate() {
        a.meta.require_known("einsum")?;
        if names.len() != a.ndim() {
            return Err(ArrayError::invalid(
                "subscripts",
                format!(
                    "operand {k} has {} axes but {:?} names {}",
                    a.ndim(),
                    names.iter().collect::<String>(),
                    names.len()
                ),
            ));
        }
        for (ax, c) in names.iter().enumerate() {
            let l = id(c);
            let d = a.shape()[ax];
            match dim[l] {
                Some(prev) if prev != d => {
                    return Err(ArrayError::ShapeMismatch {
                        op: "einsum: a letter names axes of different lengths",
                        expected: vec![prev],
                        found: vec![d],
                    });
                }
                _ => dim[l] = Some(d),
            }
            let c = &a.chunks()[ax];
            chunking[l] = Some(match chunking[l].take() {
                None => c.clone(),
                Some(prev) => chunks::common_refinement(&prev, c),
            });
        }
    }
    let chunking: Vec<Vec<usize>> = chunking
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let metas = operands
        .iter()
        .zip(&ops)
        .map(|(a, names)| {
            let want = names.iter().map(|c| chunking[id(c)].clone()).collect();
            crate::rechunk::rechunk_meta(&a.meta, want)
        })
        .collect::<Result<Vec<_>>>()?;
    let spec = EinsumSpec {
        operands: ops.iter().map(|n| n.iter().map(id).collect()).collect(),
        output: out.iter().map(id).collect(),
        nletters: letters.len(),
    };
    let out_ids: Vec<usize> = spec.output.clone();
    let contracted: Vec<usize> = (0..letters.len())
        .filter(|l| !out_ids.contains(l))
        .collect();
    let nb: Vec<usize> = chunking.iter().map(Vec::len).collect();
    let out_nb: Vec<usize> = out_ids.iter().map(|&l| nb[l]).collect();
    let con_nb: Vec<usize> = contracted.iter().map(|&l| nb[l]).collect();
    let name = tokenize("einsum");
    let pname = tokenize("einsum-partial");
    let func = crate::kernels::func(EINSUM, "einsum");
    let add = crate::kernels::func(crate::linalg::matmul::SUM_BLOCKS, "sum");
    let (dt, sv) = (Value::new(T::DTYPE), Value::new(spec.clone()));
    let mut nodes = Vec::new();
    let mut pos = vec![0usize; letters.len()];
    for_each_block(&out_nb, |o| {
        for (&l, &b) in out_ids.iter().zip(o) {
            pos[l] = b;
        }
        let o32: Vec<u32> = o.iter().map(|&i| i as u32).collect();
        let mut parts = Vec::new();
        let mut run = |c: &[usize]| {
            for (&l, &b) in contracted.iter().zip(c) {
                pos[l] = b;
            }
            let mut args = vec![Arg::Literal(dt.clone()), Arg::Literal(sv.clone())];
            for (m, letters) in metas.iter().zip(&spec.operands) {
                let idx: Vec<usize> = letters.iter().map(|&l| pos[l]).collect();
                args.push(Arg::Key(m.key(&idx)));
            }
            let mut k = o32.clone();
            k.extend([0, parts.len() as u32]);
            let key = Key::with_shared_name(&pname, &k);
            nodes.push((
                key.clone(),
                Node::Task(Task {
                    func: func.clone(),
                    args,
                }),
            ));
            parts.push(key);
        };
        if contracted.is_empty() {
            run(&[]);
        } else {
            for_each_block(&con_nb, |c| run(c));
        }
        let last = brisk_core::tree::reduce_levels(
            parts,
            crate::DEFAULT_SPLIT_EVERY,
            true,
            |level, g, group| {
                let mut k = o32.clone();
                k.extend([level + 1, g as u32]);
                let key = Key::with_shared_name(&pname, &k);
                nodes.push((
                    key.clone(),
                    Node::Task(Task {
                        func: add.clone(),
                        args: group.iter().cloned().map(Arg::Key).collect(),
                    }),
                ));
                key
            },
        );
        let node = match last.as_slice() {
            [only] => Node::Alias(only.clone()),
            _ => Node::Task(Task {
                func: add.clone(),
                args: last.into_iter().map(Arg::Key).collect(),
            }),
        };
        nodes.push((Key::with_shared_name(&name, &o32), node));
    });
    let deps = metas
        .iter()
        .map(|m| m.layer())
        .collect::<Result<Vec<_>>>()?;
    let shape: Vec<usize> = out_ids.iter().map(|&l| dim[l].unwrap_or(0)).collect();
    let out_chunks: Vec<Vec<usize>> = out_ids.iter().map(|&l| chunking[l].clone()).collect();
    let layer = Layer::from_nodes(Arc::clone(&name), nodes, deps);
    Ok(Array::from_meta(Meta::new(
        name,
        T::DTYPE,
        shape,
        out_chunks,
        Body::Layer(layer),
    )))
}
