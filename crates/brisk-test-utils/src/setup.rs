//! Running the Python setup scripts of the emulators (moto, Azurite).

/// Run a Python setup `script` for an emulator (`what` names it in messages) with `args`;
/// its standard output. Panics with the script's error output (and `log()`, e.g. the
/// server's log) when it fails.
pub fn run_setup(
    python: &str,
    script: &str,
    args: &[&str],
    what: &str,
    log: impl FnOnce() -> String,
) -> String {
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the {what} setup script: {e}"));
    if !out.status.success() {
        panic!(
            "{what} setup failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            log()
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}
