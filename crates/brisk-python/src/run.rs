//! Running a converted graph on Brisk's threaded engine, from a Python caller.
//!
//! The calling Python thread does not run tasks: it hands the run to a *driver* thread (the
//! engine's worker 0, joined by `num_workers - 1` threads of `brisk-local`'s pool) and waits
//! with the GIL released, waking every [`POLL`] to let Python handle signals. So Ctrl-C raises
//! `KeyboardInterrupt` in the caller at once, as with Dask's threaded get: the run is marked
//! cancelled, tasks that have not started fail fast without touching Python, and tasks still
//! running finish in the background.
//!
//! Each task is one call of a function made per run ([`task_func`]): take the GIL
//! ([`crate::gil::with_python`]), call Dask's `pretask` callbacks, evaluate the task's
//! [`Spec`](crate::spec::Spec) inside a copy of the caller's `contextvars` context (as Dask's
//! thread pool does), call the `posttask` callbacks, and release the GIL.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use brisk_core::{ComputeOptions, Error, Func, TaskFailure, Value};
use brisk_local::{LocalScheduler, OnError};
use parking_lot::{Condvar, Mutex};
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use smallvec::SmallVec;

use crate::convert::{ConvertError, Converted, PyTask, convert, key_id};
use crate::gil::with_python;
use crate::spec::{PyObj, py_value};

/// How often a waiting caller checks for signals (Ctrl-C).
const POLL: Duration = Duration::from_millis(20);

/// What every task of one run shares.
struct RunShared {
    /// Set when the caller gave up (Ctrl-C): tasks not yet started fail without running.
    cancelled: AtomicBool,
    /// The caller's `contextvars` context; each task runs in a copy of it.
    context: Py<PyAny>,
    /// The callback adapter (`brisk._callbacks.Adapter`), when callbacks are active.
    callbacks: Option<Py<PyAny>>,
}

/// A Python exception raised by a task, carried through the engine as the task's error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PyTaskError(PyErr);

/// The task a context runner is about to evaluate on this thread.
type Current = (Value, SmallVec<[Value; 4]>);

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// Evaluates the task left in [`CURRENT`]: called by `Context.run` so that the whole task,
/// nested calls included, runs inside the caller's context.
#[pyfunction]
fn _run_current(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let Some((task, inputs)) = CURRENT.with(|c| c.borrow_mut().take()) else {
        return Err(PyRuntimeError::new_err("internal: no task to run"));
    };
    let task = task
        .downcast_ref::<PyTask>()
        .map_err(|m| PyRuntimeError::new_err(format!("internal: {m}")))?;
    Ok(task.spec.eval(py, &inputs)?.unbind())
}

fn runner(py: Python<'_>) -> PyResult<&Py<PyAny>> {
    static RUNNER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    RUNNER.get_or_try_init(py, || {
        Ok(wrap_pyfunction!(_run_current, py)?.into_any().unbind())
    })
}

/// The function every task of a run calls: `args[0]` is the [`PyTask`], the rest are the
/// values of its dependencies.
fn task_func(shared: Arc<RunShared>) -> Func {
    Func::raw("python", move |args: &[Value]| {
        if shared.cancelled.load(Ordering::Relaxed) {
            return Err(TaskFailure::msg("the computation was interrupted"));
        }
        let Some((task, inputs)) = args.split_first() else {
            return Err(TaskFailure::msg("internal: a Python task without its spec"));
        };
        with_python(|py| run_one(py, &shared, task, inputs))
            .map(|obj| Value::new(PyObj(obj)))
            .map_err(|e| TaskFailure::from_error(Box::new(PyTaskError(e))))
    })
}

fn run_one(
    py: Python<'_>,
    shared: &RunShared,
    task: &Value,
    inputs: &[Value],
) -> PyResult<Py<PyAny>> {
    let t = task
        .downcast_ref::<PyTask>()
        .map_err(|m| PyRuntimeError::new_err(format!("internal: {m}")))?;
    if let Some(cb) = &shared.callbacks {
        cb.bind(py)
            .call_method1(pyo3::intern!(py, "pretask"), (t.key.bind(py),))?;
    }
    CURRENT.with(|c| *c.borrow_mut() = Some((task.clone(), inputs.iter().cloned().collect())));
    let result = shared
        .context
        .bind(py)
        .call_method0(pyo3::intern!(py, "copy"))
        .and_then(|ctx| ctx.call_method1(pyo3::intern!(py, "run"), (runner(py)?,)));
    CURRENT.with(|c| c.borrow_mut().take());
    let result = result?;
    if let Some(cb) = &shared.callbacks {
        cb.bind(py)
            .call_method1(pyo3::intern!(py, "posttask"), (t.key.bind(py), &result))?;
    }
    Ok(result.unbind())
}

