//! Python on a Brisk cluster: a client for Python programs, and workers that run Python tasks.
//!
//! Functions cross processes by registered name (`brisk_core::register!`), parameters as
//! literal arguments with registered encodings (`brisk_core::codec`). A Python task is one
//! registered kernel, [`py_call`] (`"brisk_python.call"`), whose first argument is the Python
//! task (a `dask._task_spec` node, pickled on the wire) with the keys of its
//! dependencies, and whose second argument is the list of those dependencies' values. Python
//! values are [`PyObj`]s, pickled (tag `"brisk_python.object"`; `pickle` where it suffices,
//! else `cloudpickle`: see `python/brisk/_pickle.py`). Any process
//! that loads this extension — `python -m brisk worker`, or a client — knows both, so the stock
//! scheduler (`brisk scheduler`) places Python tasks on Python workers like any other task.
//!
//! A task's exception travels as its message, its traceback's text and the pickled exception;
//! the client raises the same exception type with the same arguments.

use std::any::TypeId;
use std::sync::Arc;
use std::time::Duration;

use brisk_core::codec::TypeEntry;
use brisk_core::{Arg, CodecError, Error, Func, Graph, Key, Node, Task, Value};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyString, PyTuple};

use crate::gil::with_python;
use crate::run::Done;
use crate::spec::PyObj;

/// Marks the pickled exception at the end of a remote task's failure message.
const EXCEPTION_MARKER: &str = "\n--brisk-python-exception-pickle:";

struct PyHelpers {
    dumps: Py<PyAny>,
    loads: Py<PyAny>,
    sizeof: Py<PyAny>,
    format_exception: Py<PyAny>,
}

fn helpers(py: Python<'_>) -> PyResult<&'static PyHelpers> {
    static H: PyOnceLock<PyHelpers> = PyOnceLock::new();
    H.get_or_try_init(py, || {
        Ok(PyHelpers {
            dumps: py.import("brisk._pickle")?.getattr("dumps")?.unbind(),
            loads: py.import("brisk._pickle")?.getattr("loads")?.unbind(),
            sizeof: py.import("dask.sizeof")?.getattr("sizeof")?.unbind(),
            format_exception: py
                .import("traceback")?
                .getattr("format_exception")?
                .unbind(),
        })
    })
}

fn dumps(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let b = helpers(py)?.dumps.bind(py).call1((obj,))?;
    Ok(b.cast::<PyBytes>()?.as_bytes().to_vec())
}

fn loads<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    helpers(py)?
        .loads
        .bind(py)
        .call1((PyBytes::new(py, bytes),))
}

fn encode_obj(v: &Value) -> Result<Vec<u8>, CodecError> {
    let encode_error = |message: String| CodecError::Encode {
        type_name: "a Python object",
        message,
    };
    let obj = v
        .downcast_ref::<PyObj>()
        .map_err(|m| encode_error(m.to_string()))?;
    with_python(|py| dumps(py, obj.0.bind(py))).map_err(|e| encode_error(e.to_string()))
}

/// One decoding at a time: unpickling imports modules, and two threads importing the same
/// package at once can see each other's half-initialized modules (Dask's dispatch tables are
/// filled as `dask.array` finishes importing).
static DECODING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

fn decode_obj(bytes: &[u8]) -> Result<Value, CodecError> {
    let _one = DECODING.lock();
    with_python(|py| loads(py, bytes).map(|o| Value::new(PyObj(o.unbind())))).map_err(|e| {
        CodecError::Decode {
            tag: "brisk_python.object".into(),
            message: e.to_string(),
        }
    })
}

fn obj_nbytes(v: &Value) -> usize {
    let Ok(obj) = v.downcast_ref::<PyObj>() else {
        return 0;
    };
    with_python(|py| {
        helpers(py)
            .and_then(|h| h.sizeof.bind(py).call1((obj.0.bind(py),)))
            .and_then(|n| n.extract::<usize>())
            .unwrap_or(0)
    })
}

brisk_core::__private::inventory::submit! {
    TypeEntry::new(
        || "brisk_python.object",
        TypeId::of::<PyObj>,
        encode_obj,
        decode_obj,
    )
    .with_nbytes(obj_nbytes)
}

/// A Python task's exception, as it travels to the client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RemoteFailure(String);

