//! Plans: a graph compiled for execution.
//!
//! Compiling walks the graph once from the requested keys, which culls everything they do not
//! need and validates what they do (missing dependencies, cycles, unknown outputs). On the way,
//! aliases are resolved and literal nodes are inlined into the tasks that use them. Nodes get
//! dense ids; each task's key references become slots into its list of distinct dependencies.
//! Then linear chains are optionally fused (`fuse.rs`) and a memory-aware static order is
//! computed (`order.rs`). Every executor runs a `Plan`.

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::error::Error;
use crate::{Arg, Func, Graph, Key, Node, Task, Value};

/// Distinct dependencies of one node (dense ids).
pub type Deps = SmallVec<[u32; 4]>;

/// One node of a plan.
pub enum PlanNode {
    /// A literal that was requested as an output.
    Value(Value),
    /// A task to run.
    Task(PlanTask),
}

/// A task of a plan: a function plus compiled arguments.
pub struct PlanTask {
    /// The function.
    pub func: Func,
    /// The arguments.
    pub args: Vec<PArg>,
    /// The key this task had in the graph, when it was fused into another task (so that its
    /// failure still names it).
    pub fused_key: Option<Key>,
}

/// A compiled argument.
pub enum PArg {
    /// The value of the task's dependency at this slot of [`Plan::deps`].
    Dep(u32),
    /// A literal (including inlined literal nodes).
    Lit(Value),
    /// A nested task (written so, or fused from a chain).
    Task(Box<PlanTask>),
    /// A list.
    List(Vec<PArg>),
}

/// Options for compiling a plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Fuse linear chains of tasks into single tasks (what collections want; raw `get` runs
    /// the graph as written, like Dask's `get`).
    pub fuse: bool,
    /// The longest chain fused into one task.
    pub max_fuse: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            fuse: false,
            max_fuse: 64,
        }
    }
}

/// A graph compiled for execution: dense node ids, dependencies, dependents and a run order.
pub struct Plan {
    pub(crate) keys: Vec<Key>,
    pub(crate) nodes: Vec<PlanNode>,
    pub(crate) deps: Vec<Deps>,
    pub(crate) dependents_start: Vec<u32>,
    pub(crate) dependents: Vec<u32>,
    pub(crate) order: Vec<u32>,
    pub(crate) priority: Vec<u32>,
    pub(crate) outputs: Vec<u32>,
    pub(crate) is_output: Vec<bool>,
}

