#!/usr/bin/env bash
# bench/compare.sh local — raw graphs (N independent tasks + one sum, a linear chain, a binary
# tree reduction) for N = 10k, 100k, 1M on Brisk's threaded scheduler and Dask's threaded get.
# Dask at 1M runs under a 60 s limit per case. Env: SIZES="10000 100000", REPEATS=3.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
SIZES="${SIZES:-10000 100000 1000000}"
REPEATS="${REPEATS:-3}"
cargo build -q --release -p brisk-bench --bin brisk-bench-local
brisk="${CARGO_TARGET_DIR:-$root/target}/release/brisk-bench-local"
# shellcheck disable=SC1091
source "$root/bench/venv.sh" "dask==@DASK_PIN@" >/dev/null
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
echo "# brisk: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), dask: $(python -c 'import dask; print(dask.__version__)'), $(nproc) cores"
for n in $SIZES; do
  for shape in independent chain tree; do
    b="$("$brisk" "$shape" "$n" "$REPEATS")"
    reps="$REPEATS"; [ "$n" -ge 1000000 ] && reps=1
    if d="$(timeout 60 python "$root/bench/local/dask_local.py" "$shape" "$n" "$reps" 2>/dev/null)"; then
      dask_s="$(field total_s "$d")"
    else
      dask_s="timeout"
    fi
    brisk_s="$(field total_s "$b")"
    tasks="$(field tasks "$b")"
    python - "$shape" "$n" "$tasks" "$brisk_s" "$dask_s" "$(field compile_s "$b")" "$(field build_s "$b")" "$(field get_s "$b")" <<'PY'
import sys
shape, n, tasks, b, d, compile_s, build_s, get_s = sys.argv[1:]
tasks = int(tasks); b = float(b)
us = lambda s: 1e6 * s / tasks
overhead = float(get_s) - float(compile_s)
line = f"RESULT case={shape}-{n} brisk_s={b:.4f}"
if d == "timeout":
    line += f" dask_s=>60 ratio=>{60 / b:.0f}"
    dus = "n/a"
else:
    d = float(d)
    line += f" dask_s={d:.4f} ratio={d / b:.1f}"
    dus = f"{us(d):.2f}"
line += (f" brisk_us_per_task={us(b):.3f} dask_us_per_task={dus}"
         f" brisk_build_compile_us_per_task={us(float(build_s) + float(compile_s)):.3f}"
         f" brisk_scheduler_us_per_task={us(overhead):.3f}")
print(line)
PY
  done
done
