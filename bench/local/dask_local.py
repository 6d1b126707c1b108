"""The Dask side of bench/local: the same raw graphs on dask.threaded.get.

usage: python dask_local.py <independent|chain|tree> <N> [repeats]
prints: dask shape=... n=... tasks=... build_s=... get_s=... total_s=...
"""
import sys
import time

import dask
from dask.threaded import get


def inc(x):
    return x + 1


def add(x, y):
    return x + y


def total(xs):
    return sum(xs)


def independent(n):
    dsk = {("inc", i): (inc, i) for i in range(n)}
    dsk["sum"] = (total, [("inc", i) for i in range(n)])
    return dsk, "sum"


def chain(n):
    dsk = {("chain", 0): (inc, 0)}
    for i in range(1, n):
        dsk[("chain", i)] = (inc, ("chain", i - 1))
    return dsk, ("chain", n - 1)


def tree(n):
    leaves = max(n // 2, 1)
    dsk = {}
    level = []
    for i in range(leaves):
        dsk[("leaf", i)] = (inc, i)
        level.append(("leaf", i))
    depth = 0
    while len(level) > 1:
        depth += 1
        name = f"add-{depth}"
        nxt = []
        for j in range(0, len(level), 2):
            k = (name, j // 2)
            if j + 1 < len(level):
                dsk[k] = (add, level[j], level[j + 1])
            else:
                dsk[k] = (add, level[j], 0)
            nxt.append(k)
        level = nxt
    return dsk, level[0]


def main():
    shape = sys.argv[1]
    n = int(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    build = {"independent": independent, "chain": chain, "tree": tree}[shape]
    sys.setrecursionlimit(max(10000, 4 * n))
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        dsk, key = build(n)
        t1 = time.perf_counter()
        get(dsk, key)
        t2 = time.perf_counter()
        row = (t1 - t0, t2 - t1, t2 - t0, len(dsk))
        if best is None or row[2] < best[2]:
            best = row
    print(
        f"dask shape={shape} n={n} tasks={best[3]} build_s={best[0]:.6f} "
        f"get_s={best[1]:.6f} total_s={best[2]:.6f} version={dask.__version__}"
    )


if __name__ == "__main__":
    main()
