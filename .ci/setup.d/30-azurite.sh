# Azurite (Microsoft's Azure Storage emulator, from npm) for brisk-io's az:// tests.
# Exports BRISK_AZURITE (its blob server) and BRISK_REQUIRE_AZURITE=1. The containers are made
# with azure-storage-blob from .ci/requirements-test.txt (the Python test venv).
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
BRISK_AZURITE_DIR="${BRISK_AZURITE_DIR:-$HOME/.cache/brisk-test-node}"
if [ ! -x "$BRISK_AZURITE_DIR/node_modules/.bin/azurite-blob" ]; then
  mkdir -p "$BRISK_AZURITE_DIR"
  (cd "$BRISK_AZURITE_DIR" && npm install --silent --no-audit --no-fund azurite@3.37.0 >/dev/null)
fi
export BRISK_AZURITE="$BRISK_AZURITE_DIR/node_modules/.bin/azurite-blob"
export BRISK_REQUIRE_AZURITE=1