impl Plan {
    /// Cull, validate, inline, optionally fuse, and order `graph` for computing `outputs`.
    pub fn compile(graph: &Graph, outputs: &[Key], options: &PlanOptions) -> Result<Plan, Error> {
        if let Some(key) = graph.duplicate_key() {
            return Err(Error::DuplicateKey { key: key.clone() });
        }
        let mut c = Compiler::new(graph);
        let mut output_ids = Vec::with_capacity(outputs.len());
        for out in outputs {
            output_ids.push(c.visit_output(out)?);
        }
        let Compiler {
            keys,
            nodes,
            deps,
            post_order,
            ..
        } = c;
        let mut nodes: Vec<PlanNode> = nodes
            .into_iter()
            .map(|n| n.unwrap_or(PlanNode::Value(Value::new(()))))
            .collect();
        let mut keys = keys;
        let mut deps = deps;
        let mut is_output = vec![false; keys.len()];
        for &o in &output_ids {
            is_output[o as usize] = true;
        }
        if options.fuse {
            crate::fuse::fuse(
                &mut keys,
                &mut nodes,
                &mut deps,
                &mut is_output,
                &mut output_ids,
                &post_order,
                options.max_fuse,
            );
        }
        let (dependents_start, dependents) = dependents_csr(&deps);
        let mut plan = Plan {
            keys,
            nodes,
            deps,
            dependents_start,
            dependents,
            order: Vec::new(),
            priority: Vec::new(),
            outputs: output_ids,
            is_output,
        };
        crate::order::order(&mut plan);
        Ok(plan)
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the plan has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The key of node `id`.
    pub fn key(&self, id: u32) -> &Key {
        &self.keys[id as usize]
    }

    /// Node `id`.
    pub fn node(&self, id: u32) -> &PlanNode {
        &self.nodes[id as usize]
    }

    /// The distinct dependencies of node `id`; `PArg::Dep(slot)` indexes this list.
    pub fn deps(&self, id: u32) -> &[u32] {
        &self.deps[id as usize]
    }

    /// The nodes that depend on node `id`.
    pub fn dependents(&self, id: u32) -> &[u32] {
        let s = self.dependents_start[id as usize] as usize;
        let e = self.dependents_start[id as usize + 1] as usize;
        &self.dependents[s..e]
    }

    /// Node ids in run order: every node after its dependencies, and depth-first so that
    /// intermediate results are released early.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// Node `id`'s position in [`Plan::order`] (lower runs first).
    pub fn priority(&self, id: u32) -> u32 {
        self.priority[id as usize]
    }

    /// The node of each requested key, in request order (repeats allowed).
    pub fn outputs(&self) -> &[u32] {
        &self.outputs
    }

    /// Whether node `id` is a requested output.
    pub fn is_output(&self, id: u32) -> bool {
        self.is_output[id as usize]
    }

    /// How many holders node `id`'s value starts with: its dependents, plus one if requested.
    pub fn initial_refs(&self, id: u32) -> u32 {
        self.dependents(id).len() as u32 + u32::from(self.is_output(id))
    }

    /// The number of tasks (nodes that run a function).
    pub fn num_tasks(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, PlanNode::Task(_)))
            .count()
    }
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for &id in &self.order {
            l.entry(&(&self.keys[id as usize], &self.deps[id as usize]));
        }
        l.finish()
    }
}

fn dependents_csr(deps: &[Deps]) -> (Vec<u32>, Vec<u32>) {
    let n = deps.len();
    let mut start = vec![0u32; n + 1];
    for d in deps {
        for &x in d {
            start[x as usize + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut out = vec![0u32; start[n] as usize];
    for (i, d) in deps.iter().enumerate() {
        for &x in d {
            out[fill[x as usize] as usize] = i as u32;
            fill[x as usize] += 1;
        }
    }
    (start, out)
}

/// A node reached through aliases: its key and node, or a literal to inline.
/// A dependency followed through aliases; `usize` is the key's dense position in the graph.
const UNSEEN: u32 = u32::MAX;

enum Resolved<'g> {
    Task(&'g Key, &'g Task, usize),
    Literal(&'g Key, &'g Value, usize),
    /// A literal that is a [`crate::Held`]: a node of its own under the held key, never
    /// inlined (see `held.rs`).
    Held(&'g Key, &'g Value, usize),
}

/// A literal node, or a held value.
fn literal<'g>(key: &'g Key, v: &'g Value, pos: usize) -> Resolved<'g> {
    if crate::Held::of(v).is_some() {
        Resolved::Held(key, v, pos)
    } else {
        Resolved::Literal(key, v, pos)
    }
}

struct Frame<'g> {
    id: u32,
    task: &'g Task,
    deps: Vec<Resolved<'g>>,
    pos: usize,
}

struct Compiler<'g> {
    graph: &'g Graph,
    /// Plan id of each graph position (`UNSEEN` until visited).
    ids: Vec<u32>,
    done: Vec<bool>,
    keys: Vec<Key>,
    nodes: Vec<Option<PlanNode>>,
    deps: Vec<Deps>,
    post_order: Vec<u32>,
    stack: Vec<Frame<'g>>,
}

impl<'g> Compiler<'g> {
    fn new(graph: &'g Graph) -> Self {
        // Usually most of the graph is needed: size everything once instead of regrowing
        // (and rehashing) a million-entry map a dozen times.
        let n = graph.len();
        Compiler {
            graph,
            ids: vec![UNSEEN; n],
            done: Vec::with_capacity(n),
            keys: Vec::with_capacity(n),
            nodes: Vec::with_capacity(n),
            deps: Vec::with_capacity(n),
            post_order: Vec::with_capacity(n),
            stack: Vec::new(),
        }
    }

