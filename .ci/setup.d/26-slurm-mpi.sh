# Debian's Slurm and munge for the Slurm deployment tests (crates/brisk/tests/deploy/slurm.rs),
# and Open MPI for `brisk mpi`: each test starts its own munged, slurmctld and slurmd on
# 127.0.0.1 with a configuration in a temporary directory and stops them by PID; nothing here
# runs a daemon. Exports BRISK_REQUIRE_SLURM=1 so that a missing Slurm fails those tests
# (slurmd launches jobs as their user, so it needs root: as another user the tests skip).
if [ ! -x /usr/sbin/slurmctld ] || [ ! -x /usr/sbin/slurmd ] || [ ! -x /usr/sbin/munged ] \
  || ! command -v sbatch >/dev/null 2>&1 || ! command -v mpirun >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    munge slurmctld slurmd slurm-client openmpi-bin
fi
export BRISK_REQUIRE_MPI=1
if [ "$(id -u)" -eq 0 ]; then
  export BRISK_REQUIRE_SLURM=1
fi
