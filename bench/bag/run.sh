#!/usr/bin/env bash
# bench/bag: brisk-bag against dask.bag (its default scheduler for bags: processes) on the
# same ~1 GB of text in 20 files, and reading from local S3 servers (s3s-fs, moto) against
# reading the same files from local disk.
#
#   bench/compare.sh bag            # or: bash bench/bag/run.sh
#
# Knobs (environment): BAG_FILES (20), BAG_MB per file (50), BAG_REPEAT (3; the best run
# counts), BAG_S3_FILES (8 files uploaded to each S3 server), BRISK_BENCH_DATA (where
# generated data lives, outside the repo; default ~/.cache/brisk-bench-data), BENCH_TOOLS
# (where s3s-fs is installed; default ~/.cache/brisk-bench-tools), BAG_CASES (all; "s3" runs
# only the S3 cases, "local" all but them), BAG_S3_SERVERS ("fast s3s-fs moto").
#
# Each case prints: RESULT case=<name> brisk_s=<s> dask_s=<s> ratio=<dask_s/brisk_s> ...
# Both sides must agree on the answer, or the script fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

# shellcheck disable=SC1091
source "$root/bench/venv.sh" "dask[complete]==@DASK_PIN@" "distributed==@DASK_PIN@" "moto[server]"

FILES="${BAG_FILES:-20}"
MB="${BAG_MB:-50}"
REPEAT="${BAG_REPEAT:-3}"
S3_FILES="${BAG_S3_FILES:-8}"
DATA="${BRISK_BENCH_DATA:-$HOME/.cache/brisk-bench-data}/bag-${FILES}x${MB}"

cargo build --release -q -p brisk-bag --example bag_bench
target="$(cargo metadata --format-version 1 --no-deps | python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
B="$target/release/examples/bag_bench"

if [ ! -f "$DATA/.complete" ]; then
  echo "generating $FILES files of $MB MiB in $DATA" >&2
  "$B" gen "$DATA" "$FILES" "$MB" >/dev/null
  touch "$DATA/.complete"
fi
PATTERN="$DATA/lines_*.txt"
echo "data: $(du -sh "$DATA" | cut -f1) in $FILES files; $(nproc) cores; dask $(python -c 'import dask; print(dask.__version__)')" >&2

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