impl RemoteFailure {
    fn from_pyerr(py: Python<'_>, e: PyErr) -> RemoteFailure {
        let value = e.value(py);
        let mut text = match helpers(py).and_then(|h| {
            h.format_exception
                .bind(py)
                .call1((value.get_type(), value, e.traceback(py)))?
                .extract::<Vec<String>>()
        }) {
            Ok(lines) => lines.concat(),
            Err(_) => e.to_string(),
        };
        if let Ok(bytes) = dumps(py, value) {
            text.push_str(EXCEPTION_MARKER);
            text.push_str(&hex(&bytes));
        }
        RemoteFailure(text)
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|p| match p {
            [a, b] => Some(digit(*a)? << 4 | digit(*b)?),
            _ => None,
        })
        .collect()
}

/// The kernel of every Python task on a cluster: `payload` is `(node, dep_keys)`, `deps` the
/// values of `dep_keys`; the result is `node({key: value, ...})`, as Dask evaluates a node.
fn py_call(payload: Value, deps: Vec<Value>) -> Result<Value, RemoteFailure> {
    with_python(|py| {
        let run = || -> PyResult<Py<PyAny>> {
            let payload = crate::spec::py_value(py, &payload)?;
            let payload = payload.cast::<PyTuple>()?;
            let node = payload.get_item(0)?;
            let keys = payload.get_item(1)?;
            let values = PyDict::new(py);
            for (k, v) in keys.try_iter()?.zip(deps.iter()) {
                values.set_item(k?, crate::spec::py_value(py, v)?)?;
            }
            Ok(node.call1((values,))?.unbind())
        };
        run()
            .map(|o| Value::new(PyObj(o)))
            .map_err(|e| RemoteFailure::from_pyerr(py, e))
    })
}

brisk_core::register!(py_call as "brisk_python.call");

/// The Brisk key of a Python key, the same in every process: `"x"` → `x`, `("x", 1, 2)` →
/// `('x', 1, 2)`; any other key by its `repr`.
fn brisk_key(k: &Bound<'_, PyAny>) -> PyResult<Key> {
    if let Ok(s) = k.cast::<PyString>() {
        return Ok(Key::from(s.to_str()?));
    }
    if let Ok(t) = k.cast::<PyTuple>()
        && !t.is_empty()
        && let Ok(name) = t.get_item(0)?.cast::<PyString>()
    {
        let mut index = Vec::with_capacity(t.len() - 1);
        for item in t.iter().skip(1) {
            match item
                .cast::<PyInt>()
                .ok()
                .and_then(|i| i.extract::<u32>().ok())
            {
                Some(i) if i < u32::MAX => index.push(i),
                _ => return Ok(Key::from(format!("pykey:{}", k.repr()?))),
            }
        }
        return Ok(Key::new(name.to_str()?, &index));
    }
    Ok(Key::from(format!("pykey:{}", k.repr()?)))
}

/// The Python spelling of a Brisk key (a name, or a tuple of the name and the index).
fn py_key<'py>(py: Python<'py>, key: &Key) -> PyResult<Bound<'py, PyAny>> {
    if key.index().is_empty() {
        return Ok(PyString::new(py, key.name()).into_any());
    }
    let mut items: Vec<Bound<'py, PyAny>> = vec![PyString::new(py, key.name()).into_any()];
    for &i in key.index() {
        items.push(i.into_pyobject(py)?.into_any());
    }
    Ok(PyTuple::new(py, items)?.into_any())
}

/// A Brisk error from the cluster as a Python exception: a task's own exception when it came
/// along, else `RuntimeError` with the message.
fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    let failure = match &e {
        Error::TaskFailed { failure, .. } | Error::DependencyFailed { failure, .. } => {
            Some(failure.message.as_str())
        }
        _ => None,
    };
    if let Some(message) = failure
        && let Some((text, pickled)) = message.rsplit_once(EXCEPTION_MARKER)
        && let Some(bytes) = unhex(pickled)
        && let Ok(exc) = loads(py, &bytes)
        && exc.is_instance_of::<pyo3::exceptions::PyBaseException>()
    {
        if exc.hasattr("add_note").unwrap_or(false) {
            let _ = exc.call_method1("add_note", (format!("remote traceback:\n{text}"),));
        }
        return PyErr::from_value(exc);
    }
    PyRuntimeError::new_err(e.to_string())
}

