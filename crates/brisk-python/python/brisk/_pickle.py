"""How Python objects cross processes in a Brisk cluster (tasks, their arguments, results).

``pickle`` when it can do the job, ``cloudpickle`` when it must: plain pickling is an order
of magnitude faster (``cloudpickle`` runs Python code for every object it writes), but it
writes functions and classes by reference, which a worker can resolve only for importable
modules. So an object is pickled with ``pickle`` first, and again with ``cloudpickle`` when
that fails (lambdas, closures) or when the result refers to ``__main__`` or to a module
registered with ``cloudpickle.register_pickle_by_value`` (a substring check: a false alarm
only costs the slower path).
"""

from __future__ import annotations

import pickle

import cloudpickle


def dumps(obj) -> bytes:
    try:
        data = pickle.dumps(obj, protocol=5)
    except Exception:
        return cloudpickle.dumps(obj, protocol=5)
    if b"__main__" in data or any(
        name.encode() in data for name in cloudpickle.list_registry_pickle_by_value()
    ):
        return cloudpickle.dumps(obj, protocol=5)
    return data


loads = pickle.loads