# drop_caches: empty the kernel's page cache (root only), so the next read comes from the disk;
# the S3 cases read both sides cold this way (COLD=1 before best_of), besides warm.
can_drop=0
if [ -w /proc/sys/vm/drop_caches ]; then can_drop=1; fi
drop_caches() {
  if [ "$can_drop" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
}

# best_of CMD...: run REPEAT times, print "seconds result cpu" of the fastest run, where cpu
# is the user+system CPU time of the whole process tree (a fairer figure on a busy machine).
best_of() {
  local best="" result="" cpu="" out s c tf
  tf="$(mktemp)"
  for _ in $(seq "$REPEAT"); do
    if [ "${COLD:-0}" = 1 ]; then drop_caches; fi
    out="$(/usr/bin/time -f "%U %S" -o "$tf" "$@")"
    s="$(echo "$out" | field seconds)"
    c="$(awk '{printf "%.2f", $1 + $2}' "$tf")"
    if [ -z "$best" ] || python -c "import sys; sys.exit(0 if $s < $best else 1)"; then
      best="$s"; cpu="$c"; result="$(echo "$out" | field result)"
    fi
  done
  rm -f "$tf"
  echo "$best $result $cpu"
}

ratio() { python -c "print(f'{$1/$2:.2f}')"; }

compare_case() {
  local name="$1" brisk_cmd="$2" dask_cmd="$3"
  read -r bs bres bcpu < <(best_of "$B" "$brisk_cmd" "$PATTERN")
  read -r ds dres dcpu < <(best_of python "$here/dask_bag.py" "$dask_cmd" "$PATTERN")
  if [ "$bres" != "$dres" ]; then
    echo "MISMATCH in $name: brisk=$bres dask=$dres" >&2
    exit 1
  fi
  echo "RESULT case=$name brisk_s=$bs dask_s=$ds ratio=$(ratio "$ds" "$bs") brisk_cpu_s=$bcpu dask_cpu_s=$dcpu cpu_ratio=$(ratio "$dcpu" "$bcpu") result=${bres:0:40}"
}

if [ "${BAG_CASES:-all}" != s3 ]; then
  compare_case filter_count filter-count filter-count
  compare_case wordcount_top10 wordcount wordcount
  # The same word count written with a user closure (flat_map + split + to_string): one
  # allocation per word, the price of owning every word.
  compare_case wordcount_top10_closure wordcount-closure wordcount
  # The talk's filter-count on a cluster: `brisk scheduler` + 2 single-threaded stock-kernel
  # workers against distributed's LocalCluster of 2 single-threaded worker processes.
  cargo build --release -q -p brisk --bin brisk --example bag_cluster_bench
  BC="$target/release/examples/bag_cluster_bench"
  # The word count too (split_whitespace + frequencies + most_common: built-in stages only).
  for job in filter-count wordcount; do
    read -r bs bres bcpu < <(BRISK_BIN="$target/release/brisk" best_of "$BC" "$PATTERN" "$job")
    read -r ds dres dcpu < <(best_of python "$here/dask_bag.py" "cluster-$job" "$PATTERN")
    if [ "$bres" != "$dres" ]; then
      echo "MISMATCH in cluster $job: brisk=$bres dask=$dres" >&2
      exit 1
    fi
    echo "RESULT case=cluster_${job//-/_} brisk_s=$bs dask_s=$ds ratio=$(ratio "$ds" "$bs") brisk_cpu_s=$bcpu dask_cpu_s=$dcpu cpu_ratio=$(ratio "$dcpu" "$bcpu") result=${bres:0:40} workers=2"
  done
fi

# S3: three S3-compatible servers on 127.0.0.1, each on a free port and stopped by its PID on
# exit, against reading the same files from local disk:
# - bench/s3-server (s3s + s3s-fs, GET bodies in 1 MiB reads), built into $BENCH_TOOLS;
# - s3s-fs (crates.io: a Rust S3 server over a directory), built once into $BENCH_TOOLS;
# - moto (PyPI, the server the tests use). Moto answers a range request by reading the whole
#   object, so Brisk reads from it with one streaming GET per block (BAG_RANGE_CONCURRENCY=1);
#   against s3s-fs it uses its default, 4 MiB ranges with 8 in flight per object.
[ "${BAG_CASES:-all}" = local ] && exit 0
BENCH_TOOLS="${BENCH_TOOLS:-$HOME/.cache/brisk-bench-tools}"
S3S_FS="$BENCH_TOOLS/bin/s3s-fs"
if [ ! -x "$S3S_FS" ]; then
  echo "building s3s-fs into $BENCH_TOOLS (once)" >&2
  cargo install -q s3s-fs@~0.14 --features binary --locked --root "$BENCH_TOOLS" >&2
fi
free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
scratch="$(mktemp -d)"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

sub="$scratch/local"
mkdir -p "$sub"
for i in $(seq 0 $((S3_FILES - 1))); do ln -s "$DATA/lines_$i.txt" "$sub/lines_$i.txt"; done
bytes="$(du -bL "$sub" | cut -f1)"

# s3_case SERVER ENDPOINT RANGE_CONCURRENCY: upload the files, then compare with local disk,
# twice: "warm" (the server's files and the local files in the page cache: the local side reads
# at memory speed) and "cold" (the page cache dropped before every run of either side, so both
# read the same disk; the server still holds whatever it keeps in its own memory). The cold
# figure is the local-disk rate the issue's bar names; without root the cold rows are skipped.
s3_case() {
  local server="$1" endpoint="$2" conc="$3" bs job s3s s3res ls lres s3_rate local_rate cache
  "$B" upload "$sub" "$endpoint" testing testing bench >/dev/null
  local caches=(warm)
  if [ "$can_drop" = 1 ]; then caches+=(cold); else echo "not root: no cold-cache rows" >&2; fi
  for cache in "${caches[@]}"; do
    local cold=0
    if [ "$cache" = cold ]; then cold=1; fi
    for bs in none 67108864; do
      for job in count filter-count; do
        read -r s3s s3res _ < <(COLD=$cold BAG_RANGE_CONCURRENCY="$conc" best_of "$B" s3-$job "$endpoint" testing testing "s3://bench/lines_*.txt" "$bs")
        read -r ls lres _ < <(COLD=$cold best_of "$B" local-$job "$sub/lines_*.txt" "$bs")
        if [ "$s3res" != "$lres" ]; then echo "MISMATCH in $server $job: s3=$s3res local=$lres" >&2; exit 1; fi
        s3_rate="$(python -c "print(f'{$bytes/$s3s/1e6:.0f}')")"
        local_rate="$(python -c "print(f'{$bytes/$ls/1e6:.0f}')")"
        echo "RESULT case=s3_vs_local_${cache}_${server}_${job}_blocksize_$bs brisk_s=$s3s dask_s=NA ratio=NA local_s=$ls s3_MBps=$s3_rate local_MBps=$local_rate s3_vs_local=$(ratio "$ls" "$s3s") cache=$cache server=$server range_concurrency=$conc files=$S3_FILES"
      done
    done
  done
}

SERVERS=" ${BAG_S3_SERVERS:-fast s3s-fs moto} "
has_server() { [[ "$SERVERS" == *" $1 "* ]]; }

if has_server fast; then
  # The benchmark's own server (bench/s3-server): s3s-fs with GET bodies streamed in 1 MiB reads
  # (see its main.rs) — the same S3 protocol stack, without the 4 KiB-read bottleneck.
  cargo build -q --release --manifest-path "$root/bench/s3-server/Cargo.toml" --target-dir "$BENCH_TOOLS/s3-server-target"
  FAST_S3="$BENCH_TOOLS/s3-server-target/release/brisk-bench-s3-server"
  port="$(free_port)"
  mkdir -p "$scratch/fast-root/bench"
  "$FAST_S3" "$scratch/fast-root" --port "$port" --access-key testing --secret-key testing >/dev/null 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do
    python -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
  done
  # Both ways of reading a block: 4 MiB parts with 8 in flight (the default, for real networks'
  # latency) and one streaming GET per block (less CPU for client and server together).
  s3_case s3s-1MiB-reads "http://127.0.0.1:$port" 8
  s3_case s3s-1MiB-reads "http://127.0.0.1:$port" 1
fi

if has_server s3s-fs; then
  port="$(free_port)"
  mkdir -p "$scratch/s3s-root/bench"   # s3s-fs: a bucket is a directory
  "$S3S_FS" --host 127.0.0.1 --port "$port" --access-key testing --secret-key testing "$scratch/s3s-root" >/dev/null 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do
    python -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
  done
  s3_case s3s-fs "http://127.0.0.1:$port" 8
fi

if has_server moto; then
  port="$(free_port)"
  moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  pids+=("$!")
  endpoint="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    python -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/')" 2>/dev/null && break
    sleep 0.1
  done
  python -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('$endpoint/bench', method='PUT'))"
  s3_case moto "$endpoint" 1
fi
