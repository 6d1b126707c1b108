"""Dask's scheduler callbacks (``dask.callbacks.Callback``) on Brisk's engine.

Dask's get calls ``start(dsk)``, ``start_state(dsk, state)``, ``pretask(key, dsk, state)``,
``posttask(key, result, dsk, state, worker_id)`` and ``finish(dsk, state, failed)``, where
``state`` is its scheduler state (``ready``, ``running``, ``finished``, ``waiting``, ``cache``
...), which ``ProgressBar`` and the profilers read. The same state is kept here with Dask's own
functions (``start_state_from_dask``, ``finish_task``), updated by the engine's threads around
each task: ``pretask`` and ``posttask`` run on the thread that runs the task, just before and
just after it, under one lock (a callback may release the GIL, e.g. to write a progress bar).
This costs only when callbacks are active.
"""

from __future__ import annotations

import threading

from dask._task_spec import convert_legacy_graph
from dask.callbacks import unpack_callbacks
from dask.local import finish_task, start_state_from_dask
from dask.order import order


class Adapter:
    """Keeps Dask's scheduler state and calls the active callbacks (from Rust, per task)."""

    def __init__(self, dsk, state, callbacks, results, sortkey):
        _, _, self._pre, self._post, _ = unpack_callbacks(callbacks)
        self._dsk = dsk
        self._state = state
        self._results = results
        self._sortkey = sortkey
        self._lock = threading.Lock()

    def pretask(self, key):
        with self._lock:
            state = self._state
            ready = state["ready"]
            # Dask pops the most recently readied task, at the end: search from there.
            for i in range(len(ready) - 1, -1, -1):
                if ready[i] == key:
                    del ready[i]
                    break
            state["running"].add(key)
            for f in self._pre:
                f(key, self._dsk, state)

    def posttask(self, key, result):
        with self._lock:
            state = self._state
            state["cache"][key] = result
            finish_task(self._dsk, key, state, self._results, self._sortkey)
            worker_id = threading.get_ident()
            for f in self._post:
                f(key, result, self._dsk, state, worker_id)


def run_with_callbacks(callbacks, dsk, keys, cache, run):
    """Call ``run(adapter)`` between the callbacks' start and finish, as ``get_async`` does."""
    dsk = convert_legacy_graph(dsk)
    started = []
    succeeded = False
    state = {}
    try:
        for cb in callbacks:
            if cb[0]:
                cb[0](dsk)
            started.append(cb)
        keyorder = order(dsk)
        results = set(keys)
        state = start_state_from_dask(
            dsk, keys=results, cache=cache, sortkey=keyorder.get
        )
        for _, start_state, _, _, _ in callbacks:
            if start_state:
                start_state(dsk, state)
        adapter = Adapter(dsk, state, callbacks, results, keyorder.get)
        values = run(adapter)
        succeeded = True
        return values
    finally:
        for _, _, _, _, finish in started:
            if finish:
                finish(dsk, state, not succeeded)
