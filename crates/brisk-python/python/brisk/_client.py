"""``brisk.Client``: Python functions and Dask collections on a Brisk cluster.

    client = brisk.Client("tcp://127.0.0.1:8786")     # `brisk scheduler` + `python -m brisk worker`
    a = client.submit(inc, 1)                          # returns at once
    b = client.submit(add, a, 10)                      # depends on a, runs where a lives
    futures = client.map(inc, range(1000))
    client.gather(futures)                             # values
    client.compute(x).result()                         # a Dask collection on the cluster
    x = client.persist(x)                              # its chunks stay on the workers
    dask.compute(x, scheduler=client)                  # or as Dask's scheduler

Tasks travel as cloudpickled ``dask._task_spec`` nodes to workers that load this package
(``python -m brisk worker tcp://HOST:8786``); values travel cloudpickled. A task's exception is
raised by ``result``/``gather`` as the same type with the same arguments (the remote traceback
as a note).
"""

from __future__ import annotations

import uuid

import cloudpickle

from dask._task_spec import (
    DataNode,
    Task,
    TaskRef,
    convert_legacy_graph,
    parse_input,
)
from dask.base import tokenize
from dask.core import flatten
from dask.utils import ensure_dict, funcname

from brisk import _brisk


class Future(TaskRef):
    """A value on the cluster. Pass it to ``submit``/``map`` (or put it in a Dask graph) to
    use the value there without bringing it back."""

    __slots__ = ("_handle", "_client")
    __dask_future__ = True

    def __init__(self, handle, client, key=None):
        super().__init__(handle.key if key is None else key)
        self._handle = handle
        self._client = client

    def result(self):
        """Wait for the value and return it (raises the task's exception if it failed)."""
        return self._handle.result()

    def done(self):
        return self._handle.done()

    def __repr__(self):
        state = "finished" if self.done() else "pending"
        return f"<brisk.Future {self.key!r} {state}>"

    def __reduce__(self):
        # Inside a graph sent to the cluster, a future is a reference to its key.
        return TaskRef, (self.key,)


def _call(key, func, args, kwargs):
    """The task-spec node of ``func(*args, **kwargs)``, futures in the arguments as references."""
    return Task(
        key,
        func,
        *[parse_input(a) for a in args],
        **{k: parse_input(v) for k, v in kwargs.items()},
    )


def _deps(node):
    return list(node.dependencies)


