"""One turn of one tool on one case of ``bench/compare.sh python``.

    python bench.py TOOL CASE N REPEATS     TOOL: brisk | threads | sync

Cases (all through ``dask.compute(..., scheduler=...)``, as a Dask user runs them):
  noop    N independent no-op tasks plus one task over all of them (a task-spec graph, the
          objects current Dask collections emit)
  tree    a binary tree reduction with N tasks in all
  arange  the talk's ``(da.arange(N, chunks=3e6) + 1).sum()``

Prints ``seconds=<best> get_s=<scheduler share> tasks=<n> check=<result>``: ``seconds`` is the
whole ``dask.compute`` call, ``get_s`` the time inside the scheduler function alone (graph
hand-over, scheduling, running the tasks); the best of REPEATS runs counts.
"""

from __future__ import annotations

import sys
import time

import dask
import dask.array as da
import dask.local
import dask.threaded
from dask._task_spec import Task, TaskRef
from dask.delayed import Delayed

import brisk


def noop(*args):
    return None


def add2(a, b):
    return 1


def graph(case: str, n: int):
    if case == "noop":
        dsk = {("noop", i): Task(("noop", i), noop) for i in range(n)}
        dsk["all"] = Task("all", noop, *[TaskRef(k) for k in list(dsk)])
        return Delayed("all", dsk), n + 1
    if case == "tree":
        leaves = (n + 1) // 2
        dsk = {("t", 0, i): Task(("t", 0, i), noop) for i in range(leaves)}
        level, width = 0, leaves
        while width > 1:
            for i in range(0, width, 2):
                j = min(i + 1, width - 1)
                k = ("t", level + 1, i // 2)
                dsk[k] = Task(k, add2, TaskRef(("t", level, i)), TaskRef(("t", level, j)))
            level, width = level + 1, (width + 1) // 2
        return Delayed(("t", level, 0), dsk), len(dsk)
    if case == "arange":
        x = (da.arange(n, chunks=3e6) + 1).sum()
        return x, len(x.__dask_graph__())
    raise SystemExit(f"unknown case {case}")


def main():
    tool, case, n, repeats = sys.argv[1], sys.argv[2], int(float(sys.argv[3])), int(sys.argv[4])
    base = {"brisk": brisk.get, "threads": dask.threaded.get, "sync": dask.local.get_sync}[tool]
    inside = []

    def timed_get(dsk, keys, **kwargs):
        t = time.perf_counter()
        try:
            return base(dsk, keys, **kwargs)
        finally:
            inside.append(time.perf_counter() - t)

    collection, tasks = graph(case, n)
    best = best_get = float("inf")
    result = None
    for _ in range(repeats):
        t = time.perf_counter()
        (result,) = dask.compute(collection, scheduler=timed_get)
        best = min(best, time.perf_counter() - t)
        best_get = min(best_get, inside[-1])
    print(f"seconds={best:.4f} get_s={best_get:.4f} tasks={tasks} check={result}")


if __name__ == "__main__":
    main()
