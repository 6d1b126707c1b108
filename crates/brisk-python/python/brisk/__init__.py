"""Brisk for Python: Dask graphs on Brisk's Rust engine.

Three lines change a Dask program::

    import dask
    import brisk
    dask.config.set(scheduler=brisk.get)      # or dask.compute(x, scheduler=brisk.get)

``brisk.get`` has the signature of ``dask.threaded.get``. The graph is read once into a
Brisk graph, and Brisk's threaded engine (Rust) schedules it; the tasks' Python functions run
on its threads, holding the GIL only while they run. Importing ``brisk`` also registers the
scheduler name ``"brisk"`` (``dask.compute(x, scheduler="brisk")``) and, when joblib is
installed, the joblib backend ``"brisk"``.
"""

from __future__ import annotations

from brisk._client import Client, Future
from brisk._get import get

__all__ = ["Client", "Future", "get"]


def _register() -> None:
    try:
        from dask.base import named_schedulers
    except ImportError:  # pragma: no cover - dask is a dependency
        return
    named_schedulers.setdefault("brisk", get)
    try:
        import joblib  # noqa: F401
    except ImportError:
        return
    from brisk._joblib import register

    register()


_register()
