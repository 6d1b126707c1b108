"""pytest plugin: run Dask's own test modules with Brisk as Dask's scheduler.

Load it with ``-p brisk_dask_plugin`` (this directory on ``PYTHONPATH``) and pick the
scheduler with ``--scheduler``:

- ``brisk`` (default): ``brisk.get`` becomes Dask's default scheduler, the scheduler behind the
  names ``"threads"``/``"threading"``, ``dask.threaded.get`` itself and (with one worker)
  ``dask.local.get_sync`` — so the test modules that import those functions call Brisk.
- ``threads``: ``dask.threaded.get`` is the default scheduler (the baseline; ``dask.bag``
  otherwise defaults to processes).

Tests listed in ``dask_expected_failures.py`` are marked ``xfail`` with their reason (in the
mode the list names), so a run passes when every other test passes; the lists are where the
differences from ``dask.threaded.get`` are written down. The session fails if, in ``brisk``
mode, tests ran but none of them reached ``brisk.get``.
"""

from __future__ import annotations

import dask
import dask.base
import dask.local
import dask.threaded

import pytest

import brisk
from dask_expected_failures import BOTH, BRISK_ONLY

calls = 0
_mode = "brisk"


def counted_get(dsk, keys, **kwargs):
    global calls
    calls += 1
    return brisk.get(dsk, keys, **kwargs)


def counted_get_sync(dsk, keys, **kwargs):
    kwargs.pop("num_workers", None)
    return counted_get(dsk, keys, num_workers=1, **kwargs)


def pytest_addoption(parser):
    parser.addoption(
        "--scheduler",
        default="brisk",
        choices=["brisk", "threads"],
        help="the scheduler Dask's tests run on",
    )


def pytest_configure(config):
    global _mode
    _mode = config.getoption("--scheduler")
    if _mode == "brisk":
        dask.threaded.get = counted_get
        dask.local.get_sync = counted_get_sync
        for name in ("threads", "threading"):
            dask.base.named_schedulers[name] = counted_get
        dask.config.set(scheduler=counted_get)
    else:
        dask.config.set(scheduler=dask.threaded.get)


def test_id(item):
    """``module::test[param]``, independent of where the module is installed."""
    return f"{item.module.__name__}::{item.name}"


def pytest_collection_modifyitems(config, items):
    expected = dict(BOTH)
    if _mode == "brisk":
        expected.update(BRISK_ONLY)
    for item in items:
        name = test_id(item)
        base = name.split("[", 1)[0]
        reason = expected.get(name, expected.get(base))
        if reason is not None:
            strict = not reason.startswith("flaky")
            item.add_marker(pytest.mark.xfail(reason=reason, strict=strict))


def pytest_report_header(config):
    return f"brisk_dask_plugin: scheduler={config.getoption('--scheduler')}"


def pytest_sessionfinish(session, exitstatus):
    if _mode == "brisk" and session.testscollected and calls == 0:
        print("\nbrisk_dask_plugin: no test reached brisk.get")
        session.exitstatus = 1
    elif _mode == "brisk":
        print(f"\nbrisk_dask_plugin: brisk.get ran {calls} graphs")
