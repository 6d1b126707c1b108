//! # brisk-python: the Python package `brisk`
//!
//! Dask users run their existing code on Brisk's Rust engine:
//!
//! ```python
//! import dask, brisk
//! dask.config.set(scheduler=brisk.get)        # or dask.compute(x, scheduler=brisk.get)
//! ```
//!
//! `brisk.get(dsk, keys, **kwargs)` has the signature of `dask.threaded.get`. This crate is its
//! Rust half (the extension module `brisk._brisk`, built by maturin as an abi3 wheel for
//! CPython ≥ 3.10); the Python half lives in `python/brisk/` beside it. A Dask graph — legacy
//! tuples or the task-spec objects of `dask._task_spec` — is read once into a Brisk graph
//! (`convert.rs`), compiled and run by `brisk-local`'s threaded engine (`run.rs`): Rust
//! schedules, and the GIL is held only while a task's Python code (or a Dask callback) runs
//! (`gil.rs`, the one seam to the interpreter).
//!
//! On a cluster (`cluster.rs`): `brisk.Client` submits Python functions and Dask graphs to a
//! Brisk scheduler, and `python -m brisk worker` runs them; Python tasks are one registered
//! kernel whose literal argument is the cloudpickled task.
//!
//! The crate links `brisk-core`, `brisk-local` and the cluster runtime's client, worker and
//! protocol (never Polars or the collections). It is tested from Python: see
//! `tests/` (pytest, Dask's own scheduler tests) and `docs/guide/src/python.md`.

mod cluster;
mod convert;
mod gil;
mod run;
mod spec;

use pyo3::prelude::*;

/// The extension module `brisk._brisk`.
#[pymodule]
fn _brisk(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run::get_flat, m)?)?;
    m.add_function(wrap_pyfunction!(run::spawn, m)?)?;
    m.add_function(wrap_pyfunction!(cluster::run_worker, m)?)?;
    m.add_class::<cluster::ClusterClient>()?;
    m.add_class::<cluster::FutureHandle>()?;
    Ok(())
}
