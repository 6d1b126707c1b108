#!/usr/bin/env bash
# The first hour stays good: a newcomer's new cargo project, in a scratch directory, depends on
# this checkout's `brisk` with its default features, on a machine state without libhdf5 (no
# pkg-config search path) and without Graphviz (an empty PATH when it runs). It builds, and its
# main is the README's first Rust block, which runs (it draws an SVG without Graphviz, reads
# CSV files and logs, sums an array).
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

[profile.release]
debug = "line-tables-only"
TOML

# main.rs: the README's first rust block, its hidden doctest lines shown.
{
  echo 'fn main() -> Result<(), Box<dyn std::error::Error>> {'
  awk '/^```rust$/ {on=1; next} on && /^```/ {exit} on' "$root/README.md" | sed 's/^# //'
  echo '}'
} > src/main.rs

# No libhdf5 to be found: a default build must not need it.
PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH="" HDF5_DIR="" \
  cargo build -q --release 2>&1 || {
    echo "a new project with brisk's default features does not build without libhdf5" >&2
    exit 1
  }
if cargo tree -q --release -e normal -i hdf5-metno-sys >/dev/null 2>&1; then
  echo "brisk's default features pull in hdf5-metno-sys" >&2
  exit 1
fi
# No Graphviz (nor anything else) on PATH: visualize() draws the SVG itself.
env PATH=/nonexistent "${CARGO_TARGET_DIR:-target}/release/hello-brisk"
echo "first hour: a new project builds without libhdf5 and runs the README's example without Graphviz"
