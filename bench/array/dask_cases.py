"""Dask's side of bench/array/run.sh: one case per run, printing its time and peak RSS."""
import resource
import sys
import time

import dask
import dask.array as da
import numpy as np


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    case = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 0
    dask.config.set(scheduler="threads")
    t = time.perf_counter()
    if case == "sum1e9":
        x = da.arange(1e9, chunks=3e6, dtype="int64")
        v = int((x + 1).sum().compute())
        assert v == 500000000500000000, v
        result = v
    elif case == "demean":
        n = n or 20000
        x = da.random.random((n, n), chunks="auto")
        v = float((x - x.mean(axis=1, keepdims=True)).sum().compute())
        assert abs(v) < 1e-3 * n, v
        result = f"{v:.3e}"
    elif case == "matmul":
        n = n or 10000
        a = da.random.random((n, n), chunks="auto").persist()
        b = da.random.random((n, n), chunks="auto").persist()
        t = time.perf_counter()
        result = float((a @ b).sum().compute())
        secs = time.perf_counter() - t
        an, bn = a.compute(), b.compute()
        t1 = time.perf_counter()
        ref = float((an @ bn).sum())
        np_s = time.perf_counter() - t1
        print(f"DASK case={case} seconds={secs:.3f} peak_rss_mb={peak_rss_mb():.1f} result={result} numpy_s={np_s:.3f}")
        return
    elif case == "sort":
        # dask.array has no sort: array-api-compat's plan (gather the axis, numpy sorts it).
        n = n or 100_000_000
        x = da.random.random((n,), chunks="auto").persist()
        t = time.perf_counter()
        s = x.rechunk({0: -1}).map_blocks(np.sort).compute()
        secs = time.perf_counter() - t
        assert bool((s[1:] >= s[:-1]).all())
        xn = x.compute()
        t1 = time.perf_counter()
        np.sort(xn)
        np_s = time.perf_counter() - t1
        print(f"DASK case={case} seconds={secs:.3f} peak_rss_mb={peak_rss_mb():.1f} result={s[n // 2]:.6e} numpy_s={np_s:.3f}")
        return
    elif case == "median":
        n = n or 20000
        x = da.random.random((n, n), chunks="auto")
        m = da.median(x, axis=0).compute()
        assert abs(float(m.mean()) - 0.5) < 0.01
        result = f"{float(m.mean()):.4f}"
    elif case == "npy-sum":
        # The same .npy file from local disk, memory-mapped and cut into "auto" chunks.
        path = sys.argv[2]
        x = da.from_array(np.load(path, mmap_mode="r"), chunks="auto")
        result = f"{float(x.sum().compute()):.6e}"
    elif case == "zarr-sum":
        # The Zarr store Brisk wrote (v3, zstd), read by zarr-python in its own chunks.
        x = da.from_zarr(sys.argv[2])
        result = f"{float(x.sum().compute()):.6e}"
    else:
        raise SystemExit(f"unknown case {case}")
    secs = time.perf_counter() - t
    print(f"DASK case={case} seconds={secs:.3f} peak_rss_mb={peak_rss_mb():.1f} result={result}")


if __name__ == "__main__":
    main()
