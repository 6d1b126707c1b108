#!/usr/bin/env bash
# bench/compare.sh python — the Python package brisk against Dask's own local schedulers, all
# through dask.compute(..., scheduler=...):
#   noop    1M independent no-op tasks + one task over them (task-spec graph)
#   tree    a binary tree reduction of 100k tasks
#   arange  the talk's (da.arange(1e9, chunks=3e6) + 1).sum()
#   cluster client.map of 100k no-op Python functions + gather on a cluster of two worker
#           processes (one thread each): `brisk scheduler` + `python -m brisk worker` against
#           distributed's LocalCluster (bench/python/cluster.py; $BRISK_BIN, else
#           target/release/brisk, built if missing)
# Tools: brisk.get, dask.threaded.get, dask.local.get_sync ("sync"). Per-task overhead in µs
# = seconds / tasks, for the whole dask.compute call (*_us_per_task) and for the scheduler
# alone (*_get_us_per_task: the get function on the dict of tasks — reading the graph,
# ordering, scheduling, calling the tasks — without Dask's graph materialization, which is
# the same whichever scheduler runs: graph_us_per_task), and CPU seconds of the best runs
# (cpu_ratio = Dask's over Brisk's; on a shared machine CPU time says more than wall time).
# The wheel is built from this checkout (maturin, release, shared target dir) into the bench
# venv. Env: ROUNDS (default 2) × REPEATS (runs per process, default 2): the tools take turns,
# one process each per round; each tool's best run counts. Dask's schedulers get one run per
# round at 1M tasks (about two minutes each). CASES (default "noop tree arange"), NOOP_N,
# TREE_N, ARANGE_N.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
ROUNDS="${ROUNDS:-2}"
REPEATS="${REPEATS:-2}"
CASES="${CASES:-noop tree arange cluster}"
# shellcheck disable=SC1091
source "$root/bench/venv.sh" "dask[array]==@DASK_PIN@" "distributed==@DASK_PIN@" "maturin>=1.9.4,<2" >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
wheels="$CARGO_TARGET_DIR/wheels-bench"
rm -f "$wheels"/brisk-*.whl
maturin build -q --release --manifest-path crates/brisk-python/Cargo.toml \
  --interpreter "$(command -v python)" --out "$wheels" >/dev/null
pip install -q --force-reinstall --no-deps "$wheels"/brisk-*.whl
echo "# brisk $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), dask $(python -c 'import dask; print(dask.__version__)'), python $(python -c 'import platform; print(platform.python_version())'), numpy $(python -c 'import numpy; print(numpy.__version__)'), $(nproc) cores"
best() { grep . <<<"$1" | sort -t= -k2 -g | head -n 1; }
export BRISK_BIN="${BRISK_BIN:-$CARGO_TARGET_DIR/release/brisk}"
for case in $CASES; do
  if [ "$case" = cluster ]; then
    [ -x "$BRISK_BIN" ] || cargo build -q --release -p brisk
    n="${CLUSTER_N:-100000}"
    b=""; d=""
    for _ in $(seq "$ROUNDS"); do
      b+="$(python bench/python/cluster.py brisk "$n" "$REPEATS")"$'\n'
      d+="$(python bench/python/cluster.py dask "$n" "$REPEATS" 2>/dev/null)"$'\n'
    done
    python - "$(best "$b")" "$(best "$d")" <<'PY'
import sys
b, d = sys.argv[1:]
f = lambda line, k: float(line.split(f"{k}=")[1].split()[0])
n = f(b, "tasks")
bs, ds = f(b, "seconds"), f(d, "seconds")
print(f"RESULT case=cluster-map tasks={n:.0f} brisk_s={bs:.3f} dask_s={ds:.3f} ratio={ds / bs:.1f} "
      f"brisk_tasks_per_s={n / bs:.0f} dask_tasks_per_s={n / ds:.0f}")
PY
    continue
  fi
  case "$case" in
    noop) n="${NOOP_N:-1000000}" ;;
    tree) n="${TREE_N:-100000}" ;;
    arange) n="${ARANGE_N:-1e9}" ;;
    *) echo "unknown case $case" >&2; exit 2 ;;
  esac
  dask_reps="$REPEATS"
  [ "$case" = noop ] && [ "$n" -ge 1000000 ] && dask_reps=1
  b=""; t=""; s=""
  for _ in $(seq "$ROUNDS"); do
    b+="$(python bench/python/bench.py brisk "$case" "$n" "$REPEATS")"$'\n'
    t+="$(python bench/python/bench.py threads "$case" "$n" "$dask_reps")"$'\n'
    if [ "$case" != arange ]; then
      s+="$(python bench/python/bench.py sync "$case" "$n" "$dask_reps")"$'\n'
    fi
  done
  python - "$case" "$(best "$b")" "$(best "$t")" "$(best "$s" || true)" <<'PY'
import sys
case, b, t, s = sys.argv[1:]
f = lambda line, k: line.split(f"{k}=")[1].split()[0]
tasks = int(f(b, "tasks"))
assert f(b, "check") == f(t, "check"), (b, t)
us = lambda secs: 1e6 * float(secs) / tasks
bs, ts = float(f(b, "seconds")), float(f(t, "seconds"))
line = (f"RESULT case={case} tasks={tasks} brisk_s={bs:.3f} dask_s={ts:.3f} ratio={ts / bs:.1f} "
        f"brisk_us_per_task={us(bs):.2f} dask_us_per_task={us(ts):.2f} "
        f"brisk_get_us_per_task={us(f(b, 'get_s')):.2f} dask_get_us_per_task={us(f(t, 'get_s')):.2f} "
        f"get_ratio={float(f(t, 'get_s')) / float(f(b, 'get_s')):.1f} "
        f"graph_us_per_task={us(f(b, 'graph_s')):.2f} brisk_cpu_s={float(f(b, 'cpu_s')):.2f} "
        f"dask_cpu_s={float(f(t, 'cpu_s')):.2f} cpu_ratio={float(f(t, 'cpu_s')) / max(float(f(b, 'cpu_s')), 1e-9):.2f}")
if s:
    line += (f" sync_s={float(f(s, 'seconds')):.3f} sync_us_per_task={us(f(s, 'seconds')):.2f}"
             f" sync_get_us_per_task={us(f(s, 'get_s')):.2f}")
print(line)
PY
done
