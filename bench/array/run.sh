#!/usr/bin/env bash
# Brisk arrays vs dask.array, same machine, same run.
#   bench/compare.sh array [demean-size]      (BRISK_BENCH_MATMUL=<n>, default 10000; 0 skips it)
# Cases: the talk's (arange(1e9, chunks=3e6) + 1).sum(); (x - x.mean(axis=1, keepdims=True)).sum()
# over an N x N random f64 array (default 20000, generated inside the graph by both).
# Each case prints: RESULT case=<name> brisk_s=<s> dask_s=<s> ratio=<dask/brisk> brisk_rss_mb=… dask_rss_mb=…
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-20000}"
cd "$root"
# Two builds: tuned for this CPU (what numpy does with its runtime dispatch to AVX2/AVX-512),
# and portable (the x86-64 baseline every release build gets); brisk_s is the tuned one.
native_dir="${CARGO_TARGET_DIR:-$root/target}/bench-native"
RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native" CARGO_TARGET_DIR="$native_dir" \
  cargo build -q --release -p brisk-array --no-default-features --example bench_array
cargo build -q --release -p brisk-array --no-default-features --example bench_array
bin="$native_dir/release/examples/bench_array"
portable="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_array"
# shellcheck disable=SC1091
source "$root/bench/venv.sh" "dask[array]==2025.12.0" numpy
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
run_case() {
  local case="$1" arg="$2" b d
  local p
  b="$("$bin" "$case" "$arg")"
  p="$("$portable" "$case" "$arg")"
  d="$(python "$here/dask_cases.py" "$case" "$arg")"
  local bs ds br dr ps
  bs="$(echo "$b" | field seconds)"; br="$(echo "$b" | field peak_rss_mb)"
  ps="$(echo "$p" | field seconds)"
  ds="$(echo "$d" | field seconds)"; dr="$(echo "$d" | field peak_rss_mb)"
  echo "RESULT case=$case${arg:+-$arg} brisk_s=$bs dask_s=$ds ratio=$(python -c "print(round($ds/$bs, 2))") brisk_rss_mb=$br dask_rss_mb=$dr brisk_portable_s=$ps portable_ratio=$(python -c "print(round($ds/$ps, 2))")"
}
run_case sum1e9 ""
run_case demean "$n"
# Blocked matmul against ndarray's own single-node dot on the same data (and Dask's, and numpy's
# BLAS for reference).
m="${BRISK_BENCH_MATMUL:-10000}"
[ "$m" = 0 ] && exit 0
b="$("$bin" matmul "$m")"
d="$(python "$here/dask_cases.py" matmul "$m")"
bs="$(echo "$b" | field seconds)"; nd="$(echo "$b" | field ndarray_s)"
ds="$(echo "$d" | field seconds)"; np_s="$(echo "$d" | field numpy_s)"
echo "RESULT case=matmul-$m brisk_s=$bs dask_s=$ds ratio=$(python -c "print(round($ds/$bs, 2))") ndarray_dot_s=$nd brisk_vs_ndarray=$(python -c "print(round($bs/$nd, 2))") numpy_s=$np_s brisk_rss_mb=$(echo "$b" | field peak_rss_mb) dask_rss_mb=$(echo "$d" | field peak_rss_mb)"