/// Compute `keys` (a flat list of distinct Python keys) of `dsk` on `num_workers` threads.
/// Returns the values in the order of `keys`.
#[pyfunction]
#[pyo3(signature = (dsk, keys, num_workers, context, callbacks=None, cache=None))]
pub(crate) fn get_flat<'py>(
    py: Python<'py>,
    dsk: &Bound<'py, PyDict>,
    keys: &Bound<'py, PyList>,
    num_workers: usize,
    context: Py<PyAny>,
    callbacks: Option<Py<PyAny>>,
    cache: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyList>> {
    let shared = Arc::new(RunShared {
        cancelled: AtomicBool::new(false),
        context,
        callbacks,
    });
    let func = task_func(Arc::clone(&shared));
    let converted = match convert(py, dsk, keys, cache, &func) {
        Ok(c) => c,
        Err(ConvertError::UnknownKey(k)) => return Err(PyKeyError::new_err(k)),
        Err(ConvertError::Python(e)) => return Err(e),
    };
    let Converted {
        graph,
        keys: names,
        outputs,
    } = converted;
    let done: Arc<Done<RunResult>> = Arc::new(Done::default());
    let tx = Arc::clone(&done);
    let threads = num_workers.max(1);
    let submitted = drivers().submit(Box::new(move || {
        let scheduler = LocalScheduler::threaded()
            .num_threads(threads)
            .progress(false);
        let result = scheduler.run(&graph, &outputs, &ComputeOptions::default(), OnError::Stop);
        // The graph holds Python objects: release them before reporting, so that the caller
        // finds them released when `get` returns.
        with_python(|_| drop(graph));
        tx.set(result);
    }));
    if let Err(e) = submitted {
        return Err(PyRuntimeError::new_err(format!(
            "could not start a thread to run the graph: {e}"
        )));
    }
    let result = loop {
        match py.detach(|| done.wait(POLL)) {
            Some(r) => break r,
            None => {
                if let Err(e) = py.check_signals() {
                    shared.cancelled.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
    };
    let values = result.map_err(|e| to_py_err(py, e, &names))?;
    let out = PyList::empty(py);
    for v in values {
        let v = v.map_err(|e| to_py_err(py, e, &names))?;
        out.append(py_value(py, &v)?)?;
    }
    Ok(out)
}

type RunResult = Result<Vec<Result<Value, Error>>, Error>;

/// A result handed from a Rust thread to a Python caller that waits for it in slices (to run
/// signal handlers in between).
pub(crate) struct Done<T> {
    result: Mutex<Option<T>>,
    cv: Condvar,
}

impl<T> Default for Done<T> {
    fn default() -> Self {
        Done {
            result: Mutex::new(None),
            cv: Condvar::new(),
        }
    }
}

impl<T> Done<T> {
    pub(crate) fn set(&self, r: T) {
        *self.result.lock() = Some(r);
        self.cv.notify_all();
    }

    /// The result, if it arrives within `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<T> {
        let mut g = self.result.lock();
        if g.is_none() {
            self.cv.wait_for(&mut g, timeout);
        }
        g.take()
    }
}

/// Run `func()` as a one-task graph on Brisk's engine, on a driver thread, without waiting;
/// then call `done(result, None)`, or `done(None, exception)` if it raised, on that thread. The
/// joblib backend (`brisk._joblib`) is built on this.
#[pyfunction]
pub(crate) fn spawn(py: Python<'_>, func: Py<PyAny>, done: Py<PyAny>) -> PyResult<()> {
    let context = py.import("contextvars")?.call_method0("copy_context")?;
    let shared = Arc::new(RunShared {
        cancelled: AtomicBool::new(false),
        context: context.unbind(),
        callbacks: None,
    });
    let key = brisk_core::Key::from("spawned");
    let mut graph = brisk_core::Graph::with_capacity(1);
    graph.set(
        key.clone(),
        brisk_core::Node::Task(brisk_core::Task {
            func: task_func(shared),
            args: vec![brisk_core::Arg::Literal(Value::new(PyTask {
                key: py.None(),
                spec: crate::spec::Spec::Call {
                    func,
                    args: Vec::new(),
                    kwargs: Vec::new(),
                },
            }))],
        }),
    );
    drivers()
        .submit(Box::new(move || {
            let scheduler = LocalScheduler::threaded().num_threads(1).progress(false);
            let result = scheduler.run(
                &graph,
                std::slice::from_ref(&key),
                &ComputeOptions::default(),
                OnError::Stop,
            );
            with_python(|py| {
                drop(graph);
                let outcome = match result.map(|mut v| v.pop()) {
                    Ok(Some(Ok(v))) => py_value(py, &v).map(|v| (v, py.None().into_bound(py))),
                    Ok(Some(Err(e))) | Err(e) => Ok((
                        py.None().into_bound(py),
                        to_py_err(py, e, &[])
                            .into_value(py)
                            .into_bound(py)
                            .into_any(),
                    )),
                    Ok(None) => Err(PyRuntimeError::new_err("internal: no result")),
                };
                let called = outcome.and_then(|args| done.bind(py).call1(args));
                if let Err(e) = called {
                    e.write_unraisable(py, Some(done.bind(py)));
                }
            });
        }))
        .map_err(|e| PyRuntimeError::new_err(format!("could not start a thread: {e}")))
}

/// The Python key behind a Brisk key, for messages.
fn py_key<'py>(py: Python<'py>, key: &brisk_core::Key, names: &[Py<PyAny>]) -> Bound<'py, PyAny> {
    match key_id(key).and_then(|i| names.get(i)) {
        Some(k) => k.bind(py).clone(),
        None => pyo3::types::PyString::new(py, &key.to_string()).into_any(),
    }
}

