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
# Two builds: portable (the x86-64 baseline every release build gets; its hot kernels pick
# AVX-512/AVX2 at run time, as numpy does) and tuned for this CPU (`-C target-cpu=native`).
# brisk_s is the portable one, the product; brisk_native_s the tuned one for reference.
native_dir="${CARGO_TARGET_DIR:-$root/target}/bench-native"
RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native" CARGO_TARGET_DIR="$native_dir" \
  cargo build -q --release -p brisk-array --no-default-features --example bench_array
cargo build -q --release -p brisk-array --no-default-features --example bench_array
native="$native_dir/release/examples/bench_array"
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_array"
# shellcheck disable=SC1091
source "$root/bench/venv.sh" "dask[array]==2025.12.0" numpy
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
run_case() {
  local case="$1" arg="$2" b d
  local nv
  b="$("$bin" "$case" "$arg")"
  nv="$("$native" "$case" "$arg")"
  d="$(python "$here/dask_cases.py" "$case" "$arg")"
  local bs ds br dr ns
  bs="$(echo "$b" | field seconds)"; br="$(echo "$b" | field peak_rss_mb)"
  ns="$(echo "$nv" | field seconds)"
  ds="$(echo "$d" | field seconds)"; dr="$(echo "$d" | field peak_rss_mb)"
  echo "RESULT case=$case${arg:+-$arg} brisk_s=$bs dask_s=$ds ratio=$(python -c "print(round($ds/$bs, 2))") brisk_rss_mb=$br dask_rss_mb=$dr dispatch=$(echo "$b" | field dispatch) brisk_native_s=$ns native_ratio=$(python -c "print(round($ds/$ns, 2))") load=$(cut -d' ' -f1 /proc/loadavg)"
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
