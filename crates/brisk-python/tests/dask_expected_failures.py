"""Dask tests that fail on this machine, and why (read by ``brisk_dask_plugin``).

Keys are ``module::test`` (a test's parameters may be left out to cover all of them). A reason
starting with "flaky" marks a non-strict xfail (the test may pass); all others are strict, so
a test that starts passing shows up.
"""

# Fail with dask.threaded.get as well (the baseline), for reasons outside the scheduler.
BOTH = {
    "dask.array.tests.test_reductions::test_nanquantile_all_nan": (
        "expects warnings raised as errors, which Dask's own pytest configuration sets and "
        "a run of the installed package does not (fails with dask.threaded.get too)"
    ),
    "dask.array.tests.test_array_core::test_zarr_risky_shards_warns": (
        "expects its PerformanceWarning raised as an error, which Dask's own pytest "
        "configuration sets and a run of the installed package does not; it runs at all only "
        "since the test venv has zarr 3 (for brisk-array's zarr-python interop tests) "
        "(fails with dask.threaded.get too)"
    ),
    "dask.bag.tests.test_bag::test_temporary_directory": (
        "sets a ProcessPoolExecutor as the pool: dask.threaded.get cannot pickle the task to "
        "it; brisk.get ignores pools and runs in-process, so partd's files are cleaned up "
        "before the test looks (fails with dask.threaded.get too)"
    ),
}

# Fail with brisk.get only: the documented differences from Dask's threaded scheduler.
BRISK_ONLY = {
    "dask.tests.test_local::test_ordering": (
        "checks dask.order's tie-breaking (the 10 independent tasks run in descending key "
        "order); Brisk runs ready tasks in its own static order (brisk-core's memory-aware "
        "order, ties by argument position)"
    ),
}
