#!/usr/bin/env bash
# bench/bag: brisk-bag against dask.bag (its default scheduler for bags: processes) on the
# same ~1 GB of text in 20 files, and reading from local S3 servers (s3s-fs, moto) against
# reading the same files from local disk.
#
#   bench/compare.sh bag            # or: bash bench/bag/run.sh
#
# Knobs (environment): BAG_FILES (20), BAG_MB per file (50), BAG_REPEAT (3; the best run
# counts), BAG_S3_FILES (4 files uploaded to each S3 server), BRISK_BENCH_DATA (where
# generated data lives, outside the repo; default ~/.cache/brisk-bench-data), BENCH_TOOLS
# (where s3s-fs is installed; default ~/.cache/brisk-bench-tools), BAG_CASES (all; "s3" runs
# only the S3 cases).
#
# Each case prints: RESULT case=<name> brisk_s=<s> dask_s=<s> ratio=<dask_s/brisk_s> ...
# Both sides must agree on the answer, or the script fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

# shellcheck disable=SC1091
source "$root/bench/venv.sh" "dask[complete]==2025.*" "moto[server]"

FILES="${BAG_FILES:-20}"
MB="${BAG_MB:-50}"
REPEAT="${BAG_REPEAT:-3}"
S3_FILES="${BAG_S3_FILES:-4}"
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

# best_of CMD...: run REPEAT times, print "seconds result cpu" of the fastest run, where cpu
# is the user+system CPU time of the whole process tree (a fairer figure on a busy machine).
best_of() {
  local best="" result="" cpu="" out s c tf
  tf="$(mktemp)"
  for _ in $(seq "$REPEAT"); do
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
fi

# S3: two S3-compatible servers on 127.0.0.1, each on a free port and stopped by its PID on
# exit, against reading the same files from local disk (page-cached):
# - s3s-fs (crates.io: a Rust S3 server over a directory), built once into $BENCH_TOOLS;
# - moto (PyPI, the server the tests use). Moto answers a range request by reading the whole
#   object, so Brisk reads from it with one streaming GET per block (BAG_RANGE_CONCURRENCY=1);
#   against s3s-fs it uses its default, 4 MiB ranges with 8 in flight per object.
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

# s3_case SERVER ENDPOINT RANGE_CONCURRENCY: upload the files, then compare with local disk.
s3_case() {
  local server="$1" endpoint="$2" conc="$3" bs job s3s s3res ls lres s3_rate local_rate
  "$B" upload "$sub" "$endpoint" testing testing bench >/dev/null
  for bs in none 67108864; do
    for job in count filter-count; do
      read -r s3s s3res _ < <(BAG_RANGE_CONCURRENCY="$conc" best_of "$B" s3-$job "$endpoint" testing testing "s3://bench/lines_*.txt" "$bs")
      read -r ls lres _ < <(best_of "$B" local-$job "$sub/lines_*.txt" "$bs")
      if [ "$s3res" != "$lres" ]; then echo "MISMATCH in $server $job: s3=$s3res local=$lres" >&2; exit 1; fi
      s3_rate="$(python -c "print(f'{$bytes/$s3s/1e6:.0f}')")"
      local_rate="$(python -c "print(f'{$bytes/$ls/1e6:.0f}')")"
      echo "RESULT case=s3_vs_local_${server}_${job}_blocksize_$bs brisk_s=$s3s dask_s=NA ratio=NA local_s=$ls s3_MBps=$s3_rate local_MBps=$local_rate s3_vs_local=$(ratio "$ls" "$s3s") server=$server range_concurrency=$conc files=$S3_FILES"
    done
  done
}

port="$(free_port)"
mkdir -p "$scratch/s3s-root/bench"   # s3s-fs: a bucket is a directory
"$S3S_FS" --host 127.0.0.1 --port "$port" --access-key testing --secret-key testing "$scratch/s3s-root" >/dev/null 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
  python -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.1
done
s3_case s3s-fs "http://127.0.0.1:$port" 8

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
