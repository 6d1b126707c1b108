#!/usr/bin/env bash
# bench/compare.sh tpch — the 22 TPC-H queries in Brisk (bench/tpch/queries.rs), Dask
# (dask.dataframe with dask-expr, the newest release, threaded scheduler) and Polars (Python,
# streaming engine), side by side on the same Parquet files (tpchgen-cli, decimals as
# float64; bench/tpch/gen.py).
# Env: SF (scale factor, default 10), PARTS (files per big table, default 16), QUERIES
# (default 1..22), ROUNDS (default 1: the tools take turns per query, best of the rounds
# counts), BRISK_BENCH_DATA (default ~/.cache/brisk-bench-data).
# Prints per query:
#   RESULT case=q<N> brisk_s=… dask_s=… polars_s=… ratio=<dask/brisk> polars_ratio=<polars/brisk>
#          rows=… brisk_peak_mb=… dask_peak_mb=… polars_peak_mb=… brisk_cpu_s=… …
# and a total line (sums of times; the largest peak of each tool). Each tool runs each query
# in a fresh process, so peak memory is that query's. A query that fails or gives a different
# row count than Brisk is reported (dask_s=fail / rows_differ=…) and left out of the totals.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
SF="${SF:-10}"
PARTS="${PARTS:-16}"
ROUNDS="${ROUNDS:-1}"
QUERIES="${QUERIES:-$(seq 1 22)}"
data="${BRISK_BENCH_DATA:-$HOME/.cache/brisk-bench-data}/tpch/sf$SF"
cargo build -q --release -p brisk-dataframe --example bench_tpch
brisk="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_tpch"
# shellcheck disable=SC1091
source "$root/bench/venv.sh" "dask[dataframe]==@DASK_PIN@" "polars" "pyarrow" "tpchgen-cli" >/dev/null
python "$root/bench/tpch/gen.py" "$SF" "$data" "$PARTS"
echo "# brisk $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), dask $(python -c 'import dask; print(dask.__version__)'), polars $(python -c 'import polars; print(polars.__version__)'), SF $SF, $(du -sh "$data" | cut -f1) of Parquet, $(nproc) cores"
best() { grep "^seconds=" <<<"$1" | sort -t= -k2 -g | head -n 1 || true; }
tb=0; td=0; tp=0; pb=0; pd=0; pp=0
for q in $QUERIES; do
  b=""; d=""; p=""
  for _ in $(seq "$ROUNDS"); do
    b+="$("$brisk" "$data" "$q" 1 2>/dev/null || true)"$'\n'
    d+="$(python "$root/bench/tpch/reference.py" dask "$data" "$q" 1 2>/dev/null || true)"$'\n'
    p+="$(python "$root/bench/tpch/reference.py" polars "$data" "$q" 1 2>/dev/null || true)"$'\n'
  done
  b="$(best "$b")"; d="$(best "$d")"; p="$(best "$p")"
  python - "$q" "$b" "$d" "$p" <<'PY'
import sys
q, b, d, p = sys.argv[1:]
def f(s, k):
    return s.split(f"{k}=")[1].split()[0] if f"{k}=" in s else None
def secs(s):
    v = f(s, "seconds")
    return float(v) if v else None
bs, ds, ps = secs(b), secs(d), secs(p)
show = lambda v: f"{v:.3f}" if v is not None else "fail"
ratio = lambda o: f"{o / bs:.2f}" if o is not None and bs else "nan"
rows = f(b, "rows")
extra = ""
for name, s in (("dask", d), ("polars", p)):
    if s and f(s, "rows") != rows:
        extra += f" {name}_rows_differ={f(s, 'rows')}"
print(f"RESULT case=q{q} brisk_s={show(bs)} dask_s={show(ds)} polars_s={show(ps)} "
      f"ratio={ratio(ds)} polars_ratio={ratio(ps)} rows={rows} "
      f"brisk_peak_mb={f(b, 'peak_mb')} dask_peak_mb={f(d, 'peak_mb')} "
      f"polars_peak_mb={f(p, 'peak_mb')} brisk_cpu_s={f(b, 'cpu_s')} "
      f"dask_cpu_s={f(d, 'cpu_s')} polars_cpu_s={f(p, 'cpu_s')}{extra}")
PY
done | tee /tmp/brisk-tpch-results.$$
python - /tmp/brisk-tpch-results.$$ <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("RESULT")]
tot = {"brisk": 0.0, "dask": 0.0, "polars": 0.0}
peak = {"brisk": 0.0, "dask": 0.0, "polars": 0.0}
ok = 0
for r in rows:
    kv = dict(x.split("=", 1) for x in r[1:])
    vals = [kv.get(f"{t}_s") for t in tot]
    if "fail" in vals or any(k.endswith("_rows_differ") for k in kv):
        continue
    ok += 1
    for t in tot:
        tot[t] += float(kv[f"{t}_s"])
        pk = kv.get(f"{t}_peak_mb")
        if pk not in (None, "None"):
            peak[t] = max(peak[t], float(pk))
b = tot["brisk"] or float("nan")
print(f"RESULT case=total queries={ok} brisk_s={tot['brisk']:.2f} dask_s={tot['dask']:.2f} "
      f"polars_s={tot['polars']:.2f} ratio={tot['dask'] / b:.2f} "
      f"polars_ratio={tot['polars'] / b:.2f} brisk_peak_mb={peak['brisk']:.0f} "
      f"dask_peak_mb={peak['dask']:.0f} polars_peak_mb={peak['polars']:.0f}")
PY
rm -f /tmp/brisk-tpch-results.$$
