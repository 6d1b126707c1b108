"""Dask's side of bench/distributed: the same cases as Brisk's `distributed_bench` example.

LocalCluster with 2 worker processes and 1 thread each for the timed cases; a `dask scheduler`
subprocess (plus 2 `dask worker` subprocesses) for scheduler CPU and memory, so that the
scheduler's process can be measured on its own. Prints `DASK case=<name> ...` lines.
"""
import os
import subprocess
import sys
import tempfile
import time
import json

import psutil
from distributed import Client, LocalCluster


def noop(x):
    return x


def inc(x):
    return x + 1


def add(x, y):
    return x + y


def tree(n):
    dsk = {}
    level = []
    for i in range(n):
        k = ("leaf", i)
        dsk[k] = (inc, i)
        level.append(k)
    d = 0
    while len(level) > 1:
        d += 1
        nxt = []
        for i in range(0, len(level), 2):
            k = (f"add-{d}", i // 2)
            b = level[i + 1] if i + 1 < len(level) else 0
            dsk[k] = (add, level[i], b)
            nxt.append(k)
        level = nxt
    return dsk, level[0]


LIMIT_S = 600.0
SCALE = {"map_1m": ("map", 1_000_000), "map_10m": ("map", 10_000_000),
         "tree_1m": ("tree", 1_000_000), "tree_10m": ("tree", 10_000_000)}


def timed_cases(cases, sizes):
    """The timed cases; returns the measured rates (tasks/s) of the map and the tree."""
    rates = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        client.gather(client.map(noop, range(100)))
        for name, n in sizes:
            if name not in cases:
                continue
            t = time.perf_counter()
            futs = client.map(noop, range(1_000_000 * n, 1_000_000 * n + n))
            got = client.gather(futs)
            s = time.perf_counter() - t
            assert len(got) == n
            del futs, got
            print(f"DASK case={name} seconds={s:.6f} tasks={n} tasks_per_s={n / s:.0f}", flush=True)
            rates["map"] = n / s
            time.sleep(0.5)
        if "tree_10k" in cases:
            dsk, root = tree(10_000)
            t = time.perf_counter()
            v = client.get(dsk, root)
            s = time.perf_counter() - t
            assert v == sum(range(1, 10_001)), v
            print(f"DASK case=tree_10k seconds={s:.6f} tasks={len(dsk)}", flush=True)
            rates["tree"] = len(dsk) / s
        scale_cases(client, cases, rates)
        if "round_trip" in cases:
            n = 1000
            t = time.perf_counter()
            for i in range(n):
                assert client.submit(inc, i + 7_000_000, pure=False).result() == i + 7_000_001
            s = (time.perf_counter() - t) / n
            print(f"DASK case=round_trip seconds={s:.6f} n={n}", flush=True)


def scale_cases(client, cases, rates):
    """map_1m ... tree_10m, only where Dask can finish within LIMIT_S: the rate measured in this
    run (at 10k-100k tasks) predicts the time, and a case predicted over the limit is reported
    as `seconds=>600` with the prediction instead of being run (Dask's cost per task does not
    fall as graphs grow, so the prediction is a lower bound)."""
    for name, (kind, n) in SCALE.items():
        if name not in cases:
            continue
        if kind not in rates:
            if kind == "map":
                t = time.perf_counter()
                client.gather(client.map(noop, range(2_000_000, 2_010_000)))
                rates["map"] = 10_000 / (time.perf_counter() - t)
            else:
                dsk, root = tree(5_000)
                t = time.perf_counter()
                client.get(dsk, root)
                rates["tree"] = len(dsk) / (time.perf_counter() - t)
        predicted = n / rates[kind]
        if predicted > LIMIT_S:
            print(f"DASK case={name} seconds=>{LIMIT_S:.0f} predicted_s={predicted:.0f} tasks={n}", flush=True)
            continue
        t = time.perf_counter()
        if kind == "map":
            futs = client.map(noop, range(3_000_000_000, 3_000_000_000 + n))
            got = client.gather(futs)
            assert len(got) == n
            del futs, got
        else:
            dsk, root = tree(n // 2)
            assert client.get(dsk, root) == sum(range(1, n // 2 + 1))
        s = time.perf_counter() - t
        print(f"DASK case={name} seconds={s:.6f} tasks={n} tasks_per_s={n / s:.0f}", flush=True)


def scheduler_costs(n):
    tmp = tempfile.mkdtemp()
    sfile = os.path.join(tmp, "s.json")
    env = dict(os.environ, DASK_DISTRIBUTED__LOGGING__DISTRIBUTED="error")
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                              "--port", "0", "--dashboard-address", ":0", "--scheduler-file", sfile],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    workers = []
    try:
        for _ in range(200):
            if os.path.exists(sfile):
                break
            time.sleep(0.1)
        for i in range(2):
            workers.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", sfile,
                                             "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", f"w{i}"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        with Client(scheduler_file=sfile) as client:
            client.wait_for_workers(2)
            client.gather(client.map(noop, range(100)))
            time.sleep(1)
            p = psutil.Process(sched.pid)
            c0 = sum(p.cpu_times()[:2])
            r0 = p.memory_info().rss
            futs = client.map(noop, range(n))
            from distributed import wait
            wait(futs)
            time.sleep(1)
            c1 = sum(p.cpu_times()[:2])
            r1 = p.memory_info().rss
            print(f"DASK case=scheduler_cpu seconds={(c1 - c0) / n:.9f} per=task n={n}", flush=True)
            print(f"DASK case=scheduler_memory bytes={(r1 - r0) / n:.0f} per=held_task n={n}", flush=True)
            del futs
    finally:
        for w in workers:
            w.kill()
        sched.kill()


if __name__ == "__main__":
    arg = sys.argv[1] if len(sys.argv) > 1 else "all"
    cases = set(arg.split(",")) if arg and arg != "all" else {
        "map_10k", "map_100k", "tree_10k", "round_trip", "scheduler_cpu", "scheduler_memory", *SCALE}
    sizes = [("map_10k", 10_000), ("map_100k", int(os.environ.get("DASK_MAP_100K", "100000")))]
    timed_cases(cases, sizes)
    if "scheduler_cpu" in cases or "scheduler_memory" in cases:
        scheduler_costs(int(os.environ.get("DASK_SCHED_N", "20000")))
