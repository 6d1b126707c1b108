#!/usr/bin/env bash
# Source this: makes (once) and activates a Python venv for benchmarks with the packages given
# as arguments. The venv lives outside the repo and is reused between runs.
#   source bench/venv.sh "dask[complete]==@DASK_PIN@" numpy    (@DASK_PIN@: the pin below)
BRISK_BENCH_VENV="${BRISK_BENCH_VENV:-$HOME/.cache/brisk-bench-venv}"
# One Dask for every suite (the newest release when last set; suites sharing the venv with
# different pins would reinstall each other's Dask). Override with DASK_PIN=... to compare.
DASK_PIN="${DASK_PIN:-2026.11.0}"
set -- "${@//@DASK_PIN@/$DASK_PIN}"
if [ ! -x "$BRISK_BENCH_VENV/bin/python" ]; then
  python3 -m venv "$BRISK_BENCH_VENV"
fi
# shellcheck disable=SC1091
source "$BRISK_BENCH_VENV/bin/activate"
if [ "$#" -gt 0 ]; then
  stamp="$BRISK_BENCH_VENV/.installed-$(echo "$*" | md5sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    pip install -q "$@" && touch "$stamp"
  fi
fi
