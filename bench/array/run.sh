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
  cargo build -q --release -p brisk-array --no-default-features --features zarr --example bench_array
cargo build -q --release -p brisk-array --no-default-features --features zarr --example bench_array
native="$native_dir/release/examples/bench_array"
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_array"
# shellcheck disable=SC1091
source "$root/bench/venv.sh" "dask[array]==@DASK_PIN@" numpy "zarr>=3"
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
# Order statistics: a sort of 1e8 f64 (BRISK_BENCH_SORT=<n>, 0 skips; Dask has no sort, so its
# side is array-api-compat's plan: gather the axis and np.sort it; numpy_s is np.sort alone)
# and a median along axis 0 of an N x N array (BRISK_BENCH_MEDIAN=<n>, default 20000).
sort_n="${BRISK_BENCH_SORT:-100000000}"
if [ "$sort_n" != 0 ]; then
  b="$("$bin" sort "$sort_n")"; d="$(python "$here/dask_cases.py" sort "$sort_n")"
  bs="$(echo "$b" | field seconds)"; ds="$(echo "$d" | field seconds)"; nps="$(echo "$d" | field numpy_s)"
  echo "RESULT case=sort-$sort_n brisk_s=$bs dask_s=$ds ratio=$(python -c "print(round($ds/$bs, 2))") numpy_s=$nps brisk_rss_mb=$(echo "$b" | field peak_rss_mb) dask_rss_mb=$(echo "$d" | field peak_rss_mb) load=$(cut -d' ' -f1 /proc/loadavg)"
fi
median_n="${BRISK_BENCH_MEDIAN:-20000}"
[ "$median_n" != 0 ] && run_case median "$median_n"
# .npy on S3: the same file summed from local disk (Brisk and Dask) and from a local S3 server
# (s3s-fs, a Rust S3 server over a directory, built once into $BENCH_TOOLS as bench/bag does;
# Dask has no .npy reader for object stores, so dask_s is its local read).
# BRISK_BENCH_NPY=<n> sets the side (default 8000: 512 MB of f64); 0 skips the case.
# s3s-fs (crates.io), built once into $BENCH_TOOLS; `start_s3s DIR` serves DIR (each
# subdirectory a bucket) on a free port of 127.0.0.1, sets s3pid and s3port, and waits for it.
BENCH_TOOLS="${BENCH_TOOLS:-$HOME/.cache/brisk-bench-tools}"
S3S_FS="$BENCH_TOOLS/bin/s3s-fs"
start_s3s() {
  if [ ! -x "$S3S_FS" ]; then
    echo "building s3s-fs into $BENCH_TOOLS (once)" >&2
    cargo install -q s3s-fs@~0.14 --features binary --locked --root "$BENCH_TOOLS" >&2
  fi
  s3port="$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$S3S_FS" --host 127.0.0.1 --port "$s3port" --access-key testing --secret-key testing "$1" >/dev/null 2>&1 &
  s3pid="$!"
  for _ in $(seq 100); do
    python -c "import socket; socket.create_connection(('127.0.0.1', $s3port), 0.2)" 2>/dev/null && break
    sleep 0.1
  done
}
npy_n="${BRISK_BENCH_NPY:-8000}"
if [ "$npy_n" != 0 ]; then
  scratch="$(mktemp -d "${BRISK_BENCH_DATA:-${TMPDIR:-/tmp}}/brisk-array-npy.XXXXXX")"
  s3pid=""
  cleanup() { [ -n "$s3pid" ] && kill "$s3pid" 2>/dev/null; rm -rf "$scratch"; }
  trap cleanup EXIT
  mkdir -p "$scratch/bench"   # s3s-fs: a bucket is a directory
  "$bin" npy-write "$scratch/bench/x.npy" "$npy_n" >/dev/null
  start_s3s "$scratch"
  l="$("$bin" npy-sum "$scratch/bench/x.npy")"
  s3="$("$bin" npy-sum "s3://bench/x.npy" "http://127.0.0.1:$s3port")"
  d="$(python "$here/dask_cases.py" npy-sum "$scratch/bench/x.npy")"
  ls_="$(echo "$l" | field seconds)"; s3s="$(echo "$s3" | field seconds)"; ds="$(echo "$d" | field seconds)"
  if [ "$(echo "$l" | field result)" != "$(echo "$s3" | field result)" ]; then
    echo "MISMATCH npy-sum: local=$l s3=$s3" >&2; exit 1
  fi
  mb="$(python -c "print(round($npy_n * $npy_n * 8 / 1e6))")"
  echo "RESULT case=npy-sum-$npy_n brisk_s=$ls_ dask_s=$ds ratio=$(python -c "print(round($ds/$ls_, 2))") brisk_rss_mb=$(echo "$l" | field peak_rss_mb) dask_rss_mb=$(echo "$d" | field peak_rss_mb) brisk_s3_s=$s3s s3_MBps=$(python -c "print(round($mb/$s3s))") local_MBps=$(python -c "print(round($mb/$ls_))") brisk_s3_rss_mb=$(echo "$s3" | field peak_rss_mb) server=s3s-fs load=$(cut -d' ' -f1 /proc/loadavg)"
  cleanup; s3pid=""; trap - EXIT
