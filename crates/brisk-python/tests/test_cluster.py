"""brisk.Client on a real cluster: `brisk scheduler` plus `python -m brisk worker` processes on
127.0.0.1, against the same work computed locally.

The scheduler is the `brisk` binary: $BRISK_BIN, else target/release/brisk of this checkout
(built by `cargo build --release -p brisk`). Without it these tests skip, unless
BRISK_REQUIRE_CLUSTER=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import cloudpickle
import pytest

import brisk

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def brisk_binary():
    candidates = [os.environ.get("BRISK_BIN")]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    candidates.append(os.path.join(target, "release", "brisk"))
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    if os.environ.get("BRISK_REQUIRE_CLUSTER") == "1":
        pytest.fail("no brisk binary: set BRISK_BIN or build `cargo build --release -p brisk`")
    pytest.skip("no brisk binary (set BRISK_BIN or build `cargo build --release -p brisk`)")


def stop(proc, timeout=10):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


class Cluster:
    def __init__(self, tmp_path, nworkers=2, nthreads=2):
        binary = brisk_binary()
        sched_file = tmp_path / "scheduler.json"
        self.scheduler = subprocess.Popen(
            [binary, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(sched_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not sched_file.exists() or not sched_file.read_text():
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                stop(self.scheduler)
                raise RuntimeError("the scheduler did not start")
            time.sleep(0.05)
        self.address = json.loads(sched_file.read_text())["address"]
        self.workers = [self.start_worker(nthreads) for _ in range(nworkers)]
        self.client = brisk.Client(self.address)
        self.client.wait_for_workers(nworkers, timeout=60)

    def start_worker(self, nthreads):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
        return subprocess.Popen(
            [sys.executable, "-m", "brisk", "worker", self.address, "--nthreads", str(nthreads),
             "--listen-host", "127.0.0.1", "--death-timeout", "10"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def close(self):
        try:
            self.client.close()
        finally:
            for w in self.workers:
                stop(w)
            stop(self.scheduler)


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def inc(x):
    return x + 1


def add(x, y=0):
    return x + y


class RemoteError(Exception):
    def __init__(self, code, text):
        super().__init__(code, text)
        self.code = code


def fail(x):
    raise RemoteError(x, "failed on the worker")


def test_submit_map_gather(cluster):
    c = cluster.client
    a = c.submit(inc, 1)
    b = c.submit(add, a, y=10)
    assert b.result() == 12
    assert a.result() == 2
    futures = c.map(inc, range(500))
    assert c.gather(futures) == [i + 1 for i in range(500)]
    total = c.submit(sum, futures)
    assert total.result() == sum(range(1, 501))
    # the same pure call is one task
    assert c.submit(inc, 41).key == c.submit(inc, 41).key


def test_task_exception_comes_back_as_itself(cluster):
    c = cluster.client
    f = c.submit(fail, 7)
    with pytest.raises(RemoteError) as info:
        f.result()
    assert info.value.args == (7, "failed on the worker") and info.value.code == 7
    with pytest.raises(RemoteError):
        c.gather([c.submit(inc, 1), c.submit(inc, f)])


def test_collections_compute_and_persist(cluster):
    np = pytest.importorskip("numpy")
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    import dask

    c = cluster.client
    x = da.arange(1_000_000, chunks=50_000)
    assert c.compute((x + 1).sum()).result() == sum(range(1, 1_000_001))

    rng = np.random.default_rng(3)
    m = rng.random((400, 300))
    y = da.from_array(m, chunks=(100, 100))
    np.testing.assert_allclose(c.compute(y.dot(y.T).mean(axis=0)).result(), m.dot(m.T).mean(axis=0))

    persisted = c.persist(y + 1)
    np.testing.assert_allclose(c.compute(persisted.sum(axis=1)).result(), (m + 1).sum(axis=1))
    np.testing.assert_allclose(dask.compute(persisted.T, scheduler=c)[0], (m + 1).T)

    pdf = pd.DataFrame({"k": np.arange(2000) % 13, "v": rng.random(2000)})
    df = dd.from_pandas(pdf, npartitions=6)
    got = c.compute(df.groupby("k").v.sum()).result()
    pd.testing.assert_series_equal(got.sort_index(), pdf.groupby("k").v.sum())


def slow_pid(i, marker_dir):
    pathlib.Path(marker_dir, f"{os.getpid()}-{i}").touch()
    time.sleep(0.2)
    return i * i


def test_worker_killed_mid_job(cluster, tmp_path):
    c = cluster.client
    victim = cluster.workers[0]
    markers = tmp_path / "started"
    markers.mkdir()
    futures = c.map(slow_pid, range(40), [str(markers)] * 40)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(f"{victim.pid}-") for p in markers.iterdir()):
        assert time.monotonic() < deadline, "the victim worker never started a task"
        time.sleep(0.02)
    victim.kill()
    victim.wait(10)
    assert c.gather(futures) == [i * i for i in range(40)]
    assert c.nworkers() == 1


def test_joblib_on_the_cluster(cluster):
    joblib = pytest.importorskip("joblib")
    with joblib.parallel_backend("brisk", client=cluster.client):
        out = joblib.Parallel()(joblib.delayed(inc)(i) for i in range(100))
    assert out == [i + 1 for i in range(100)]
