//! Dask graphs into Brisk graphs.
//!
//! A Dask graph is a dict from keys to nodes. Two spellings of a node exist, and both are read
//! here in one pass, in Rust:
//!
//! - the task-spec objects current Dask emits (`dask._task_spec`): `Task` (a function, its
//!   arguments and keyword arguments, which may hold `TaskRef`s and nested nodes), `DataNode`,
//!   `Alias`, and the containers `List`, `Tuple`, `Set`, `Dict`;
//! - the legacy spelling (`(func, *args)` tuples, keys as plain values, lists holding keys),
//!   read with the rules of `dask._task_spec.convert_legacy_task`.
//!
//! Python keys (strings, tuples, anything hashable) get dense numbers; a Brisk key is the
//! shared name `py` with that number, and [`Converted::keys`] maps it back. Every task becomes
//! a Brisk task of one function (made per run by [`crate::run`]) whose first argument is the
//! task's [`Spec`] and whose other arguments are its dependencies, so Brisk's engine sees the
//! real dependency structure and runs each Python task exactly once.

use std::sync::Arc;

use brisk_core::{Arg, Func, Graph, Key, Node, Task, Value};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple};

use crate::spec::{PyObj, Spec};

/// One Python task as the engine carries it: its key (for callbacks) and what it computes.
pub(crate) struct PyTask {
    /// The Python key.
    pub(crate) key: Py<PyAny>,
    /// How to compute the value.
    pub(crate) spec: Spec,
}

/// The classes of `dask._task_spec`, looked up once.
struct TaskSpecTypes {
    graph_node: Py<PyAny>,
    task: Py<PyAny>,
    alias: Py<PyAny>,
    data_node: Py<PyAny>,
    task_ref: Py<PyAny>,
    list: Py<PyAny>,
    tuple: Py<PyAny>,
    set: Py<PyAny>,
    dict: Py<PyAny>,
    convert_legacy_task: Py<PyAny>,
    is_namedtuple: Py<PyAny>,
}

