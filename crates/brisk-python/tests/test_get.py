"""brisk.get against Dask's own schedulers, on the same graphs."""

from __future__ import annotations

import contextvars
import os
import random
import signal
import threading
import time
import traceback
from functools import partial
from operator import add, mul

import dask
import dask.threaded
import pytest
from dask._task_spec import Alias, DataNode, Dict, List, Set, Task, TaskRef, Tuple
from dask.callbacks import Callback
from dask.core import literal
from dask.local import get_sync
from dask.utils_test import GetFunctionTestMixin, inc

import brisk


class TestBriskGet(GetFunctionTestMixin):
    """Dask's specification of a get function, on Brisk's threads."""

    get = staticmethod(brisk.get)


class TestBriskGetOneWorker(GetFunctionTestMixin):
    get = staticmethod(partial(brisk.get, num_workers=1))


def both(dsk, keys, **kwargs):
    """The result of brisk.get, checked against dask.threaded.get on the same graph."""
    expected = dask.threaded.get(dsk, keys, **kwargs)
    got = brisk.get(dsk, keys, **kwargs)
    assert got == expected
    assert type(got) is type(expected)
    return got


def _kw_add(x, y=0):
    return x + y


def test_task_spec_nodes():
    dsk = {
        "a": DataNode("a", 1),
        "b": Task("b", inc, TaskRef("a")),
        "c": Alias("c", "b"),
        "d": Task("d", _kw_add, TaskRef("b"), y=TaskRef("c")),
        "e": Task("e", sum, List(TaskRef("a"), TaskRef("b"), 10)),
        "f": Task("f", sorted, Set(TaskRef("a"), TaskRef("b"), 2)),
        "g": Dict(x=TaskRef("a"), y=Task(None, inc, TaskRef("d"))),
        "h": Tuple(TaskRef("e"), "literal", Task(None, mul, TaskRef("d"), 3)),
        "i": Task("i", len, [TaskRef("a"), 1]),  # a plain list is a literal in task-spec
    }
    assert both(dsk, ["a", "b", "c", "d", "e", "f", "g", "h", "i"]) == (
        1,
        2,
        2,
        4,
        13,
        [1, 2],
        {"x": 1, "y": 5},
        (13, "literal", 12),
        2,
    )


def test_legacy_spellings():
    dsk = {
        "x": 1,
        ("y", 0): (inc, "x"),
        ("y", 1): (add, ("y", 0), 10),
        "alias": ("y", 1),
        "lst": [("y", 0), "x", "not-a-key", (inc, ("y", 1))],
        "nested": (add, (mul, "x", 5), (inc, (inc, "x"))),
        "dict": (lambda d: sorted(d.items()), {"k": "x", "t": TaskRef("x")}),
        "lit": (literal((inc, "x")),),
        "tup": (tuple, [(1, "x"), frozenset(["x"])]),
        "unhashable": (len, {1, 2}),
        "float": (add, 1.5, 2.5),
    }
    keys = ["x", ("y", 0), ("y", 1), "alias", "lst", "nested", "dict", "lit", "tup"]
    both(dsk, keys + ["unhashable", "float"])
    assert brisk.get(dsk, "lit") == (inc, "x")
    assert brisk.get(dsk, "dict") == [("k", "x"), ("t", 1)]


def test_nested_keys_mirror_dask():
    dsk = {("x", i): (inc, i) for i in range(6)}
    keys = [[("x", 0), ("x", 1)], [[("x", 2)], ("x", 3)], ("x", 4), ("x", 0)]
    assert both(dsk, keys) == ((1, 2), ((3,), 4), 5, 1)
    assert both(dsk, []) == ()


def random_graph(rng: random.Random, n: int, spec: bool):
    """A random DAG: each task adds its inputs (keys of earlier tasks) and a constant."""
    dsk = {}
    for i in range(n):
        deps = rng.sample(range(i), k=min(i, rng.randint(0, 4)))
        const = rng.randint(-5, 5)
        key = ("t", i) if i % 2 else f"t-{i}"
        dep_keys = [("t", d) if d % 2 else f"t-{d}" for d in deps]
        if spec:
            dsk[key] = Task(key, _add_all, const, *[TaskRef(k) for k in dep_keys])
        elif not deps and rng.random() < 0.3:
            dsk[key] = const
        else:
            dsk[key] = (_add_all, const, *dep_keys)
    return dsk