fi

# Zarr as people write it (issue 19): an N x N f64 array (BRISK_BENCH_ZARR=<N>; 0, the
# default, skips it; 32768 is 8.6 GB) written by Brisk as Zarr v3 + zstd, then summed from
# local disk by Brisk and by Dask (`da.from_zarr`, zarr-python 3), and by Brisk from an S3
# server over the same directory (s3s-fs, as for .npy: each chunk is its own object, so its
# whole-object reads cost nothing extra here). Peak RSS shows the memory bound.
zarr_n="${BRISK_BENCH_ZARR:-0}"
if [ "$zarr_n" != 0 ]; then
  zdir="$(mktemp -d "${BRISK_BENCH_DATA:-${TMPDIR:-/tmp}}/brisk-array-zarr.XXXXXX")"
  s3pid=""
  zcleanup() { [ -n "$s3pid" ] && kill "$s3pid" 2>/dev/null; rm -rf "$zdir"; }
  trap zcleanup EXIT
  mkdir -p "$zdir/bench"
  w="$("$bin" zarr-write "$zdir/bench/x.zarr" "$zarr_n")"
  disk_mb="$(du -sm "$zdir/bench/x.zarr" | cut -f1)"
  l="$("$bin" zarr-sum "$zdir/bench/x.zarr")"
  d="$(python "$here/dask_cases.py" zarr-sum "$zdir/bench/x.zarr")"
  start_s3s "$zdir"
  s3="$("$bin" zarr-sum "s3://bench/x.zarr" "http://127.0.0.1:$s3port")"
  for r in "$d" "$s3"; do
    # Same sums up to the order of additions (printed as Rust's and Python's `e` formats).
    if ! python -c "import sys; a, b = map(float, sys.argv[1:]); sys.exit(abs(a - b) > 1e-6 * abs(a))" \
        "$(echo "$l" | field result)" "$(echo "$r" | field result)"; then
      echo "MISMATCH zarr-sum: brisk=$l other=$r" >&2; exit 1
    fi
  done
  ls_="$(echo "$l" | field seconds)"; ds="$(echo "$d" | field seconds)"; s3s="$(echo "$s3" | field seconds)"
  mb="$(python -c "print(round($zarr_n * $zarr_n * 8 / 1e6))")"
  echo "RESULT case=zarr-sum-$zarr_n brisk_s=$ls_ dask_s=$ds ratio=$(python -c "print(round($ds/$ls_, 2))") brisk_rss_mb=$(echo "$l" | field peak_rss_mb) dask_rss_mb=$(echo "$d" | field peak_rss_mb) array_mb=$mb disk_mb=$disk_mb write_s=$(echo "$w" | field seconds) brisk_s3_s=$s3s s3_MBps=$(python -c "print(round($mb/$s3s))") brisk_s3_rss_mb=$(echo "$s3" | field peak_rss_mb) server=s3s-fs load=$(cut -d' ' -f1 /proc/loadavg)"
  zcleanup; s3pid=""; trap - EXIT
fi

# Blocked matmul against Dask's, and numpy's own `@` (its BLAS, all cores) on Dask's data.
m="${BRISK_BENCH_MATMUL:-10000}"
[ "$m" = 0 ] && exit 0
b="$("$bin" matmul "$m")"
d="$(python "$here/dask_cases.py" matmul "$m")"
bs="$(echo "$b" | field seconds)"
ds="$(echo "$d" | field seconds)"; np_s="$(echo "$d" | field numpy_s)"
echo "RESULT case=matmul-$m brisk_s=$bs dask_s=$ds ratio=$(python -c "print(round($ds/$bs, 2))") numpy_s=$np_s brisk_vs_numpy=$(python -c "print(round($bs/$np_s, 2))") brisk_rss_mb=$(echo "$b" | field peak_rss_mb) dask_rss_mb=$(echo "$d" | field peak_rss_mb) load=$(cut -d' ' -f1 /proc/loadavg)"