fn types(py: Python<'_>) -> PyResult<&'static TaskSpecTypes> {
    static TYPES: PyOnceLock<TaskSpecTypes> = PyOnceLock::new();
    TYPES.get_or_try_init(py, || {
        let m = py.import("dask._task_spec")?;
        let get = |name: &str| m.getattr(name).map(Bound::unbind);
        Ok(TaskSpecTypes {
            graph_node: get("GraphNode")?,
            task: get("Task")?,
            alias: get("Alias")?,
            data_node: get("DataNode")?,
            task_ref: get("TaskRef")?,
            list: get("List")?,
            tuple: get("Tuple")?,
            set: get("Set")?,
            dict: get("Dict")?,
            convert_legacy_task: get("convert_legacy_task")?,
            is_namedtuple: py
                .import("dask.utils")?
                .getattr("is_namedtuple_instance")?
                .unbind(),
        })
    })
}

/// A converted graph.
pub(crate) struct Converted {
    /// The Brisk graph.
    pub(crate) graph: Graph,
    /// Python keys by number (the index of the Brisk key).
    pub(crate) keys: Vec<Py<PyAny>>,
    /// The Brisk keys of the requested Python keys, in request order.
    pub(crate) outputs: Vec<Key>,
}

/// Why a graph could not be converted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConvertError {
    /// A requested key is not in the graph (raised as `KeyError`, as Dask's get does).
    #[error("requested key is not in the graph")]
    UnknownKey(Py<PyAny>),
    /// Python raised while reading the graph.
    #[error("{0}")]
    Python(#[from] PyErr),
}

/// The Brisk key of Python key number `id`.
pub(crate) fn brisk_key(name: &Arc<str>, id: u32) -> Key {
    Key::with_shared_name(name, &[id])
}

/// The number of a Brisk key made by [`brisk_key`].
pub(crate) fn key_id(key: &Key) -> Option<usize> {
    key.index().first().map(|&i| i as usize)
}

/// Convert `dsk` (a dict) for computing `outputs` (a list of Python keys), with every task
/// calling `func`. `cache` holds values already known (Dask's `cache=`), which stand in for
/// keys missing from the graph.
pub(crate) fn convert(
    py: Python<'_>,
    dsk: &Bound<'_, PyDict>,
    outputs: &Bound<'_, PyList>,
    cache: Option<&Bound<'_, PyDict>>,
    func: &Func,
) -> Result<Converted, ConvertError> {
    let t = types(py)?;
    let mut c = Converter {
        py,
        t,
        dsk,
        ids: PyDict::new(py),
        keys: Vec::with_capacity(dsk.len()),
        name: Arc::from("py"),
        in_graph: 0,
    };
    // The dict's keys are distinct: number them without looking each up first.
    for (id, k) in (0u32..).zip(dsk.keys()) {
        c.ids.set_item(&k, id)?;
        c.keys.push(k.unbind());
    }
    c.in_graph = c.keys.len();
    let mut graph = Graph::with_capacity(dsk.len());
    // Keys are numbered in the dict's order, so the n-th entry has number n.
    for (id, (k, v)) in (0u32..).zip(dsk.iter()) {
        if let Some(node) = c.top(&k, &v, func)? {
            // Dask's get keeps the graph's data in `cache` while it runs.
            if let (Some(cache), Node::Literal(value)) = (cache, &node)
                && let Ok(obj) = value.downcast_ref::<PyObj>()
            {
                cache.set_item(&k, obj.0.bind(py))?;
            }
            graph.set(brisk_key(&c.name, id), node);
        }
    }
    if let Some(cache) = cache {
        for (k, v) in cache.iter() {
            if !dsk.contains(&k)? {
                let id = c.id_of(&k)?;
                graph.set(
                    brisk_key(&c.name, id),
                    Node::Literal(Value::new(PyObj(v.unbind()))),
                );
            }
        }
    }
    let mut out = Vec::with_capacity(outputs.len());
    for k in outputs.iter() {
        let known = dsk.contains(&k)? || cache.map(|c| c.contains(&k)).transpose()? == Some(true);
        if !known {
            return Err(ConvertError::UnknownKey(k.unbind()));
        }
        let id = c.id_of(&k)?;
        out.push(brisk_key(&c.name, id));
    }
    Ok(Converted {
        graph,
        keys: c.keys,
        outputs: out,
    })
}

/// Dependencies of one task, each once, by position.
#[derive(Default)]
struct Deps {
    ids: Vec<u32>,
    /// An index for tasks with many dependencies (a reduction over thousands of keys).
    index: Option<rustc_hash::FxHashMap<u32, u32>>,
}

impl Deps {
    fn slot(&mut self, id: u32) -> u32 {
        if let Some(index) = &mut self.index {
            let next = self.ids.len() as u32;
            let slot = *index.entry(id).or_insert(next);
            if slot == next {
                self.ids.push(id);
            }
            return slot;
        }
        if let Some(p) = self.ids.iter().position(|&x| x == id) {
            return p as u32;
        }
        self.ids.push(id);
        if self.ids.len() > 16 {
            self.index = Some(
                self.ids
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| (x, i as u32))
                    .collect(),
            );
        }
        (self.ids.len() - 1) as u32
    }
}

/// A legacy argument: unchanged, or something to evaluate.
enum Conv {
    Lit,
    Spec(Spec),
}

struct Converter<'a, 'py> {
    py: Python<'py>,
    t: &'static TaskSpecTypes,
    dsk: &'a Bound<'py, PyDict>,
    ids: Bound<'py, PyDict>,
    keys: Vec<Py<PyAny>>,
    name: Arc<str>,
    /// Keys numbered below this are the graph's own (the others are missing dependencies).
    in_graph: usize,
}

