#!/usr/bin/env bash
# bench/distributed: Brisk's cluster runtime against dask.distributed on this machine, same
# shape on both sides: a scheduler plus 2 worker processes with 1 thread each.
#   bench/compare.sh distributed            # all cases
#   CASES=map_10k,round_trip bench/compare.sh distributed
# Dask's scheduler CPU / memory cases hold DASK_SCHED_N (default 20000) futures; Brisk's hold
# 100000 (figures are per task). DASK_MAP_100K shrinks Dask's 100k map if it is too slow.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
cases="${CASES:-}"
# The scale cases (issue 20) run on the `scale_bench` example: map_1m, map_10m, tree_1m,
# tree_10m (N tasks, every future held; see its header for what it measures).
scale_all="map_1m map_10m tree_1m tree_10m"
small=(); scale=()
for c in ${cases//,/ }; do
  case " $scale_all " in *" $c "*) scale+=("$c") ;; *) small+=("$c") ;; esac
done
if [ -z "$cases" ]; then read -ra scale <<<"$scale_all"; fi
cargo build -q --release -p brisk --bin brisk --example distributed_bench --example scale_bench
brisk_out="$(mktemp)"; dask_out="$(mktemp)"
trap 'rm -f "$brisk_out" "$dask_out"' EXIT
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -z "$cases" ] || [ ${#small[@]} -gt 0 ]; then
  bench_args=(--full)
  [ ${#small[@]} -eq 1 ] && bench_args+=(--case "${small[0]}")
  BRISK_LOG=error "${CARGO_TARGET_DIR:-$root/target}/release/examples/distributed_bench" "${bench_args[@]}" | tee "$brisk_out"
fi
for c in "${scale[@]}"; do
  kind="${c%_*}"; size="${c#*_}"; n="${size%m}000000"
  BRISK_LOG=error "${CARGO_TARGET_DIR:-$root/target}/release/examples/scale_bench" --case "$kind" --tasks "$n" \
    | grep '^BRISK ' | sed "s/case=${kind}_$n /case=$c /" | tee -a "$brisk_out"
done
echo "# load after Brisk: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC1091
source "$root/bench/venv.sh" "distributed==@DASK_PIN@" "dask==@DASK_PIN@" psutil
python "$here/dask_side.py" "${cases:-all}" | tee "$dask_out"
python3 - "$brisk_out" "$dask_out" <<'PY'
import sys
def parse(path, tag):
    out = {}
    for line in open(path):
        if not line.startswith(tag + " "):
            continue
        f = dict(kv.split("=", 1) for kv in line.split()[1:])
        out[f.pop("case")] = f
    return out
b, d = parse(sys.argv[1], "BRISK"), parse(sys.argv[2], "DASK")
for case, bf in b.items():
    df = d.get(case)
    if df is None:
        continue
    if "seconds" in bf and df["seconds"].startswith(">"):
        bs, limit = float(bf["seconds"]), float(df["seconds"][1:])
        extra = "".join(f" {k}={v}" for k, v in bf.items() if k not in ("seconds",))
        print(f"RESULT case={case} brisk_s={bs:.6f} dask_s=>{limit:.0f} ratio=>{limit / bs:.0f}{extra} dask_predicted_s={df.get('predicted_s')}")
    elif "seconds" in bf:
        bs, ds = float(bf["seconds"]), float(df["seconds"])
        extra = "".join(f" {k}={v}" for k, v in bf.items() if k not in ("seconds",))
        print(f"RESULT case={case} brisk_s={bs:.6f} dask_s={ds:.6f} ratio={ds / bs:.1f}{extra}")
    else:
        bb, db = float(bf["bytes"]), float(df["bytes"])
        print(f"RESULT case={case} brisk_s=nan dask_s=nan ratio={db / max(bb, 1):.1f} brisk_bytes={bb:.0f} dask_bytes={db:.0f} per=held_task brisk_n={bf.get('n')} dask_n={df.get('n')}")
PY
