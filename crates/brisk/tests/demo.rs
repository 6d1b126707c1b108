//! `brisk demo` runs the talk's examples and prints their results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn brisk_demo_prints_the_talks_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_brisk"))
        .args(["demo", "--out"])
        .arg(dir.path())
        .env("BRISK_PROGRESS", "off")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("threaded::get(&dsk, \"z\")"), "{text}");
    let thirteen = text.lines().filter(|l| l.contains("= 13 ")).count();
    assert!(
        thirteen >= 3,
        "z is 13 on threads, sync and delayed:\n{text}"
    );
    assert!(text.contains("= 500500 "), "{text}");
    assert!(
        dir.path().join("talk-graph.svg").exists() || dir.path().join("talk-graph.dot").exists()
    );
}

#[test]
fn unknown_subcommands_get_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_brisk"))
        .arg("dmeo")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("demo"), "{err}");
}
