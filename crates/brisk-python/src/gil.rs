//! The one seam between Brisk's threads and the Python interpreter.
//!
//! Everything in this crate that runs Python from an engine thread goes through
//! [`with_python`]; everything that waits goes through [`Python::detach`] at the call site. So
//! the GIL is held exactly while Python code (a task, a callback) runs, and Rust schedules with
//! it released.
//!
//! Engine threads are Rust threads. CPython gives a thread a *thread state* the first time it
//! attaches, and `PyGILState_Release` destroys it again when the outermost attach ends, which
//! would cost a thread state per task and lose Python's per-thread data (`threading.local`,
//! `threading.current_thread()`) between two tasks on one thread. [`with_python`] therefore
//! gives each engine thread one thread state that lives as long as the thread (the pools of
//! `brisk-local` and the drivers of [`crate::run`] keep their threads for the process's life),
//! and then attaches and detaches it per call: a lock hand-over, no allocation.
//!
//! For a free-threaded CPython (`gil_used = false`) nothing here changes in shape: attaching
//! stays the way to get a `Python` token; only the module flag and the thread-safety of the
//! callback adapter (see `python/brisk/_callbacks.py`) need a look.

use std::cell::Cell;

use pyo3::{Python, ffi};

thread_local! {
    /// Whether this thread already has a Python thread state (made here, or Python's own).
    static HAS_STATE: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` attached to the interpreter (holding the GIL) on the current thread.
pub(crate) fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    keep_thread_state();
    Python::attach(f)
}

/// Give the current thread a Python thread state of its own, kept until the thread ends, so
/// that attaching later finds it and merely takes the GIL.
#[allow(unsafe_code)]
fn keep_thread_state() {
    if HAS_STATE.with(Cell::get) {
        return;
    }
    // SAFETY: the extension module is loaded, so the interpreter is initialized.
    // `PyGILState_GetThisThreadState` (callable without the GIL) tells whether CPython already
    // knows this thread — a Python thread, or one that holds the GIL, is left alone. If not,
    // `PyGILState_Ensure` creates its thread state and takes the GIL, and
    // `PyEval_SaveThread` releases the GIL again while keeping the state, which the
    // never-matched `Ensure` keeps alive for the thread's life. Later `PyGILState_Ensure`
    // calls (inside `Python::attach`) then only restore it.
    unsafe {
        if ffi::PyGILState_GetThisThreadState().is_null() {
            let _state = ffi::PyGILState_Ensure();
            ffi::PyEval_SaveThread();
        }
    }
    HAS_STATE.with(|h| h.set(true));
}
