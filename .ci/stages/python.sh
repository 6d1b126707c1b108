#!/usr/bin/env bash
# The Python package `brisk` (crates/brisk-python): build its wheel with maturin (release
# profile, in the shared $CARGO_TARGET_DIR, so brisk-core and brisk-local are shared with the
# demo's release build), install it into the shared test venv, and run
#   1. its own tests (brisk.get against dask.threaded.get, the joblib backend, brisk.Client on
#      a cluster of the `brisk scheduler` built by the demo step plus `python -m brisk worker`
#      processes on 127.0.0.1),
#   2. Dask's own scheduler tests with brisk.get as the scheduler,
#   3. a chosen set of Dask's collection tests with brisk.get as the scheduler
#      (differences from dask.threaded.get are listed, with reasons, in
#      crates/brisk-python/tests/dask_expected_failures.py and docs/guide/src/python.md),
#   4. the Python example.
# Needs .ci/python-venv.sh sourced (BRISK_PYTHON) and CARGO_TARGET_DIR set.
set -euo pipefail
cd "$(dirname "$0")/../.."
py="${BRISK_PYTHON:?source .ci/python-venv.sh first}"
bin="$(dirname "$py")"
wheels="${CARGO_TARGET_DIR:?}/wheels"

rm -f "$wheels"/brisk-*.whl
"$bin/maturin" build --release --manifest-path crates/brisk-python/Cargo.toml \
  --interpreter "$py" --out "$wheels"
"$bin/pip" install -q --force-reinstall --no-deps "$wheels"/brisk-*.whl

cd crates/brisk-python
# Dask's tests marked slow are left out (Dask's own CI runs them only with --runslow).
pytest=("$py" -m pytest -p no:cacheprovider -q --timeout 300 -m "not slow")

echo "-- brisk's tests"
BRISK_BIN="$CARGO_TARGET_DIR/release/brisk" BRISK_REQUIRE_CLUSTER=1 \
  "${pytest[@]}" tests/test_get.py tests/test_joblib.py tests/test_cluster.py

echo "-- Dask's scheduler tests on brisk.get"
PYTHONPATH=tests "${pytest[@]}" -p brisk_dask_plugin --pyargs \
  dask.tests.test_threaded dask.tests.test_local dask.tests.test_callbacks \
  dask.diagnostics.tests

echo "-- Dask's collection tests on brisk.get"
PYTHONPATH=tests "${pytest[@]}" -p brisk_dask_plugin --pyargs \
  dask.array.tests.test_array_core dask.bag.tests.test_bag dask.bag.tests.test_text \
  dask.dataframe.tests.test_indexing dask.dataframe.tests.test_reshape

echo "-- example"
"$py" examples/dask_on_brisk.py