class Client:
    """A client of a Brisk cluster (``brisk scheduler`` plus ``python -m brisk worker``)."""

    #: Dask asks schedulers passed as ``scheduler=client`` whether they are asynchronous.
    asynchronous = False

    def __init__(self, address="tcp://127.0.0.1:8786"):
        self._c = _brisk.ClusterClient(address)
        # Futures of persisted collections: Dask's graphs keep only their keys, so the client
        # holds the futures (and the cluster the data) until it closes.
        self._persisted = {}

    # -- Python functions -------------------------------------------------------------
    def submit(self, func, *args, key=None, pure=True, **kwargs):
        """Run ``func(*args, **kwargs)`` on the cluster; returns a :class:`Future` at once.

        Futures among the arguments (also inside lists, tuples, dicts) are replaced by their
        values on the worker. ``pure=True`` names the call by its contents (the same call
        submitted twice shares one result); ``key`` names it explicitly.
        """
        if key is None:
            token = tokenize(func, args, kwargs) if pure else uuid.uuid4().hex
            key = f"{funcname(func)}-{token}"
        node = _call(key, func, args, kwargs)
        return Future(self._c.submit(node, _deps(node), key), self, key)

    def map(self, func, *iterables, **kwargs):
        """``submit`` for every item (one argument per iterable), in one message."""
        calls = []
        func = _PickledOnce(func)
        for args in zip(*iterables):
            node = _call(None, func, args, kwargs)
            calls.append((node, _deps(node)))
        return [Future(h, self) for h in self._c.map(calls)]

    def gather(self, futures):
        """The values of ``futures`` (a future, or a possibly nested list of them)."""
        if isinstance(futures, Future):
            return futures.result()
        flat = [f for f in flatten(futures, container=(list, tuple)) if isinstance(f, Future)]
        values = dict(zip([id(f) for f in flat], self._c.gather([f._handle for f in flat])))

        def rebuild(x):
            if isinstance(x, (list, tuple)):
                return type(x)(rebuild(i) for i in x)
            return values[id(x)] if isinstance(x, Future) else x

        return rebuild(futures)

    # -- Dask graphs and collections --------------------------------------------------
    def _submit_graph(self, dsk, keys):
        """Send a graph; futures for ``keys`` (a flat list)."""
        dsk = convert_legacy_graph(ensure_dict(dsk))
        known = set(dsk)
        external = {d for node in dsk.values() for d in node.dependencies if d not in known}
        if not external:
            handles = self._c.submit_graph(dsk, list(keys))
            return [Future(h, self, k) for h, k in zip(handles, keys)]
        # Some dependencies are already on the cluster (persisted futures): send task by
        # task in dependency order, each naming its key.
        futures = {}
        for k in _toposort(dsk):
            node = dsk[k]
            if isinstance(node, DataNode):
                node = Task(k, _identity, node.value)
            futures[k] = Future(self._c.submit(node, _deps(node), k), self, k)
        return [futures[k] for k in keys]

    def get(self, dsk, keys, **kwargs):
        """Dask's scheduler interface: ``dask.compute(x, scheduler=client)``."""
        if not isinstance(dsk, dict) and hasattr(dsk, "__dask_graph__"):
            dsk = dsk.__dask_graph__()
        flat = list(flatten(keys)) if isinstance(keys, list) else [keys]
        wanted = list(dict.fromkeys(flat))
        values = dict(zip(wanted, self.gather(self._submit_graph(dsk, wanted))))

        def nested(k):
            return tuple(nested(i) for i in k) if isinstance(k, list) else values[k]

        return nested(keys)

    def compute(self, collection):
        """Start computing a Dask collection on the cluster; a :class:`Future` of its result."""
        from dask._expr import FinalizeCompute
        from dask.base import collections_to_expr

        expr = FinalizeCompute(collections_to_expr([collection], True)).optimize()
        (key,) = list(flatten(expr.__dask_keys__()))
        (future,) = self._submit_graph(expr.__dask_graph__(), [key])
        return future

    def persist(self, collection):
        """The collection with its chunks computed and kept on the workers."""
        keys = list(flatten(collection.__dask_keys__()))
        futures = self._submit_graph(collection.__dask_graph__(), keys)
        self._persisted.update((f.key, f) for f in futures)
        rebuild, args = collection.__dask_postpersist__()
        return rebuild({f.key: f for f in futures}, *args)

    # -- the cluster ------------------------------------------------------------------
    def wait_for_workers(self, n, timeout=60):
        self._c.wait_for_workers(n, float(timeout))

    def nworkers(self):
        """The number of connected workers."""
        return self._c.workers()[0]

    def nthreads(self):
        """The task threads of all connected workers."""
        return self._c.workers()[1]

    @property
    def address(self):
        return self._c.address

    def close(self):
        self._persisted.clear()
        self._c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _PickledOnce:
    """A function shared by many tasks (``map``): pickled once here; each task carries the
    bytes, and a worker unpickles each distinct function once."""

    __slots__ = ("blob", "func")

    def __init__(self, func):
        self.func = func
        self.blob = cloudpickle.dumps(func)

    def __call__(self, *args, **kwargs):
        return self.func(*args, **kwargs)

    @property
    def __name__(self):
        return getattr(self.func, "__name__", type(self.func).__name__)

    def __reduce__(self):
        return _load_once, (self.blob,)


_loaded: dict = {}


def _load_once(blob):
    func = _loaded.get(blob)
    if func is None:
        if len(_loaded) > 256:
            _loaded.clear()
        func = _loaded[blob] = _Unpickled(cloudpickle.loads(blob), blob)
    return func


class _Unpickled(_PickledOnce):
    __slots__ = ()

    def __init__(self, func, blob):
        self.func = func
        self.blob = blob


def _identity(x):
    return x


def _toposort(dsk):
    order, seen = [], set()
    for root in dsk:
        stack = [(root, False)]
        while stack:
            k, expanded = stack.pop()
            if expanded:
                order.append(k)
                continue
            if k in seen or k not in dsk:
                continue
            seen.add(k)
            stack.append((k, True))
            stack.extend((d, False) for d in dsk[k].dependencies)
    return order

