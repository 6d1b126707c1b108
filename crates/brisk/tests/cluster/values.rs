//! Values that cannot travel fail once, with an error naming their type, instead of hanging or
//! being recomputed: a scattered value the worker's program does not know, and a task result
//! with no wire codec.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, ensure};

use crate::{Proc, brisk_bin, connect, start_scheduler, start_self_worker};

/// Registered with a codec here, unknown to the stock `brisk worker`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct OnlyHere(pub(crate) i64);
brisk::data!(OnlyHere, serde);

/// A value type with no codec at all.
#[derive(Clone, Debug)]
pub(crate) struct NoCodec(pub(crate) i64);
brisk::data!(NoCodec);

fn make_no_codec(x: i64) -> NoCodec {
    NoCodec(x)
}
fn read_no_codec(v: NoCodec) -> i64 {
    v.0
}
brisk::register!(make_no_codec, read_no_codec);

pub(crate) fn scatter_of_a_value_the_worker_cannot_store_fails() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&[])?;
    let _w = Proc(
        Command::new(brisk_bin())
            .args(["worker", &address, "--nthreads", "1"])
            .env_remove("BRISK_TOKEN")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let client = connect(&address, None)?;
    client.wait_for_workers(1, Duration::from_secs(20))?;
    let err = client
        .scatter(vec![OnlyHere(7)])
        .err()
        .context("a value the worker cannot store must not scatter")?;
    let text = err.to_string();
    ensure!(
        text.contains("OnlyHere") && text.contains("cannot store"),
        "the error names the type: {text}"
    );
    // Values the worker knows still scatter, and the cluster keeps working.
    let ok = client.scatter(vec![5i64])?;
    ensure!(ok[0].result()? == 5);
    ensure!(client.submit(crate::stock::inc, (&ok[0],))?.result()? == 6);
    Ok(())
}

pub(crate) fn a_result_without_a_codec_fails_once() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&[])?;
    let _ws: Vec<Proc> = (0..2)
        .map(|i| start_self_worker(&address, &format!("codec-{i}"), None))
        .collect::<anyhow::Result<_>>()?;
    let client = connect(&address, None)?;
    client.wait_for_workers(2, Duration::from_secs(20))?;
    // 20 values without a codec, each read by a task that may run on the other worker.
    let makes = client.map(make_no_codec, 0..20i64)?;
    let reads = client.map(read_no_codec, &makes)?;
    let err = client
        .gather(&reads)
        .err()
        .context("values without a codec cannot run on a cluster")?;
    let text = err.to_string();
    ensure!(
        text.contains("NoCodec") && text.contains("make_no_codec") && text.contains("data!"),
        "the error names the type, the task and the fix: {text}"
    );
    let info = client.scheduler_info()?;
    ensure!(
        info.tasks_done + info.tasks_erred <= 40,
        "each task ran at most once: {} done, {} erred",
        info.tasks_done,
        info.tasks_erred
    );
    ensure!(
        client.submit(crate::inc, (1,))?.result()? == 2,
        "still serving"
    );
    Ok(())
}