    /// Follow aliases from `key` (referenced by `from`) to a task or literal.
    fn resolve(&self, from: &'g Key, key: &'g Key) -> Result<Resolved<'g>, Error> {
        let mut from = from;
        let mut key = key;
        let mut chain: Vec<&'g Key> = Vec::new();
        loop {
            let (pos, _, node) =
                self.graph
                    .get_full(key)
                    .ok_or_else(|| Error::MissingDependency {
                        key: from.clone(),
                        dependency: key.clone(),
                    })?;
            match node {
                Node::Task(t) => return Ok(Resolved::Task(key, t, pos)),
                Node::Literal(v) => return Ok(literal(key, v, pos)),
                Node::Alias(target) => {
                    // Alias chains are short; only a chain longer than the graph can be a
                    // cycle, and only then is it worth finding where it closes.
                    if chain.len() > self.graph.len() {
                        let mut seen = rustc_hash::FxHashSet::default();
                        let start = chain.iter().position(|k| !seen.insert(*k)).unwrap_or(0);
                        let first = chain[start];
                        let begin = chain.iter().position(|k| *k == first).unwrap_or(0);
                        return Err(Error::Cycle {
                            keys: chain[begin..start].iter().map(|k| (*k).clone()).collect(),
                        });
                    }
                    chain.push(key);
                    from = key;
                    key = target;
                }
            }
        }
    }

    fn visit_output(&mut self, out: &Key) -> Result<u32, Error> {
        let (pos, key, node) = self
            .graph
            .get_full(out)
            .ok_or_else(|| Error::UnknownKey { key: out.clone() })?;
        let resolved = match node {
            Node::Alias(_) => self.resolve(key, key)?,
            Node::Task(t) => Resolved::Task(key, t, pos),
            Node::Literal(v) => literal(key, v, pos),
        };
        match resolved {
            Resolved::Literal(k, v, pos) => {
                if self.ids[pos] != UNSEEN {
                    return Ok(self.ids[pos]);
                }
                let id = self.new_id(k, pos);
                self.nodes[id as usize] = Some(PlanNode::Value(v.clone()));
                self.done[id as usize] = true;
                self.post_order.push(id);
                Ok(id)
            }
            Resolved::Held(k, v, pos) => Ok(self.held_node(k, v, pos)),
            Resolved::Task(k, t, pos) => {
                if self.ids[pos] != UNSEEN {
                    return Ok(self.ids[pos]);
                }
                let id = self.push_frame(k, t, pos)?;
                self.run()?;
                Ok(id)
            }
        }
    }

    /// The plan node of a held value: under the held key, a value node, done.
    fn held_node(&mut self, key: &'g Key, v: &'g Value, pos: usize) -> u32 {
        if self.ids[pos] != UNSEEN {
            return self.ids[pos];
        }
        let key = crate::Held::of(v).map_or_else(|| key.clone(), |h| h.key().clone());
        let id = self.keys.len() as u32;
        self.ids[pos] = id;
        self.keys.push(key);
        self.nodes.push(Some(PlanNode::Value(v.clone())));
        self.deps.push(Deps::new());
        self.done.push(true);
        self.post_order.push(id);
        id
    }

    fn new_id(&mut self, key: &'g Key, pos: usize) -> u32 {
        let id = self.keys.len() as u32;
        self.ids[pos] = id;
        self.keys.push(key.clone());
        self.nodes.push(None);
        self.deps.push(Deps::new());
        self.done.push(false);
        id
    }

    fn push_frame(&mut self, key: &'g Key, task: &'g Task, pos: usize) -> Result<u32, Error> {
        let mut deps = Vec::new();
        let mut err = None;
        task.for_each_dependency(&mut |d| {
            if err.is_none() {
                match self.resolve(key, d) {
                    Ok(r) => deps.push(r),
                    Err(e) => err = Some(e),
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        let id = self.new_id(key, pos);
        self.stack.push(Frame {
            id,
            task,
            deps,
            pos: 0,
        });
        Ok(id)
    }

    fn run(&mut self) -> Result<(), Error> {
        while let Some(frame) = self.stack.last_mut() {
            if frame.pos < frame.deps.len() {
                let next = match &frame.deps[frame.pos] {
                    Resolved::Literal(..) => None,
                    Resolved::Held(k, v, pos) => {
                        let (k, v, pos) = (*k, *v, *pos);
                        frame.pos += 1;
                        self.held_node(k, v, pos);
                        continue;
                    }
                    Resolved::Task(k, t, pos) => Some((*k, *t, *pos)),
                };
                frame.pos += 1;
                let Some((k, t, pos)) = next else { continue };
                match Some(self.ids[pos]).filter(|&id| id != UNSEEN) {
                    Some(id) if !self.done[id as usize] => {
                        let start = self.stack.iter().position(|f| f.id == id).unwrap_or(0);
                        return Err(Error::Cycle {
                            keys: self.stack[start..]
                                .iter()
                                .map(|f| self.keys[f.id as usize].clone())
                                .collect(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        self.push_frame(k, t, pos)?;
                    }
                }
            } else if let Some(frame) = self.stack.pop() {
                self.finish(frame);
            }
        }
        Ok(())
    }

    /// All dependencies of `frame` are done: compile its task.
    fn finish(&mut self, frame: Frame<'g>) {
        let mut deps = DepSlots::default();
        let mut resolved = frame.deps.iter();
        let args = frame
            .task
            .args
            .iter()
            .map(|a| self.compile_arg(a, &mut resolved, &mut deps))
            .collect();
        let deps = deps.list;
        let id = frame.id as usize;
        self.nodes[id] = Some(PlanNode::Task(PlanTask {
            func: frame.task.func.clone(),
            args,
            fused_key: None,
        }));
        self.deps[id] = deps;
        self.done[id] = true;
        self.post_order.push(frame.id);
    }

    fn compile_arg(
        &self,
        arg: &'g Arg,
        resolved: &mut std::slice::Iter<'_, Resolved<'g>>,
        deps: &mut DepSlots,
    ) -> PArg {
        match arg {
            Arg::Key(_) => match resolved.next() {
                Some(Resolved::Literal(_, v, _)) => PArg::Lit((*v).clone()),
                Some(Resolved::Task(_, _, pos)) | Some(Resolved::Held(_, _, pos)) => {
                    let id = self.ids[*pos];
                    PArg::Dep(deps.slot(id))
                }
                None => PArg::Lit(Value::new(())),
            },
            Arg::Literal(v) => PArg::Lit(v.clone()),
            Arg::Task(t) => PArg::Task(Box::new(PlanTask {
                func: t.func.clone(),
                args: t
                    .args
                    .iter()
                    .map(|a| self.compile_arg(a, resolved, deps))
                    .collect(),
                fused_key: None,
            })),
            Arg::List(items) => PArg::List(
                items
                    .iter()
                    .map(|a| self.compile_arg(a, resolved, deps))
                    .collect(),
            ),
        }
    }
}

/// The distinct dependencies of one task, with a slot per dependency; a hash index takes over
/// for tasks with many inputs (an aggregate over a million chunks).
#[derive(Default)]
struct DepSlots {
    list: Deps,
    index: Option<FxHashMap<u32, u32>>,
}

impl DepSlots {
    const INDEX_FROM: usize = 16;

    fn slot(&mut self, id: u32) -> u32 {
        if let Some(index) = &mut self.index {
            let next = self.list.len() as u32;
            let slot = *index.entry(id).or_insert(next);
            if slot == next {
                self.list.push(id);
            }
            return slot;
        }
        if let Some(s) = self.list.iter().position(|&d| d == id) {
            return s as u32;
        }
        self.list.push(id);
        if self.list.len() >= Self::INDEX_FROM {
            self.index = Some(
                self.list
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| (d, i as u32))
                    .collect(),
            );
        }
        (self.list.len() - 1) as u32
    }
}
