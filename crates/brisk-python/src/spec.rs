//! What one Python task computes, read once from Dask's task objects and evaluated in Rust.
//!
//! Dask evaluates a task by calling `task(values)`: `Task.__call__` checks the values, walks
//! its arguments in Python and calls the function. Here the same walk happens once, when the
//! graph is converted, into a [`Spec`]; running the task then only builds the argument tuple
//! (dependencies by position, literals as they are, nested tasks and containers evaluated in
//! place) and calls the function. Nodes of a kind this module does not know are kept as
//! [`Spec::Node`] and called the way Dask calls them.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySet, PyTuple};

/// How to compute one value of a task from the values of its dependencies.
pub(crate) enum Spec {
    /// A literal, passed as it is.
    Lit(Py<PyAny>),
    /// The value of the dependency at this position.
    Dep(u32),
    /// `func(*args, **kwargs)`.
    Call {
        /// The callable.
        func: Py<PyAny>,
        /// Positional arguments.
        args: Vec<Spec>,
        /// Keyword arguments (name, value).
        kwargs: Vec<(Py<PyAny>, Spec)>,
    },
    /// A list of the items' values (`dask._task_spec.List`, or a list holding keys).
    List(Vec<Spec>),
    /// A tuple of the items' values.
    Tuple(Vec<Spec>),
    /// A set of the items' values.
    Set(Vec<Spec>),
    /// A dict; items alternate key, value (`dask._task_spec.Dict`).
    Dict(Vec<Spec>),
    /// `typ(tuple_of_items)`: any other container type holding keys (a frozenset, a subclass).
    Cast {
        /// The container type.
        typ: Py<PyAny>,
        /// Its items.
        items: Vec<Spec>,
    },
    /// A task object of another kind: called as Dask calls it, `node({key: value, ...})`.
    Node {
        /// The task object.
        node: Py<PyAny>,
        /// Its dependencies' keys and positions.
        deps: Vec<(Py<PyAny>, u32)>,
    },
}

/// The value of a key: a Python object owned by Rust.
pub(crate) struct PyObj(pub(crate) Py<PyAny>);

/// Read the Python object out of a Brisk value.
pub(crate) fn py_value<'py>(py: Python<'py>, v: &brisk_core::Value) -> PyResult<Bound<'py, PyAny>> {
    match v.downcast_ref::<PyObj>() {
        Ok(o) => Ok(o.0.bind(py).clone()),
        Err(m) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "internal: a dependency holds a Rust value, not a Python object ({m})"
        ))),
    }
}

impl Spec {
    /// Evaluate with `inputs[i]` as the value of dependency `i`.
    pub(crate) fn eval<'py>(
        &self,
        py: Python<'py>,
        inputs: &[brisk_core::Value],
    ) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Spec::Lit(o) => Ok(o.bind(py).clone()),
            Spec::Dep(i) => match inputs.get(*i as usize) {
                Some(v) => py_value(py, v),
                None => Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "internal: no input at position {i}"
                ))),
            },
            Spec::Call { func, args, kwargs } => {
                let args = PyTuple::new(py, eval_all(py, args, inputs)?)?;
                let func = func.bind(py);
                if kwargs.is_empty() {
                    func.call1(args)
                } else {
                    let kw = PyDict::new(py);
                    for (name, value) in kwargs {
                        kw.set_item(name.bind(py), value.eval(py, inputs)?)?;
                    }
                    func.call(args, Some(&kw))
                }
            }
            Spec::List(items) => Ok(PyList::new(py, eval_all(py, items, inputs)?)?.into_any()),
            Spec::Tuple(items) => Ok(PyTuple::new(py, eval_all(py, items, inputs)?)?.into_any()),
            Spec::Set(items) => Ok(PySet::new(py, eval_all(py, items, inputs)?)?.into_any()),
            Spec::Dict(items) => {
                let d = PyDict::new(py);
                for pair in items.chunks(2) {
                    if let [k, v] = pair {
                        d.set_item(k.eval(py, inputs)?, v.eval(py, inputs)?)?;
                    } else {
                        return Err(pyo3::exceptions::PyValueError::new_err(
                            "a Dict node has an odd number of items",
                        ));
                    }
                }
                Ok(d.into_any())
            }
            Spec::Cast { typ, items } => {
                let t = PyTuple::new(py, eval_all(py, items, inputs)?)?;
                typ.bind(py).call1((t,))
            }
            Spec::Node { node, deps } => {
                let values = PyDict::new(py);
                for (key, i) in deps {
                    values.set_item(key.bind(py), Spec::Dep(*i).eval(py, inputs)?)?;
                }
                node.bind(py).call1((values,))
            }
        }
    }
}

fn eval_all<'py>(
    py: Python<'py>,
    specs: &[Spec],
    inputs: &[brisk_core::Value],
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    specs.iter().map(|s| s.eval(py, inputs)).collect()
}
