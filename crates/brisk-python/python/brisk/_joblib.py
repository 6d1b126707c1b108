"""The joblib backend ``"brisk"``: joblib's batches run as tasks on Brisk's engine.

``import brisk`` registers it (when joblib is installed)::

    import joblib, brisk
    with joblib.parallel_backend("brisk"):
        search.fit(X, y)          # e.g. scikit-learn's RandomizedSearchCV(..., n_jobs=-1)

    with joblib.parallel_backend("brisk", client=brisk.Client("tcp://HOST:8786")):
        search.fit(X, y)          # the same, on a Brisk cluster

Each batch joblib dispatches is a one-task graph run by Brisk's threaded engine on one of its
driver threads; at most ``n_jobs`` run at once (default: all cores), the rest wait in order.
Like joblib's threading backend, this suits work that releases the GIL (NumPy, scikit-learn's
compiled estimators).
"""

from __future__ import annotations

import collections
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from joblib._parallel_backends import ParallelBackendBase, SequentialBackend

from brisk import _brisk


class _Lanes:
    """At most ``n`` callables running at once on Brisk; the others queue in order."""

    def __init__(self, n):
        self.n = n
        self.running = 0
        self.pending = collections.deque()
        self.lock = threading.Lock()

    def submit(self, func, future):
        with self.lock:
            if self.running >= self.n:
                self.pending.append((func, future))
                return
            self.running += 1
        self._start(func, future)

    def _start(self, func, future):
        if not future.set_running_or_notify_cancel():
            self._next()
            return

        def done(result, error):
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
            self._next()

        try:
            _brisk.spawn(func, done)
        except BaseException as e:  # no thread could be started
            future.set_exception(e)
            self._next()

    def _next(self):
        with self.lock:
            if not self.pending:
                self.running -= 1
                return
            func, future = self.pending.popleft()
        self._start(func, future)

    def drop_pending(self):
        """Forget the batches not yet started (joblib stops waiting for them)."""
        with self.lock:
            self.pending.clear()


class BriskBackend(ParallelBackendBase):
    """joblib's batches on Brisk's engine: threads of this process, or a cluster (``client=``)."""

    default_n_jobs = -1
    supports_retrieve_callback = True
    uses_threads = True
    supports_sharedmem = True

    def __init__(self, client=None, **kwargs):
        super().__init__(**kwargs)
        self._client = client
        self._lanes = None
        self._waiters = None

    def effective_n_jobs(self, n_jobs):
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            return 1
        if n_jobs < 0:
            cores = self._client.nthreads() if self._client is not None else os.cpu_count()
            return max((cores or 1) + 1 + n_jobs, 1)
        return n_jobs

    def configure(self, n_jobs=1, parallel=None, **backend_kwargs):
        n_jobs = self.effective_n_jobs(n_jobs)
        self.parallel = parallel
        if self._client is None:
            self._lanes = _Lanes(n_jobs)
        elif self._waiters is None:
            # Threads that wait (GIL released) for the cluster's results, in any order.
            self._waiters = ThreadPoolExecutor(max(n_jobs, 4), "brisk-joblib-wait")
        return n_jobs

    def submit(self, func, callback=None):
        future = Future()
        if callback is not None:
            future.add_done_callback(callback)
        if self._client is None:
            self._lanes.submit(func, future)
        else:
            remote = self._client.submit(func, pure=False)
            self._waiters.submit(_resolve, remote, future)
        return future

    def retrieve_result_callback(self, out):
        return out.result()

    def abort_everything(self, ensure_ready=True):
        if self._lanes is not None:
            self._lanes.drop_pending()

    def terminate(self):
        if self._waiters is not None:
            self._waiters.shutdown(wait=False)
            self._waiters = None

    def get_nested_backend(self):
        # Nested Parallel calls run in the calling task, as joblib does two levels down.
        return SequentialBackend(nesting_level=(self.nesting_level or 0) + 1), None


def _resolve(remote, future):
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(remote.result())
    except BaseException as e:
        future.set_exception(e)


def register():
    from joblib import register_parallel_backend

    register_parallel_backend("brisk", BriskBackend)