impl<'py> Converter<'_, 'py> {
    /// The number of a Python key (a new number for a key seen for the first time).
    fn id_of(&mut self, key: &Bound<'py, PyAny>) -> PyResult<u32> {
        if let Some(id) = self.ids.get_item(key)? {
            return id.extract();
        }
        let id = u32::try_from(self.keys.len()).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err("a graph of more than 2^32 keys")
        })?;
        self.ids.set_item(key, id)?;
        self.keys.push(key.clone().unbind());
        Ok(id)
    }

    fn task(&self, key: &Bound<'py, PyAny>, spec: Spec, deps: Deps, func: &Func) -> Node {
        let mut args = Vec::with_capacity(deps.ids.len() + 1);
        args.push(Arg::Literal(Value::new(PyTask {
            key: key.clone().unbind(),
            spec,
        })));
        args.extend(deps.ids.iter().map(|&d| Arg::Key(brisk_key(&self.name, d))));
        Node::Task(Task {
            func: func.clone(),
            args,
        })
    }

    /// The node of graph entry `key: value`; `None` for an alias of itself (dropped, as
    /// Dask's `convert_legacy_graph` drops it).
    fn top(
        &mut self,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
        func: &Func,
    ) -> PyResult<Option<Node>> {
        let t = self.t;
        let mut deps = Deps::default();
        if value.is_instance(t.graph_node.bind(self.py))? {
            let typ = value.get_type();
            if typ.is(t.data_node.bind(self.py)) {
                let v = value.getattr(pyo3::intern!(self.py, "value"))?;
                return Ok(Some(Node::Literal(Value::new(PyObj(v.unbind())))));
            }
            if typ.is(t.alias.bind(self.py)) {
                let target = value.getattr(pyo3::intern!(self.py, "target"))?;
                if target.eq(key)? {
                    return Ok(None);
                }
            }
            let spec = self.node_spec(value, &mut deps)?;
            return Ok(Some(self.task(key, spec, deps, func)));
        }
        match self.legacy(value, &mut deps)? {
            Conv::Lit => Ok(Some(Node::Literal(Value::new(PyObj(
                value.clone().unbind(),
            ))))),
            Conv::Spec(Spec::Dep(0)) if deps.ids.len() == 1 => {
                // An alias: `{"b": "a"}`.
                if self.keys[deps.ids[0] as usize].bind(self.py).eq(key)? {
                    return Ok(None);
                }
                Ok(Some(self.task(key, Spec::Dep(0), deps, func)))
            }
            Conv::Spec(spec) => Ok(Some(self.task(key, spec, deps, func))),
        }
    }

    /// A dependency on `key`, as a spec.
    fn dep(&mut self, key: &Bound<'py, PyAny>, deps: &mut Deps) -> PyResult<Spec> {
        let id = self.id_of(key)?;
        Ok(Spec::Dep(deps.slot(id)))
    }

    /// A task-spec node (`Task`, `Alias`, `DataNode`, a container, or another `GraphNode`).
    fn node_spec(&mut self, node: &Bound<'py, PyAny>, deps: &mut Deps) -> PyResult<Spec> {
        let py = self.py;
        let t = self.t;
        let typ = node.get_type();
        if typ.is(t.task.bind(py)) {
            let func = node.getattr(pyo3::intern!(py, "func"))?;
            let args = self.args_of(node, deps)?;
            let kwargs_obj = node.getattr(pyo3::intern!(py, "kwargs"))?;
            let kwargs_dict = kwargs_obj.cast::<PyDict>()?;
            let mut kwargs = Vec::with_capacity(kwargs_dict.len());
            for (k, v) in kwargs_dict.iter() {
                kwargs.push((k.unbind(), self.arg_spec(&v, deps)?));
            }
            return Ok(Spec::Call {
                func: func.unbind(),
                args,
                kwargs,
            });
        }
        if typ.is(t.alias.bind(py)) {
            let target = node.getattr(pyo3::intern!(py, "target"))?;
            return self.dep(&target, deps);
        }
        if typ.is(t.data_node.bind(py)) {
            return Ok(Spec::Lit(
                node.getattr(pyo3::intern!(py, "value"))?.unbind(),
            ));
        }
        if typ.is(t.list.bind(py)) {
            return Ok(Spec::List(self.args_of(node, deps)?));
        }
        if typ.is(t.tuple.bind(py)) {
            return Ok(Spec::Tuple(self.args_of(node, deps)?));
        }
        if typ.is(t.set.bind(py)) {
            return Ok(Spec::Set(self.args_of(node, deps)?));
        }
        if typ.is(t.dict.bind(py)) {
            return Ok(Spec::Dict(self.args_of(node, deps)?));
        }
        // Another kind of node: Dask calls it with its dependencies' values.
        let mut keyed = Vec::new();
        for k in node
            .getattr(pyo3::intern!(py, "dependencies"))?
            .try_iter()?
        {
            let k = k?;
            let Spec::Dep(slot) = self.dep(&k, deps)? else {
                continue;
            };
            keyed.push((k.unbind(), slot));
        }
        Ok(Spec::Node {
            node: node.clone().unbind(),
            deps: keyed,
        })
    }

    /// The `args` of a task-spec node, as specs.
    fn args_of(&mut self, node: &Bound<'py, PyAny>, deps: &mut Deps) -> PyResult<Vec<Spec>> {
        let args = node.getattr(pyo3::intern!(self.py, "args"))?;
        let args = args.cast::<PyTuple>()?;
        let mut out = Vec::with_capacity(args.len());
        for a in args.iter() {
            out.push(self.arg_spec(&a, deps)?);
        }
        Ok(out)
    }

    /// An argument of a task-spec `Task`, read as `Task.__call__` reads it: nodes are
    /// evaluated, `TaskRef`s are dependencies, anything else is passed as it is.
    fn arg_spec(&mut self, a: &Bound<'py, PyAny>, deps: &mut Deps) -> PyResult<Spec> {
        let py = self.py;
        if is_plain_literal(a) {
            return Ok(Spec::Lit(a.clone().unbind()));
        }
        if a.is_instance(self.t.graph_node.bind(py))? {
            return self.node_spec(a, deps);
        }
        if a.is_instance(self.t.task_ref.bind(py))? {
            let k = a.getattr(pyo3::intern!(py, "key"))?;
            return self.dep(&k, deps);
        }
        Ok(Spec::Lit(a.clone().unbind()))
    }

    /// A legacy argument, read with the rules of `convert_legacy_task(None, obj, set(dsk))`.
    fn legacy(&mut self, obj: &Bound<'py, PyAny>, deps: &mut Deps) -> PyResult<Conv> {
        let py = self.py;
        let t = self.t;
        // Fast path: builtin scalars are a key of the graph or a literal.
        if obj.is_exact_instance_of::<PyString>()
            || obj.is_exact_instance_of::<PyInt>()
            || obj.is_exact_instance_of::<PyFloat>()
            || obj.is_exact_instance_of::<pyo3::types::PyBool>()
        {
            return self.key_or_literal(obj, deps);
        }
        if obj.is_none() || obj.is_exact_instance_of::<pyo3::types::PyBytes>() {
            return Ok(Conv::Lit);
        }
        if obj.is_instance(t.graph_node.bind(py))? {
            return Ok(Conv::Spec(self.node_spec(obj, deps)?));
        }
        if let Ok(tuple) = obj.cast_exact::<PyTuple>()
            && !tuple.is_empty()
        {
            let head = tuple.get_item(0)?;
            if head.is_callable() {
                let mut args = Vec::with_capacity(tuple.len() - 1);
                for a in tuple.iter().skip(1) {
                    if let Ok(d) = a.cast::<PyDict>() {
                        args.push(self.legacy_dict(d, deps)?);
                    } else {
                        args.push(self.legacy_spec(&a, deps)?);
                    }
                }
                return Ok(Conv::Spec(Spec::Call {
                    func: head.unbind(),
                    args,
                    kwargs: Vec::new(),
                }));
            }
        }
        let keyish = obj.is_instance_of::<PyString>()
            || obj.is_instance_of::<PyTuple>()
            || obj.is_instance_of::<PyInt>()
            || obj.is_instance_of::<PyFloat>();
        if keyish && let Conv::Spec(dep) = self.key_or_literal(obj, deps)? {
            return Ok(Conv::Spec(dep));
        }
        if obj.is_instance_of::<PyString>() || is_plain_literal(obj) {
            return Ok(Conv::Lit);
        }
        let seq = obj.is_instance_of::<PyList>()
            || obj.is_instance_of::<PyTuple>()
            || obj.is_instance_of::<PySet>()
            || obj.is_instance_of::<PyFrozenSet>();
        if seq {
            if t.is_namedtuple.bind(py).call1((obj,))?.is_truthy()? {
                // Rare: let Dask build its task for the named tuple, then read that.
                let all_keys = self.dsk.keys();
                let node = t
                    .convert_legacy_task
                    .bind(py)
                    .call1((py.None(), obj, all_keys))?;
                if node.is_instance(t.graph_node.bind(py))? {
                    return Ok(Conv::Spec(self.node_spec(&node, deps)?));
                }
                return Ok(Conv::Lit);
            }
            let mut items = Vec::new();
            let mut any = false;
            for item in obj.try_iter()? {
                let item = item?;
                match self.legacy(&item, deps)? {
                    Conv::Lit => items.push(Spec::Lit(item.unbind())),
                    Conv::Spec(s) => {
                        any = true;
                        items.push(s);
                    }
                }
            }
            if !any {
                return Ok(Conv::Lit);
            }
            let typ = obj.get_type();
            return Ok(Conv::Spec(if typ.is(py.get_type::<PyList>()) {
                Spec::List(items)
            } else if typ.is(py.get_type::<PyTuple>()) {
                Spec::Tuple(items)
            } else if typ.is(py.get_type::<PySet>()) {
                Spec::Set(items)
            } else {
                Spec::Cast {
                    typ: typ.into_any().unbind(),
                    items,
                }
            }));
        }
        if obj.is_instance(t.task_ref.bind(py))?
            || obj
                .getattr_opt(pyo3::intern!(py, "__dask_future__"))?
                .map(|f| f.is_truthy())
                .transpose()?
                == Some(true)
        {
            let k = obj.getattr(pyo3::intern!(py, "key"))?;
            return Ok(Conv::Spec(self.dep(&k, deps)?));
        }
        Ok(Conv::Lit)
    }

    /// A dependency when `obj` is a key of the graph (`obj in dsk`), else a literal.
    fn key_or_literal(&mut self, obj: &Bound<'py, PyAny>, deps: &mut Deps) -> PyResult<Conv> {
        match self.ids.get_item(obj) {
            Ok(Some(id)) => {
                let id: u32 = id.extract()?;
                if (id as usize) < self.in_graph {
                    return Ok(Conv::Spec(Spec::Dep(deps.slot(id))));
                }
                Ok(Conv::Lit)
            }
            Ok(None) => Ok(Conv::Lit),
            // Unhashable: not a key.
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyTypeError>(self.py) => Ok(Conv::Lit),
            Err(e) => Err(e),
        }
    }

    fn legacy_spec(&mut self, obj: &Bound<'py, PyAny>, deps: &mut Deps) -> PyResult<Spec> {
        Ok(match self.legacy(obj, deps)? {
            Conv::Lit => Spec::Lit(obj.clone().unbind()),
            Conv::Spec(s) => s,
        })
    }

    /// A dict argument of a legacy task: Dask wraps it as `Dict(d)`, whose values are
    /// evaluated only when they are task-spec nodes or `TaskRef`s (a fresh dict each call).
    fn legacy_dict(&mut self, d: &Bound<'py, PyDict>, deps: &mut Deps) -> PyResult<Spec> {
        let mut items = Vec::with_capacity(2 * d.len());
        for (k, v) in d.iter() {
            items.push(self.arg_spec(&k, deps)?);
            items.push(self.arg_spec(&v, deps)?);
        }
        Ok(Spec::Dict(items))
    }
}

/// Builtin scalars that are never keys of interest nor containers (no lookups needed).
fn is_plain_literal(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_none()
        || obj.is_exact_instance_of::<PyInt>()
        || obj.is_exact_instance_of::<PyFloat>()
        || obj.is_exact_instance_of::<pyo3::types::PyBool>()
        || obj.is_exact_instance_of::<pyo3::types::PyBytes>()
}
