#!/usr/bin/env bash
# Source this: a Python venv for reference checks in tests (numpy, pandas, moto, …), outside
# the clone and reused. Packages come from .ci/requirements-test.txt. Exports BRISK_PYTHON and
# BRISK_REQUIRE_PYTHON=1 so that tests needing the reference fail instead of skipping.
BRISK_TEST_VENV="${BRISK_TEST_VENV:-$HOME/.cache/brisk-test-venv}"
req="$(dirname "${BASH_SOURCE[0]}")/requirements-test.txt"
if [ ! -x "$BRISK_TEST_VENV/bin/python" ]; then
  python3 -m venv "$BRISK_TEST_VENV"
fi
stamp="$BRISK_TEST_VENV/.installed-$(md5sum "$req" | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  "$BRISK_TEST_VENV/bin/pip" install -q -r "$req" && touch "$stamp"
fi
export BRISK_PYTHON="$BRISK_TEST_VENV/bin/python"
export BRISK_REQUIRE_PYTHON=1
export PATH="$BRISK_TEST_VENV/bin:$PATH"
