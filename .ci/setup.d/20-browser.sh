# Headless Chromium and playwright-core for the dashboard's browser tests.
# Exports BRISK_NODE_PATH (a node_modules with playwright-core) and BRISK_REQUIRE_BROWSER=1.
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq --no-install-recommends chromium
fi
BRISK_BROWSER_DIR="${BRISK_BROWSER_DIR:-$HOME/.cache/brisk-browser}"
if [ ! -f "$BRISK_BROWSER_DIR/node_modules/playwright-core/package.json" ]; then
  mkdir -p "$BRISK_BROWSER_DIR"
  (cd "$BRISK_BROWSER_DIR" && npm install --silent --no-audit --no-fund playwright-core@1.65 >/dev/null)
fi
export BRISK_NODE_PATH="$BRISK_BROWSER_DIR/node_modules"
export BRISK_REQUIRE_BROWSER=1
