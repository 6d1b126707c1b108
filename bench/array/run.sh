#!/usr/bin/env bash
# Brisk arrays vs dask.array, same machine, same run.
#   bench/compare.sh array [demean-size]
# Cases: the talk's (arange(1e9, chunks=3e6) + 1).sum(); (x - x.mean(axis=1, keepdims=True)).sum()
# over an N x N random f64 array (default 20000, generated inside the graph by both).
# Each case prints: RESULT case=<name> brisk_s=<s> dask_s=<s> ratio=<dask/brisk> brisk_rss_mb=… dask_rss_mb=…
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-20000}"
cd "$root"
cargo build -q --release -p brisk-array --example bench_array
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_array"
# shellcheck disable=SC1091
source "$root/bench/venv.sh" "dask[array]==2025.12.0" numpy
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
run_case() {
  local case="$1" arg="$2" b d
  b="$("$bin" "$case" "$arg")"
  d="$(python "$here/dask_cases.py" "$case" "$arg")"
  local bs ds br dr
  bs="$(echo "$b" | field seconds)"; br="$(echo "$b" | field peak_rss_mb)"
  ds="$(echo "$d" | field seconds)"; dr="$(echo "$d" | field peak_rss_mb)"
  echo "RESULT case=$case${arg:+-$arg} brisk_s=$bs dask_s=$ds ratio=$(python -c "print(round($ds/$bs, 2))") brisk_rss_mb=$br dask_rss_mb=$dr"
}
run_case sum1e9 ""
run_case demean "$n"
# Blocked matmul against ndarray's own single-node dot on the same data (and Dask's, and numpy's
# BLAS for reference).
m="${BRISK_BENCH_MATMUL:-10000}"
b="$("$bin" matmul "$m")"
d="$(python "$here/dask_cases.py" matmul "$m")"
bs="$(echo "$b" | field seconds)"; nd="$(echo "$b" | field ndarray_s)"
ds="$(echo "$d" | field seconds)"; np_s="$(echo "$d" | field numpy_s)"
echo "RESULT case=matmul-$m brisk_s=$bs dask_s=$ds ratio=$(python -c "print(round($ds/$bs, 2))") ndarray_dot_s=$nd brisk_vs_ndarray=$(python -c "print(round($bs/$nd, 2))") numpy_s=$np_s brisk_rss_mb=$(echo "$b" | field peak_rss_mb) dask_rss_mb=$(echo "$d" | field peak_rss_mb)"
