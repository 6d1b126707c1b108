#!/usr/bin/env bash
# The first hour stays good: a newcomer's new cargo project, in a scratch directory, depends on
# this checkout's `brisk` with its default features. Its dependency tree must not contain
# libhdf5's bindings (`hdf5-metno-sys`: the only crate of the tree that links libhdf5), and it
# runs without Graphviz (an empty PATH). (Hiding libhdf5 from pkg-config for the build would
# change the build-script environment of every -sys crate, which rebuilds them and Polars on
# top of them: twice, once here and once for the next stage.) It builds, and its
# main is the README's first Rust block, which runs (it draws an SVG without Graphviz, reads
# CSV files and logs, sums an array). The README's cluster block becomes a second binary, run
# on a local cluster of itself and then against stock `brisk scheduler` + 2 `brisk worker`
# processes (127.0.0.1, stopped by PID).
#
# Runs after the demo, whose release build of the facade's default features it reuses: the
# scratch project has the workspace's release profile and its Cargo.lock.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

cd "$scratch"
cargo new -q --vcs none hello-brisk
cd hello-brisk
cp "$root/Cargo.lock" .
cat >> Cargo.toml <<TOML
brisk = { path = "$root/crates/brisk" }
tempfile = "3"
anyhow = "1"

[profile.release]
debug = "line-tables-only"
TOML

# main.rs: the README's first rust block, its hidden doctest lines shown.
{
  echo 'fn main() -> Result<(), Box<dyn std::error::Error>> {'
  awk '/^```rust$/ {on=1; next} on && /^```/ {exit} on' "$root/README.md" | sed 's/^# //'
  echo '}'
} > src/main.rs

# src/bin/cluster.rs: the README's cluster block (the rust block marked standalone_crate).
mkdir -p src/bin
awk '/^```rust,standalone_crate$/ {on=1; next} on && /^```/ {exit} on' "$root/README.md" \
  | sed 's/^# //' > src/bin/cluster.rs
[ -s src/bin/cluster.rs ] || { echo "no cluster block in the README" >&2; exit 1; }

# A default build must not need libhdf5.
if cargo tree -q -e normal -i hdf5-metno-sys >/dev/null 2>&1; then
  echo "brisk's default features pull in hdf5-metno-sys (libhdf5)" >&2
  exit 1
fi
cargo build -q --release 2>&1 || {
  echo "a new project with brisk's default features does not build: see above" >&2
  exit 1
}
# No Graphviz (nor anything else) on PATH: visualize() draws the SVG itself.
out="${CARGO_TARGET_DIR:-target}/release"
env PATH=/nonexistent "$out/hello-brisk"

# The cluster block: on a local cluster of itself, then on stock processes.
"$out/cluster"
brisk="$out/brisk"
[ -x "$brisk" ] || cargo build -q --release --manifest-path "$root/Cargo.toml" -p brisk --bin brisk
sfile="$scratch/scheduler.json"
"$brisk" scheduler --host 127.0.0.1 --port 0 --no-dashboard --scheduler-file "$sfile" &
spid=$!
wpids=()
stop() { kill "${wpids[@]}" "$spid" 2>/dev/null || true; }
trap 'stop; rm -rf "$scratch"' EXIT
for _ in $(seq 100); do [ -s "$sfile" ] && break; sleep 0.1; done
addr="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["address"])' "$sfile")"
for i in 1 2; do
  "$brisk" worker "$addr" --nthreads 1 --name "stock-$i" --listen-host 127.0.0.1 &
  wpids+=($!)
done
BRISK_SCHEDULER_ADDRESS="$addr" timeout 300 "$out/cluster"
stop
echo "first hour: a new project builds without libhdf5, runs the README's example without Graphviz, and its cluster block on a local cluster and on stock processes (its functions uploaded to them)"