fn repr(k: &Bound<'_, PyAny>) -> String {
    k.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A Brisk error as the Python exception Dask's get raises in its place.
fn to_py_err(py: Python<'_>, e: Error, names: &[Py<PyAny>]) -> PyErr {
    match e {
        Error::TaskFailed { key, failure } | Error::DependencyFailed { key, failure, .. } => {
            match failure.downcast_ref::<PyTaskError>() {
                Some(PyTaskError(err)) => err.clone_ref(py),
                None => PyRuntimeError::new_err(format!(
                    "task {} failed: {failure}",
                    repr(&py_key(py, &key, names))
                )),
            }
        }
        Error::UnknownKey { key } => PyKeyError::new_err(py_key(py, &key, names).unbind()),
        Error::MissingDependency { key, dependency } => PyValueError::new_err(format!(
            "Missing dependency {} for dependents {{{}}}",
            repr(&py_key(py, &dependency, names)),
            repr(&py_key(py, &key, names))
        )),
        Error::Cycle { keys } => {
            let mut text: Vec<String> = keys.iter().map(|k| repr(&py_key(py, k, names))).collect();
            if let Some(first) = text.first().cloned() {
                text.push(first);
            }
            PyRuntimeError::new_err(format!(
                "Cycle detected between the following keys:\n  -> {}",
                text.join("\n  -> ")
            ))
        }
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// Threads that drive runs: each blocks in the engine for one run at a time, and goes back to
/// the idle list after. There are as many as there were concurrent runs at the busiest moment;
/// they live as long as the process, like `brisk-local`'s pool threads, so each keeps one
/// Python thread state (see [`crate::gil`]).
struct Drivers {
    idle: Mutex<Vec<mpsc::Sender<Job>>>,
}

type Job = Box<dyn FnOnce() + Send>;

fn drivers() -> &'static Drivers {
    static DRIVERS: std::sync::OnceLock<Drivers> = std::sync::OnceLock::new();
    DRIVERS.get_or_init(|| Drivers {
        idle: Mutex::new(Vec::new()),
    })
}

impl Drivers {
    fn submit(&'static self, job: Job) -> std::io::Result<()> {
        let mut job = job;
        loop {
            let Some(tx) = self.idle.lock().pop() else {
                break;
            };
            match tx.send(job) {
                Ok(()) => return Ok(()),
                // That driver is gone; try the next one.
                Err(mpsc::SendError(j)) => job = j,
            }
        }
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("brisk-python-driver".into())
            .spawn(move || {
                let mut next = Some(job);
                while let Some(job) = next.take() {
                    job();
                    self.idle.lock().push(tx.clone());
                    next = rx.recv().ok();
                }
            })
            .map(drop)
    }
}