/// The Brisk task for a Python task `node` with dependencies `deps` (Python keys).
fn python_task(
    py: Python<'_>,
    node: &Bound<'_, PyAny>,
    deps: &[Bound<'_, PyAny>],
) -> PyResult<Task> {
    let keys = PyList::new(py, deps)?;
    let payload = PyTuple::new(py, [node.clone(), keys.into_any()])?;
    let dep_args = deps
        .iter()
        .map(|d| brisk_key(d).map(Arg::Key))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Task {
        func: Func::new(py_call),
        args: vec![
            Arg::Literal(Value::new(PyObj(payload.into_any().unbind()))),
            Arg::List(dep_args),
        ],
    })
}

/// A connection to a Brisk cluster's scheduler (Python's `brisk.Client` wraps it).
#[pyclass(module = "brisk._brisk", frozen)]
pub(crate) struct ClusterClient {
    inner: brisk_client::Client,
}

/// A value on the cluster.
#[pyclass(module = "brisk._brisk", frozen)]
pub(crate) struct FutureHandle {
    inner: brisk_client::Future<Value>,
}

fn handle(f: brisk_client::Future<Value>) -> FutureHandle {
    FutureHandle { inner: f }
}

#[pymethods]
impl FutureHandle {
    /// Wait for the value (the GIL released) and return it.
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let r = py.detach(|| self.inner.result());
        match r {
            Ok(v) => Ok(crate::spec::py_value(py, &v)?.unbind()),
            Err(e) => Err(to_py_err(py, e)),
        }
    }

    /// Whether the value is ready (or failed).
    fn done(&self) -> bool {
        self.inner.done()
    }

    /// The key on the cluster.
    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_key(py, self.inner.key())
    }
}

#[pymethods]
impl ClusterClient {
    #[new]
    fn new(py: Python<'_>, address: String) -> PyResult<Self> {
        let options = brisk_client::ClientOptions {
            set_as_default: false,
            name: format!("python-client-{}", std::process::id()),
            ..Default::default()
        };
        let inner = py
            .detach(|| brisk_client::Client::connect_with(&address, options))
            .map_err(|e| to_py_err(py, e))?;
        Ok(ClusterClient { inner })
    }

    /// Run the Python task `node` (a `dask._task_spec` node) whose dependencies `deps` are keys
    /// already on the cluster; `key` names it (else a key derived from the call).
    #[pyo3(signature = (node, deps, key=None))]
    fn submit(
        &self,
        py: Python<'_>,
        node: &Bound<'_, PyAny>,
        deps: Vec<Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<FutureHandle> {
        let task = python_task(py, node, &deps)?;
        let options = brisk_client::SubmitOptions {
            retries: 0,
            key: key.map(brisk_key).transpose()?,
        };
        let f = py
            .detach(|| self.inner.submit_with(py_call, task.args, options))
            .map_err(|e| to_py_err(py, e))?;
        Ok(handle(f.erase()))
    }

    /// Many Python tasks in one message: `calls` is a list of `(node, deps)`.
    fn map(
        &self,
        py: Python<'_>,
        calls: Vec<(Bound<'_, PyAny>, Vec<Bound<'_, PyAny>>)>,
    ) -> PyResult<Vec<FutureHandle>> {
        let mut items = Vec::with_capacity(calls.len());
        for (node, deps) in &calls {
            items.push(python_task(py, node, deps)?.args);
        }
        let futures = py
            .detach(|| self.inner.map_args(py_call, items))
            .map_err(|e| to_py_err(py, e))?;
        Ok(futures.into_iter().map(|f| handle(f.erase())).collect())
    }

    /// Send a whole graph of task-spec nodes (`DataNode`s become literals) and return a future
    /// per key of `keys`.
    fn submit_graph(
        &self,
        py: Python<'_>,
        dsk: &Bound<'_, PyDict>,
        keys: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<FutureHandle>> {
        let spec = py.import("dask._task_spec")?;
        let data_node = spec.getattr("DataNode")?;
        let alias = spec.getattr("Alias")?;
        let mut graph = Graph::with_capacity(dsk.len());
        for (k, node) in dsk.iter() {
            let key = brisk_key(&k)?;
            let typ = node.get_type();
            let n = if typ.is(&data_node) {
                Node::Literal(Value::new(PyObj(node.getattr("value")?.unbind())))
            } else if typ.is(&alias) {
                Node::Alias(brisk_key(&node.getattr("target")?)?)
            } else {
                let deps: Vec<Bound<'_, PyAny>> = node
                    .getattr("dependencies")?
                    .try_iter()?
                    .collect::<PyResult<_>>()?;
                Node::Task(python_task(py, &node, &deps)?)
            };
            graph.set(key, n);
        }
        let keys = keys.iter().map(brisk_key).collect::<PyResult<Vec<_>>>()?;
        let futures = py
            .detach(|| self.inner.submit_graph(&graph, &keys, false))
            .map_err(|e| to_py_err(py, e))?;
        with_python(|_| drop(graph));
        Ok(futures.into_iter().map(handle).collect())
    }

    /// Wait for all `futures` (the GIL released) and return their values.
    fn gather(
        &self,
        py: Python<'_>,
        futures: Vec<PyRef<'_, FutureHandle>>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let fs: Vec<brisk_client::Future<Value>> =
            futures.iter().map(|f| f.inner.erase()).collect();
        let values = py
            .detach(|| self.inner.gather(&fs))
            .map_err(|e| to_py_err(py, e))?;
        values
            .iter()
            .map(|v| Ok(crate::spec::py_value(py, v)?.unbind()))
            .collect()
    }

    /// Wait until `n` workers are connected, at most `timeout` seconds.
    fn wait_for_workers(&self, py: Python<'_>, n: usize, timeout: f64) -> PyResult<()> {
        if !(timeout.is_finite() && timeout >= 0.0) {
            return Err(PyValueError::new_err(
                "timeout must be a number of seconds >= 0",
            ));
        }
        py.detach(|| {
            self.inner
                .wait_for_workers(n, Duration::from_secs_f64(timeout))
        })
        .map_err(|e| to_py_err(py, e))
    }

    /// The number of connected workers and their threads in all.
    fn workers(&self, py: Python<'_>) -> PyResult<(usize, u64)> {
        let info = py
            .detach(|| self.inner.scheduler_info())
            .map_err(|e| to_py_err(py, e))?;
        let threads = info.workers.iter().map(|w| u64::from(w.nthreads)).sum();
        Ok((info.workers.len(), threads))
    }

    /// The scheduler's address.
    #[getter]
    fn address(&self) -> String {
        self.inner.address().to_string()
    }

    /// Close the connection (the cluster forgets this client's futures).
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.inner.close());
    }
}

