"""One turn of one tool on one case of ``bench/compare.sh python``.

    python bench.py TOOL CASE N REPEATS     TOOL: brisk | threads | sync

Cases (all through ``dask.compute(..., scheduler=...)``, as a Dask user runs them):
  noop    N independent no-op tasks plus one task over all of them (a task-spec graph, the
          objects current Dask collections emit)
  tree    a binary tree reduction with N tasks in all
  arange  the talk's ``(da.arange(N, chunks=3e6) + 1).sum()``

Prints ``seconds=<best> graph_s=<...> get_s=<...> cpu_s=<...> tasks=<n> check=<result>``: ``seconds`` is
the whole ``dask.compute`` call; inside the scheduler function, ``graph_s`` is Dask turning the
expression into a dict of tasks (``__dask_graph__()``, the same work whichever scheduler runs
it) and ``get_s`` the scheduler itself on that dict (reading the graph, ordering, scheduling,
calling the tasks); ``cpu_s`` the process's CPU time (all threads) in the best run. The best
of REPEATS runs counts.
"""

from __future__ import annotations

import resource
import sys
import time

import dask
import dask.array as da
import dask.local
import dask.threaded
from dask._task_spec import Task, TaskRef
from dask.delayed import Delayed
from dask.utils import ensure_dict

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
    graph_times = []
    get_times = []

    def timed_get(dsk, keys, **kwargs):
        t = time.perf_counter()
        dsk = ensure_dict(dsk.__dask_graph__()) if hasattr(dsk, "__dask_graph__") else dsk
        t1 = time.perf_counter()
        graph_times.append(t1 - t)
        try:
            return base(dsk, keys, **kwargs)
        finally:
            get_times.append(time.perf_counter() - t1)

    collection, tasks = graph(case, n)
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    best = best_graph = best_get = best_cpu = float("inf")
    result = None
    for _ in range(repeats):
        c = cpu()
        t = time.perf_counter()
        (result,) = dask.compute(collection, scheduler=timed_get)
        wall = time.perf_counter() - t
        if wall < best:
            best, best_cpu = wall, cpu() - c
        best_graph = min(best_graph, graph_times[-1])
        best_get = min(best_get, get_times[-1])
    print(
        f"seconds={best:.4f} graph_s={best_graph:.4f} get_s={best_get:.4f} cpu_s={best_cpu:.3f} "
        f"tasks={tasks} check={result}"
    )


if __name__ == "__main__":
    main()
