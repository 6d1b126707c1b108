#!/usr/bin/env bash
# Side-by-side benchmarks of Brisk and Dask on the same data in the same run.
#   bench/compare.sh local | distributed | array | dataframe | bag | all
# Each suite lives in bench/<suite>/run.sh and prints one line per case:
#   RESULT case=<name> brisk_s=<seconds> dask_s=<seconds> ratio=<dask_s/brisk_s> ...
# Dask and its friends are installed from PyPI into a cached venv (bench/venv.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suite="${1:-local}"
shift || true
if [ "$suite" = all ]; then
  for s in "$here"/*/run.sh; do bash "$s" "$@"; done
  exit 0
fi
if [ ! -f "$here/$suite/run.sh" ]; then
  echo "unknown suite '$suite'; known: $(ls -d "$here"/*/ | xargs -n1 basename | tr '\n' ' ')" >&2
  exit 2
fi
exec bash "$here/$suite/run.sh" "$@"
