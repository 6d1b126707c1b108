# Debian's OpenSSH server for the SSH deployment tests (crates/brisk/tests/deploy): each test
# starts its own sshd on 127.0.0.1 with throwaway keys and stops it by PID; nothing here runs
# a server. Exports BRISK_REQUIRE_SSHD=1 so that a missing sshd fails those tests.
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    openssh-server openssh-client
fi
export BRISK_REQUIRE_SSHD=1
