"""``brisk.get``: the drop-in replacement for ``dask.threaded.get``."""

from __future__ import annotations

import contextvars
import multiprocessing.pool
from collections.abc import Mapping

from dask import config
from dask.callbacks import local_callbacks
from dask.core import flatten
from dask.system import CPU_COUNT
from dask.utils import ensure_dict

from brisk import _brisk


def _num_workers(num_workers, pool):
    if num_workers:
        return int(num_workers)
    configured = config.get("num_workers", None)
    if configured:
        return int(configured)
    if pool is not None:
        if isinstance(pool, multiprocessing.pool.Pool):
            return len(pool._pool)
        n = getattr(pool, "_max_workers", None)
        if n:
            return int(n)
    return CPU_COUNT


def _nested(keys, values):
    if isinstance(keys, list):
        return tuple(_nested(k, values) for k in keys)
    return values[keys]


def get(dsk, keys, cache=None, num_workers=None, pool=None, callbacks=None, **kwargs):
    """Compute ``keys`` of the Dask graph ``dsk`` on Brisk's threaded engine.

    The signature of ``dask.threaded.get``: ``keys`` is a key or a (nested) list of keys, and
    the result mirrors it (lists become tuples). ``num_workers`` threads run the tasks
    (default: ``dask.config`` ``num_workers``, else the size of ``pool`` if one is given,
    else the number of cores); Brisk uses its own threads, so ``pool`` only sets the count.
    ``cache`` (a dict) supplies values of keys missing from the graph and receives the
    results. Callbacks (``dask.callbacks.Callback``, ``ProgressBar``, the profilers) see the
    calls of Dask's own scheduler. A task's exception is raised here as the same object, with
    its traceback; Ctrl-C raises ``KeyboardInterrupt`` at once. Other keyword arguments of
    ``dask.local.get_async`` are accepted and ignored.

    >>> inc = lambda x: x + 1
    >>> add = lambda x, y: x + y
    >>> dsk = {'x': 1, 'y': 2, 'z': (inc, 'x'), 'w': (add, 'z', 'y')}
    >>> get(dsk, 'w')
    4
    >>> get(dsk, ['w', 'y'])
    (4, 2)
    """
    pool = pool or config.get("pool", None)
    workers = _num_workers(num_workers, pool)
    if cache is None:
        cache = config.get("cache", None)
    if not isinstance(dsk, Mapping):
        dsk = dsk.__dask_graph__()
    dsk = ensure_dict(dsk)
    flat = list(flatten(keys)) if isinstance(keys, list) else [keys]
    wanted = list(dict.fromkeys(flat))
    context = contextvars.copy_context()

    with local_callbacks(callbacks) as active:
        if not active:
            values = _brisk.get_flat(dsk, wanted, workers, context, None, cache)
        else:
            from brisk._callbacks import run_with_callbacks

            values = run_with_callbacks(
                active, dsk, wanted, cache, lambda adapter: _brisk.get_flat(
                    dsk, wanted, workers, context, adapter, cache
                )
            )
    results = dict(zip(wanted, values))
    if cache is not None:
        cache.update(results)
    return _nested(keys, results)
