#!/usr/bin/env bash
# bench/compare.sh dataframe — brisk-dataframe against Dask and Polars' lazy engine, same files:
#   csv      20 CSV files × 1M rows (user_id 1..100000, value, name, timestamp):
#            read_csv + groupby("user_id").value.mean()
#   parquet  the same rows as 20 Parquet files, same query
#   join     10M × 10M-row inner hash join on a key (Parquet inputs), then len()
#   sort     all 20M CSV rows sorted by value and written as Parquet (disk shuffle): peak
#            memory against the size of the data
# Data is generated once into $BRISK_BENCH_DATA (default ~/.cache/brisk-bench-data/dataframe).
# Env: ROUNDS (default 3) × REPEATS (runs per process, default 2): the tools take turns, one
# process each per round (Brisk, Dask, Polars, Brisk, …), so that a stretch where the machine
# runs slow (a shared VM's CPU is throttled from outside: wall time then approaches CPU time)
# falls on all of them alike; each tool's best run counts. CASES (default "csv parquet join
# sort").
# cpu_s fields: user+system CPU seconds of each tool's best run; cpu_ratio = Dask's CPU time
# over Brisk's (on a shared machine, CPU time says more than wall time).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
ROUNDS="${ROUNDS:-3}"
REPEATS="${REPEATS:-2}"
CASES="${CASES:-csv parquet join sort}"
data="${BRISK_BENCH_DATA:-$HOME/.cache/brisk-bench-data/dataframe}"
cargo build -q --release -p brisk-dataframe --example bench_dataframe
brisk="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_dataframe"
"$brisk" generate "$data"
# shellcheck disable=SC1091
# The newest Dask release (2026.8 when written; dask-expr is part of it): the header line
# says which version ran.
source "$root/bench/venv.sh" "dask[dataframe]==@DASK_PIN@" "polars" "pyarrow" >/dev/null
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
echo "# brisk $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), dask $(python -c 'import dask; print(dask.__version__)'), polars $(python -c 'import polars; print(polars.__version__)'), $(nproc) cores"
# The best (fastest) of several `seconds=… rows=… peak_mb=… cpu_s=…` lines.
best() { grep . <<<"$1" | sort -t= -k2 -g | head -n 1; }
for case in $CASES; do
  b=""; d=""; p=""; t=""
  for _ in $(seq "$ROUNDS"); do
    b+="$("$brisk" "$case" "$data" "$REPEATS")"$'\n'
    d+="$(python "$root/bench/dataframe/reference.py" dask "$case" "$data" "$REPEATS")"$'\n'
    p+="$(python "$root/bench/dataframe/reference.py" polars "$case" "$data" "$REPEATS")"$'\n'
    if [ "$case" = join ]; then
      t+="$("$brisk" join "$data" "$REPEATS" tasks)"$'\n'
    fi
  done
  b="$(best "$b")"; d="$(best "$d")"; p="$(best "$p")"
  if [ "$case" != sort ]; then
    [ "$(field rows "$b")" = "$(field rows "$d")" ] || { echo "row counts differ: brisk $b, dask $d" >&2; exit 1; }
  fi
  extra=""
  if [ "$case" = join ]; then
    t="$(best "$t")"
    extra=" brisk_tasks_shuffle_s=$(field seconds "$t") brisk_tasks_shuffle_peak_mb=$(field peak_mb "$t")"
  fi
  python - "$case" "$b" "$d" "$p" "$extra" <<'PY'
import sys
case, b, d, p, extra = sys.argv[1:]
f = lambda s, k: s.split(f"{k}=")[1].split()[0]
bs, ds, ps = float(f(b, "seconds")), float(f(d, "seconds")), float(f(p, "seconds"))
bc, dc = float(f(b, "cpu_s")), float(f(d, "cpu_s"))
print(f"RESULT case={case} brisk_s={bs:.3f} dask_s={ds:.3f} ratio={ds / bs:.2f} polars_s={ps:.3f} "
      f"polars_ratio={ps / bs:.2f} rows={f(b, 'rows')} brisk_peak_mb={f(b, 'peak_mb')} "
      f"dask_peak_mb={f(d, 'peak_mb')} polars_peak_mb={f(p, 'peak_mb')} brisk_cpu_s={bc:.2f} "
      f"dask_cpu_s={dc:.2f} polars_cpu_s={f(p, 'cpu_s')} cpu_ratio={dc / bc:.2f}{extra}")
PY
done
