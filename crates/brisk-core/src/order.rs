//! A memory-aware static order, in the spirit of `dask.order`.
//!
//! Depth-first from the requested keys, finishing one input subtree before starting the next
//! and taking the taller subtree first (the Sethi–Ullman rule: the input that needs the most
//! room to compute goes while nothing else is held). Executors run ready tasks lowest order
//! first, so a tree reduction over 10,000 leaves holds a few values per level of the tree rather
//! than all leaves at once.

use crate::plan::Plan;

pub(crate) fn order(plan: &mut Plan) {
    let n = plan.len();
    let height = heights(plan);
    let mut visited = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<(u32, bool)> = Vec::new();
    let mut children: Vec<(u32, usize, u32)> = Vec::new();
    for &out in &plan.outputs {
        stack.push((out, false));
        while let Some((v, expanded)) = stack.pop() {
            if expanded {
                order.push(v);
                continue;
            }
            if visited[v as usize] {
                continue;
            }
            visited[v as usize] = true;
            stack.push((v, true));
            children.clear();
            children.extend(
                plan.deps(v)
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !visited[**c as usize])
                    .map(|(pos, &c)| (height[c as usize], pos, c)),
            );
            // Popped last = visited first: push the shortest subtrees first, and among equals
            // the later arguments first, so the tallest, earliest argument is visited first.
            children.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            stack.extend(children.iter().map(|&(_, _, c)| (c, false)));
        }
    }
    let mut priority = vec![0u32; n];
    for (i, &v) in order.iter().enumerate() {
        priority[v as usize] = i as u32;
    }
    plan.order = order;
    plan.priority = priority;
}

/// The longest dependency chain below each node (1 for a node without dependencies).
fn heights(plan: &Plan) -> Vec<u32> {
    let n = plan.len();
    let mut height = vec![0u32; n];
    let mut stack: Vec<(u32, bool)> = Vec::new();
    for start in 0..n as u32 {
        if height[start as usize] != 0 {
            continue;
        }
        stack.push((start, false));
        while let Some((v, expanded)) = stack.pop() {
            if expanded {
                let h = plan
                    .deps(v)
                    .iter()
                    .map(|&c| height[c as usize])
                    .max()
                    .unwrap_or(0);
                height[v as usize] = h + 1;
                continue;
            }
            if height[v as usize] != 0 {
                continue;
            }
            stack.push((v, true));
            for &c in plan.deps(v) {
                if height[c as usize] == 0 {
                    stack.push((c, false));
                }
            }
        }
    }
    height
}
