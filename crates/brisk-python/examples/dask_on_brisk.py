"""A Dask program on Brisk's engine: the three-line change.

Run it with the package installed (``pip install ./crates/brisk-python``)::

    python crates/brisk-python/examples/dask_on_brisk.py
"""

import time

import dask
import dask.array as da
import dask.bag as db
import dask.dataframe as dd
import numpy as np
import pandas as pd

import brisk  # 1. import brisk

dask.config.set(scheduler=brisk.get)  # 2. make it Dask's scheduler (3. nothing else changes)


def main():
    # The talk's array example, on chunked NumPy arrays.
    x = da.arange(1e8, chunks=3e6)
    t = time.perf_counter()
    total = (x + 1).sum().compute()
    print(f"(da.arange(1e8, chunks=3e6) + 1).sum() = {total} in {time.perf_counter() - t:.2f} s")
    assert total == 5_000_000_050_000_000

    # A dataframe group-by.
    rng = np.random.default_rng(0)
    pdf = pd.DataFrame({"user": rng.integers(0, 100, 100_000), "value": rng.random(100_000)})
    df = dd.from_pandas(pdf, npartitions=10)
    means = df.groupby("user").value.mean().compute()
    pd.testing.assert_series_equal(means.sort_index(), pdf.groupby("user").value.mean())
    print(f"groupby mean over {len(pdf):,} rows: {len(means)} groups")

    # A bag of records, and delayed functions.
    words = db.from_sequence(["brisk runs dask graphs", "dask graphs run on brisk"] * 500)
    top = words.map(str.split).flatten().frequencies().topk(2, key=lambda kv: kv[1])
    print("top words:", top.compute())

    @dask.delayed
    def inc(i):
        return i + 1

    parts = [inc(i) for i in range(1000)]
    assert dask.delayed(sum)(parts).compute() == sum(range(1, 1001))

    # A task's exception comes back as itself.
    @dask.delayed
    def fails():
        raise ValueError("raised in a task")

    try:
        fails().compute()
    except ValueError as e:
        print("the task's error:", e)


if __name__ == "__main__":
    main()
