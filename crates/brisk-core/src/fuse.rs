//! Fusion of linear chains: a task whose only input is a task with no other consumer takes
//! that task in as a nested call, so a chain `load → clean → inc` runs as one task.
//!
//! This saves scheduling overhead and, more importantly for collections, lets per-chunk
//! pipelines run without storing each intermediate. A chain is capped at `max` tasks so that
//! nested evaluation stays shallow.

use crate::Key;
use crate::plan::{Deps, PArg, PlanNode};

#[allow(clippy::too_many_arguments)]
pub(crate) fn fuse(
    keys: &mut Vec<Key>,
    nodes: &mut Vec<PlanNode>,
    deps: &mut Vec<Deps>,
    is_output: &mut Vec<bool>,
    outputs: &mut [u32],
    post_order: &[u32],
    max: usize,
) {
    let n = nodes.len();
    let mut ndependents = vec![0u32; n];
    for d in deps.iter() {
        for &x in d {
            ndependents[x as usize] += 1;
        }
    }
    let mut length = vec![1usize; n];
    let mut removed = vec![false; n];
    let mut any = false;
    for &c in post_order {
        let c = c as usize;
        if deps[c].len() != 1 {
            continue;
        }
        let b = deps[c][0] as usize;
        if is_output[b] || ndependents[b] != 1 || length[b] + length[c] > max {
            continue;
        }
        let uses = match (&nodes[b], &nodes[c]) {
            (PlanNode::Task(_), PlanNode::Task(ct)) => count_slot(&ct.args, 0),
            _ => continue,
        };
        if uses != 1 {
            continue;
        }
        let inner = std::mem::replace(&mut nodes[b], PlanNode::Value(crate::Value::new(())));
        let (PlanNode::Task(mut inner), PlanNode::Task(outer)) = (inner, &mut nodes[c]) else {
            continue;
        };
        inner.fused_key = Some(keys[b].clone());
        let mut inner = Some(inner);
        for a in outer.args.iter_mut() {
            replace_slot(a, &mut inner);
        }
        deps[c] = std::mem::take(&mut deps[b]);
        length[c] += length[b];
        removed[b] = true;
        any = true;
    }
    if any {
        compact(keys, nodes, deps, is_output, outputs, &removed);
    }
}

fn count_slot(args: &[PArg], slot: u32) -> usize {
    args.iter()
        .map(|a| match a {
            PArg::Dep(s) => usize::from(*s == slot),
            PArg::Lit(_) => 0,
            PArg::Task(t) => count_slot(&t.args, slot),
            PArg::List(items) => count_slot(items, slot),
        })
        .sum()
}

fn replace_slot(arg: &mut PArg, inner: &mut Option<crate::plan::PlanTask>) {
    match arg {
        PArg::Dep(0) => {
            if let Some(t) = inner.take() {
                *arg = PArg::Task(Box::new(t));
            }
        }
        PArg::Dep(_) | PArg::Lit(_) => {}
        PArg::Task(t) => {
            for a in t.args.iter_mut() {
                replace_slot(a, inner);
            }
        }
        PArg::List(items) => {
            for a in items.iter_mut() {
                replace_slot(a, inner);
            }
        }
    }
}

fn compact(
    keys: &mut Vec<Key>,
    nodes: &mut Vec<PlanNode>,
    deps: &mut Vec<Deps>,
    is_output: &mut Vec<bool>,
    outputs: &mut [u32],
    removed: &[bool],
) {
    let mut new_id = vec![u32::MAX; removed.len()];
    let mut next = 0u32;
    for (i, r) in removed.iter().enumerate() {
        if !r {
            new_id[i] = next;
            next += 1;
        }
    }
    let keep = |i: &usize| !removed[*i];
    *keys = std::mem::take(keys)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep(i))
        .map(|(_, k)| k)
        .collect();
    *nodes = std::mem::take(nodes)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep(i))
        .map(|(_, k)| k)
        .collect();
    *deps = std::mem::take(deps)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep(i))
        .map(|(_, d)| d.into_iter().map(|x| new_id[x as usize]).collect())
        .collect();
    *is_output = std::mem::take(is_output)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep(i))
        .map(|(_, o)| o)
        .collect();
    for o in outputs.iter_mut() {
        *o = new_id[*o as usize];
    }
}