def _add_all(*xs):
    return sum(xs)


@pytest.mark.parametrize("spec", [False, True])
def test_random_graphs_match_dask(spec):
    rng = random.Random(20261207 + spec)
    for _ in range(30):
        n = rng.randint(1, 200)
        dsk = random_graph(rng, n, spec)
        keys = rng.sample(list(dsk), k=rng.randint(1, min(n, 10)))
        expected = get_sync(dsk, keys)
        for workers in (1, 2, 4):
            assert brisk.get(dsk, keys, num_workers=workers) == expected


def test_big_graph_matches_dask():
    n = 20_000
    dsk = {("x", i): (inc, i) for i in range(n)}
    dsk["total"] = (sum, list(dsk))
    assert brisk.get(dsk, "total") == get_sync(dsk, "total") == sum(range(1, n + 1))


class MyError(Exception):
    pass


def test_exception_is_the_same_object_with_its_traceback():
    raised = MyError("boom", 42)

    def fail(x):
        raise raised

    dsk = {"x": 1, "y": (fail, "x"), "z": (inc, "y")}
    with pytest.raises(MyError) as info:
        brisk.get(dsk, "z")
    assert info.value is raised
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "fail" in frames


def test_base_exceptions_come_back_too():
    def stop():
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        brisk.get({"x": (stop,)}, "x")


def test_graph_errors_as_dask_raises_them():
    with pytest.raises(KeyError):
        brisk.get({"x": 1}, "nope")
    with pytest.raises(ValueError, match="Missing dependency"):
        brisk.get({"y": Task("y", inc, TaskRef("x"))}, "y")
    assert brisk.get({"y": Task("y", inc, TaskRef("x"))}, "y", cache={"x": 1}) == 2
    with pytest.raises(RuntimeError, match="Cycle detected"):
        brisk.get({"a": (inc, "b"), "b": (inc, "a")}, "a")


def test_num_workers_run_that_many_tasks_at_once():
    for n in (1, 2, 4):
        barrier = threading.Barrier(n, timeout=20)
        dsk = {("w", i): (barrier.wait,) for i in range(n)}
        dsk["idents"] = (lambda *_: threading.get_ident(),)
        brisk.get(dsk, list(dsk), num_workers=n)


def test_tasks_run_on_num_workers_threads():
    def who():
        time.sleep(0.002)
        return threading.get_ident()

    dsk = {("x", i): (who,) for i in range(60)}
    dsk["n"] = (lambda *xs: len(set(xs)), *dsk)
    assert 1 <= brisk.get(dsk, "n", num_workers=3) <= 3
    assert brisk.get(dsk, "n", num_workers=1) == 1


def test_thread_state_persists_between_tasks():
    """One Python thread state per engine thread: threading.local survives between tasks."""
    local = threading.local()

    def count(*_):
        local.n = getattr(local, "n", 0) + 1
        return local.n

    dsk = {"c0": (count,)}
    for i in range(1, 50):
        dsk[f"c{i}"] = (count, f"c{i - 1}")
    counts = brisk.get(dsk, [f"c{i}" for i in range(50)], num_workers=1)
    assert counts == tuple(range(counts[0], counts[0] + 50))


def test_contextvars_reach_tasks_and_do_not_leak():
    var = contextvars.ContextVar("var", default="unset")

    def read_and_set():
        seen = var.get()
        var.set("set-by-task")
        return seen

    dsk = {("r", i): (read_and_set,) for i in range(8)}
    token = var.set("caller")
    try:
        assert set(brisk.get(dsk, list(dsk), num_workers=2)) == {"caller"}
    finally:
        var.reset(token)
    assert set(brisk.get(dsk, list(dsk), num_workers=2)) == {"unset"}


def test_nested_compute_inside_a_task():
    inner = {"a": 1, "b": (inc, "a")}

    def compute_inner(x):
        return brisk.get(inner, "b") + x

    dsk = {("o", i): (compute_inner, i) for i in range(10)}
    assert both(dsk, list(dsk), num_workers=2) == tuple(i + 2 for i in range(10))


