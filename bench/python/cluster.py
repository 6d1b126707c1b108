"""One turn of ``bench/compare.sh python``'s cluster case.

    python cluster.py TOOL N REPEATS      TOOL: brisk | dask

``client.map`` of N no-op Python functions, then ``gather``, on a cluster of one scheduler and
two worker processes of one thread each on 127.0.0.1: ``brisk scheduler`` ($BRISK_BIN) plus
``python -m brisk worker``, or ``distributed.LocalCluster``. Prints ``seconds=<best>
tasks=<n>``; each repeat maps new inputs (no result is reused).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time


def noop(x):
    return x


def brisk_cluster():
    import brisk

    tmp = tempfile.mkdtemp()
    sched_file = os.path.join(tmp, "scheduler.json")
    procs = [
        subprocess.Popen(
            [os.environ["BRISK_BIN"], "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", sched_file],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]
    deadline = time.monotonic() + 60
    while not (os.path.exists(sched_file) and open(sched_file).read()):
        if time.monotonic() > deadline:
            raise SystemExit("the scheduler did not start")
        time.sleep(0.05)
    address = json.load(open(sched_file))["address"]
    env = dict(os.environ)
    for _ in range(2):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "brisk", "worker", address, "--nthreads", "1",
             "--listen-host", "127.0.0.1", "--death-timeout", "10"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
    client = brisk.Client(address)
    client.wait_for_workers(2, timeout=60)

    def close():
        client.close()
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    return client, close


def dask_cluster():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address="127.0.0.1:0", host="127.0.0.1")
    client = Client(cluster)

    def close():
        client.close()
        cluster.close()

    return client, close


def main():
    tool, n, repeats = sys.argv[1], int(float(sys.argv[2])), int(sys.argv[3])
    # Workers of both kinds import `noop` from this module.
    os.environ["PYTHONPATH"] = os.path.dirname(os.path.abspath(__file__))
    client, close = brisk_cluster() if tool == "brisk" else dask_cluster()
    try:
        best = float("inf")
        for r in range(repeats):
            inputs = range(r * n, (r + 1) * n)
            t = time.perf_counter()
            futures = client.map(noop, inputs)
            values = client.gather(futures)
            best = min(best, time.perf_counter() - t)
            assert values[-1] == (r + 1) * n - 1 and len(values) == n
            del futures, values
        print(f"seconds={best:.4f} tasks={n}")
    finally:
        close()


if __name__ == "__main__":
    from cluster import main as imported_main  # so that workers import `noop` from `cluster`

    imported_main()
