//! `brisk mpi` under Debian's Open MPI (`mpirun -n 4` on this machine): rank 0 the scheduler,
//! rank 1 this test binary as the user's program (see [`program`]), ranks 2 and 3 stock
//! workers; the program's exit status comes back through `mpirun`, and nothing is left
//! running.
//!
//! No `mpirun`: skipped with a note, unless `BRISK_REQUIRE_MPI=1` (set by
//! `.ci/setup.d/26-slurm-mpi.sh`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use brisk::array as da;
use brisk::{Client, Collection};

/// Set for this binary when `brisk mpi` runs it as rank 1's program.
pub(crate) const PROGRAM_ENV: &str = "BRISK_TEST_MPI_PROGRAM";

/// Rank 1's program: connects with `Client::from_env()`, checks it has the two worker
/// ranks, runs a task and the talk's array sum on them, writes what it saw to the file named
/// by `BRISK_TEST_MPI_PROGRAM`, and exits with `BRISK_TEST_MPI_EXIT` (default 0).
pub(crate) fn program(out: &str) -> anyhow::Result<i32> {
    let client = Client::from_env()?;
    let info = client.scheduler_info()?;
    let f = client.submit(crate::stock::add, (20i64, 22i64))?;
    let answer: i64 = f.result()?;
    let x = da::arange(1e6, 1e5)?;
    let sum = (&x + 1).sum().compute()?;
    let mut names: Vec<String> = info.workers.iter().map(|w| w.name.clone()).collect();
    names.sort();
    std::fs::write(out, format!("{answer} {sum} {}", names.join(",")))?;
    client.close();
    Ok(std::env::var("BRISK_TEST_MPI_EXIT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

fn available(test: &str) -> anyhow::Result<bool> {
    if crate::sshd::which("mpirun") {
        return Ok(true);
    }
    if std::env::var("BRISK_REQUIRE_MPI").is_ok_and(|v| v == "1") {
        bail!("{test}: BRISK_REQUIRE_MPI=1 but mpirun is missing (apt-get install openmpi-bin)");
    }
    println!("note: {test} skipped: no mpirun (apt-get install openmpi-bin)");
    Ok(false)
}

/// Run `mpirun -n 4 brisk mpi -- <this binary>` with the program's exit code `exit`; the
/// file the program wrote and mpirun's exit code.
fn run(dir: &std::path::Path, exit: i32) -> anyhow::Result<(String, Option<i32>)> {
    let out = dir.join(format!("program-{exit}.txt"));
    let mut cmd = Command::new("mpirun");
    cmd.args(["-n", "4", "--oversubscribe"]);
    // Open MPI refuses root unless told; CI containers run as root.
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl", "self")
        .env(PROGRAM_ENV, &out)
        .env("BRISK_TEST_MPI_EXIT", exit.to_string())
        .env_remove("BRISK_TOKEN")
        .current_dir(dir)
        .arg(env!("CARGO_BIN_EXE_brisk"))
        .args(["mpi", "--scheduler-listen", "127.0.0.1", "--no-dashboard"])
        .args(["--nthreads", "1", "--startup-timeout", "60", "--"])
        .arg(std::env::current_exe()?)
        .stdin(Stdio::null());
    let mut child = cmd.spawn().context("starting mpirun")?;
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if t.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("mpirun did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    Ok((text, status.code()))
}

pub(crate) fn brisk_mpi_runs_a_program_on_its_ranks() -> anyhow::Result<()> {
    if !available("brisk_mpi_runs_a_program_on_its_ranks")? {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let (text, code) = run(dir.path(), 0)?;
    ensure!(
        code == Some(0),
        "mpirun exited {code:?}; the program wrote {text:?}"
    );
    ensure!(
        text == "42 500000500000 mpi-rank-2,mpi-rank-3",
        "the program saw {text:?}"
    );
    // The program's failure is mpirun's, and the cluster still stops.
    let (text, code) = run(dir.path(), 3)?;
    ensure!(
        code.is_some_and(|c| c != 0),
        "mpirun exited {code:?} for a failing program"
    );
    ensure!(text.starts_with("42 "), "{text:?}");
    // The scheduler file and token are removed; no rank is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".brisk-mpi"))
        .collect();
    ensure!(left.is_empty(), "left behind: {left:?}");
    Ok(())
}

pub(crate) fn brisk_mpi_errors_are_clear() -> anyhow::Result<()> {
    let brisk = env!("CARGO_BIN_EXE_brisk");
    // Not under an MPI launcher.
    let out = Command::new(brisk)
        .args(["mpi", "--", "true"])
        .env_remove("OMPI_COMM_WORLD_RANK")
        .env_remove("PMI_RANK")
        .env_remove("PMIX_RANK")
        .env_remove("SLURM_PROCID")
        .env_remove("MV2_COMM_WORLD_RANK")
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success() && err.contains("mpirun -n N"),
        "{err}"
    );
    // Too few ranks.
    let out = Command::new(brisk)
        .args(["mpi", "--", "true"])
        .env("OMPI_COMM_WORLD_RANK", "0")
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success() && err.contains("at least 3 ranks"),
        "{err}"
    );
    // A worker rank whose scheduler never comes: a bounded wait, then an error naming the file.
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("sched.json");
    let t = Instant::now();
    let out = Command::new(brisk)
        .args(["mpi", "--startup-timeout", "1", "--scheduler-file"])
        .arg(&file)
        .args(["--", "true"])
        .env("OMPI_COMM_WORLD_RANK", "2")
        .env("OMPI_COMM_WORLD_SIZE", "3")
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success()
            && err.contains("sched.json")
            && t.elapsed() < Duration::from_secs(20),
        "{err}"
    );
    Ok(())
}