def test_callbacks_see_what_dask_shows_them():
    def record(get):
        events = []
        states = []

        cb = Callback(
            start=lambda dsk: events.append(("start",)),
            start_state=lambda dsk, state: events.append(("start_state", len(state["ready"]))),
            pretask=lambda key, dsk, state: events.append(("pre", key)),
            posttask=lambda key, res, dsk, state, wid: events.append(("post", key, res)),
            finish=lambda dsk, state, failed: (events.append(("finish", failed)), states.append(state)),
        )
        dsk = {"x": 1, "y": (inc, "x"), "z": (add, "y", 10), "w": (inc, "z"), "v": "w"}
        with cb:
            assert get(dsk, ["w", "v"]) == (13, 13)
        return events, states[0]

    mine, state = record(brisk.get)
    theirs, dask_state = record(dask.threaded.get)
    assert mine[0] == theirs[0] and mine[1] == theirs[1]
    assert sorted(e for e in mine if e[0] == "pre") == sorted(e for e in theirs if e[0] == "pre")
    assert sorted(e for e in mine if e[0] == "post") == sorted(e for e in theirs if e[0] == "post")
    assert mine[-1] == theirs[-1] == ("finish", False)
    for key in ("finished", "ready", "running", "waiting"):
        assert state[key] == dask_state[key], key
    # Each task's pretask comes before its posttask.
    order = [(e[0], e[1]) for e in mine if e[0] in ("pre", "post")]
    for key in ("y", "z", "w", "v"):
        assert order.index(("pre", key)) < order.index(("post", key))


def test_finish_callback_reports_failure():
    seen = []

    def boom():
        raise MyError()

    with Callback(finish=lambda dsk, state, failed: seen.append(failed)):
        with pytest.raises(MyError):
            brisk.get({"x": (boom,)}, "x")
    assert seen == [True]


def test_progress_bar_reaches_100_percent():
    from io import StringIO

    from dask.diagnostics import ProgressBar

    out = StringIO()
    dsk = {("x", i): (time.sleep, 0.001) for i in range(50)}
    dsk["y"] = (lambda *a: len(a), *dsk)
    with ProgressBar(out=out, dt=0.001):
        assert brisk.get(dsk, "y") == 50
    assert "100% Completed" in out.getvalue()


def test_collections_match_threaded():
    da = pytest.importorskip("dask.array")
    np = pytest.importorskip("numpy")
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    db = pytest.importorskip("dask.bag")

    x = da.random.default_rng(7).random((300, 200), chunks=(50, 40))
    expr = (x + x.T[:200, :200].sum(axis=0)).mean(axis=1)
    np.testing.assert_allclose(
        expr.compute(scheduler=brisk.get), expr.compute(scheduler="threads")
    )
    assert (da.arange(1e6, chunks=3e4) + 1).sum().compute(scheduler="brisk") == sum(
        range(1, 1_000_001)
    )

    pdf = pd.DataFrame({"k": np.arange(1000) % 7, "v": np.arange(1000.0)})
    df = dd.from_pandas(pdf, npartitions=8)
    got = df.groupby("k").v.mean().compute(scheduler=brisk.get)
    pd.testing.assert_series_equal(got.sort_index(), pdf.groupby("k").v.mean())

    b = db.from_sequence(["a b", "b c", "c a b"] * 50, npartitions=6)
    freq = b.map(str.split).flatten().frequencies()
    assert sorted(freq.compute(scheduler=brisk.get)) == sorted(freq.compute(scheduler="sync"))


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to this process")
def test_ctrl_c_raises_promptly_while_tasks_run():
    release = threading.Event()
    started = threading.Event()

    def blocker():
        started.set()
        release.wait(30)

    def interrupt():
        started.wait(10)
        os.kill(os.getpid(), signal.SIGINT)

    dsk = {("b", i): (blocker,) for i in range(3)}
    dsk["i"] = (interrupt,)
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            brisk.get(dsk, list(dsk), num_workers=4)
        assert time.monotonic() - t0 < 10
    finally:
        release.set()
    # The engine is usable again at once.
    assert brisk.get({"x": (inc, 1)}, "x") == 2


def test_scheduler_name_is_registered():
    assert dask.compute(dask.delayed(inc)(1), scheduler="brisk") == (2,)
    with dask.config.set(scheduler=brisk.get):
        assert dask.delayed(add)(dask.delayed(inc)(1), 2).compute() == 4
