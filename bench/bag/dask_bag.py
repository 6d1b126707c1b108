"""Dask's side of bench/bag/run.sh: dask.bag with its default scheduler (processes)."""
import sys
import time

import dask
import dask.bag as db


def main():
    case, pattern = sys.argv[1], sys.argv[2]
    if case.startswith("cluster-"):
        return on_cluster(case.removeprefix("cluster-"), pattern)
    b = db.read_text(pattern)
    t = time.perf_counter()
    if case == "filter-count":
        result = b.filter(lambda l: "python" in l).count().compute()
    elif case == "wordcount":
        top = b.str.split().flatten().frequencies().topk(10, key=1).compute()
        result = ",".join(f"{w}:{c}" for w, c in top)
    else:
        raise SystemExit(f"unknown case {case}")
    print(f"seconds={time.perf_counter() - t:.4f} result={result}")


def on_cluster(case, pattern):
    """The talk's bag examples on distributed: a LocalCluster of 2 single-threaded worker
    processes (Brisk's side: `brisk scheduler` + 2 stock `brisk worker`s)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        b = db.read_text(pattern)
        t = time.perf_counter()
        if case == "filter-count":
            result = b.filter(lambda l: "python" in l).count().compute()
        elif case == "wordcount":
            top = b.str.split().flatten().frequencies().topk(10, key=1).compute()
            top = sorted(top, key=lambda wc: (-wc[1], wc[0]))
            result = ",".join(f"{w}:{c}" for w, c in top)
        else:
            raise SystemExit(f"unknown case cluster-{case}")
        print(f"seconds={time.perf_counter() - t:.4f} result={result}")


if __name__ == "__main__":
    main()
