"""Dask's and Polars' side of bench/dataframe/run.sh.

    python reference.py <dask|polars> <csv|parquet|join> <data dir> [repeats]

Prints `seconds=<best> rows=<result rows> peak_mb=<peak resident memory> cpu_s=<user+system
CPU seconds of the best run, all threads>`; imports are not timed.
"""
import resource
import sys
import time

tool, case, d = sys.argv[1], sys.argv[2], sys.argv[3]
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3

if tool == "dask":
    import dask
    import dask.dataframe as dd

    dask.config.set(scheduler="threads")

    def run():
        if case == "csv":
            df = dd.read_csv(f"{d}/csv/2015-*-*.csv")
            return len(df.groupby("user_id").value.mean().compute())
        if case == "parquet":
            df = dd.read_parquet(f"{d}/parquet/")
            return len(df.groupby("user_id").value.mean().compute())
        if case == "join":
            left = dd.read_parquet(f"{d}/join-left/")
            right = dd.read_parquet(f"{d}/join-right/")
            return len(left.merge(right, on="key", how="inner"))
        if case == "sort":
            import shutil
            out = f"{d}/sorted-dask"
            shutil.rmtree(out, ignore_errors=True)
            df = dd.read_csv(f"{d}/csv/2015-*-*.csv")
            df.sort_values("value").to_parquet(out, write_index=False)
            return df.npartitions
        raise SystemExit(f"unknown case {case}")

elif tool == "polars":
    import polars as pl

    def run():
        if case == "csv":
            lf = pl.scan_csv(f"{d}/csv/2015-*-*.csv")
            return lf.group_by("user_id").agg(pl.col("value").mean()).collect().height
        if case == "parquet":
            lf = pl.scan_parquet(f"{d}/parquet/*.parquet")
            return lf.group_by("user_id").agg(pl.col("value").mean()).collect().height
        if case == "join":
            left = pl.scan_parquet(f"{d}/join-left/*.parquet")
            right = pl.scan_parquet(f"{d}/join-right/*.parquet")
            return left.join(right, on="key").select(pl.len()).collect().item()
        if case == "sort":
            pl.scan_csv(f"{d}/csv/2015-*-*.csv").sort("value").sink_parquet(f"{d}/sorted-polars.parquet")
            return 20
        raise SystemExit(f"unknown case {case}")

else:
    raise SystemExit(f"unknown tool {tool}")

best = float("inf")
cpu = 0.0
rows = 0
for _ in range(repeats):
    c = time.process_time()
    t = time.perf_counter()
    rows = run()
    secs = time.perf_counter() - t
    if secs < best:
        best, cpu = secs, time.process_time() - c
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"seconds={best:.4f} rows={rows} peak_mb={peak:.0f} cpu_s={cpu:.2f}")
