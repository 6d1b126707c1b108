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
cargo build -q --release -p brisk --bin brisk --example distributed_bench
brisk_out="$(mktemp)"; dask_out="$(mktemp)"
trap 'rm -f "$brisk_out" "$dask_out"' EXIT
bench_args=(--full)
[ -n "$cases" ] && [ "${cases//,/}" = "$cases" ] && bench_args+=(--case "$cases")
BRISK_LOG=error "${CARGO_TARGET_DIR:-$root/target}/release/examples/distributed_bench" "${bench_args[@]}" | tee "$brisk_out"
# shellcheck disable=SC1091
source "$root/bench/venv.sh" "distributed==2025.*" "dask==2025.*" psutil
python "$here/dask_side.py" "$cases" | tee "$dask_out"
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
    if "seconds" in bf:
        bs, ds = float(bf["seconds"]), float(df["seconds"])
        extra = "".join(f" {k}={v}" for k, v in bf.items() if k not in ("seconds",))
        print(f"RESULT case={case} brisk_s={bs:.6f} dask_s={ds:.6f} ratio={ds / bs:.1f}{extra}")
    else:
        bb, db = float(bf["bytes"]), float(df["bytes"])
        print(f"RESULT case={case} brisk_s=nan dask_s=nan ratio={db / max(bb, 1):.1f} brisk_bytes={bb:.0f} dask_bytes={db:.0f} per=held_task brisk_n={bf.get('n')} dask_n={df.get('n')}")
PY