/// Run a worker of the scheduler at `address` in this process until the scheduler closes it,
/// it loses the scheduler, or the process gets SIGINT/SIGTERM (`python -m brisk worker`).
#[pyfunction]
#[pyo3(signature = (address, nthreads=None, name=None, memory_limit=None, listen_host=None, death_timeout=60.0))]
pub(crate) fn run_worker(
    py: Python<'_>,
    address: String,
    nthreads: Option<usize>,
    name: Option<String>,
    memory_limit: Option<String>,
    listen_host: Option<String>,
    death_timeout: f64,
) -> PyResult<()> {
    let mut options = brisk_worker::WorkerOptions::new(address);
    if let Some(n) = nthreads {
        options.nthreads = n.max(1);
    }
    options.name = name;
    if let Some(limit) = memory_limit {
        options.memory_limit = brisk_core::bytes::parse_bytes(&limit).ok_or_else(|| {
            PyValueError::new_err(format!(
                "memory_limit={limit:?} is not a size (4GB, 512MiB, ...)"
            ))
        })?;
    }
    if let Some(host) = listen_host {
        options.listen_host = host;
    }
    if !(death_timeout.is_finite() && death_timeout >= 0.0) {
        return Err(PyTypeError::new_err(
            "death_timeout must be a number of seconds >= 0",
        ));
    }
    options.death_timeout = Duration::from_secs_f64(death_timeout);
    options.security =
        brisk_protocol::Security::from_env().map_err(|e| PyValueError::new_err(e.to_string()))?;
    let done: Arc<Done<Result<(), String>>> = Arc::new(Done::default());
    let tx = Arc::clone(&done);
    std::thread::Builder::new()
        .name("brisk-python-worker".into())
        .spawn(move || tx.set(brisk_worker::run(options).map_err(|e| e.to_string())))
        .map_err(|e| PyRuntimeError::new_err(format!("could not start the worker: {e}")))?;
    loop {
        if let Some(r) = py.detach(|| done.wait(Duration::from_millis(100))) {
            return r.map_err(PyRuntimeError::new_err);
        }
        py.check_signals()?;
    }
}
