#!/usr/bin/env bash
# bench/dashboard: what the live dashboard costs the scheduler. A `brisk scheduler` process with
# its dashboard on, 2 single-threaded worker processes, and a client mapping no-op tasks as fast
# as it can (~100k tasks/s on a quiet machine), in alternating rounds without and with an open
# page (the status page's assets, then its server-sent events, and /metrics every 5 s).
#   bench/compare.sh dashboard                      # 200k tasks per round, 5 rounds each way
#   TASKS=100000 ROUNDS=3 bench/compare.sh dashboard
# Prints `RESULT case=dashboard_overhead ... overhead_pct=<scheduler CPU per task, page open vs
# not, in %>`; the target is <= 5. There is no Dask side (its Bokeh dashboard is not comparable
# without a browser rendering it), so dask_s and ratio are nan.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
cargo build -q --release -p brisk --bin brisk --example dashboard_bench
BRISK_LOG=error "${CARGO_TARGET_DIR:-$root/target}/release/examples/dashboard_bench" \
  --tasks "${TASKS:-200000}" --rounds "${ROUNDS:-5}"
