//! `Client::upload_executable`: this test binary's own functions and its own value type run
//! on stock `brisk worker`s that were started before it and were never built with them. The
//! workers fetch the program from the scheduler, run its tasks in it, keep its values (of a
//! type they have no codec for) as they came, pass them between each other, and give them back
//! to the client; failures inside the program are task errors naming it.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, ensure};

use crate::values::OnlyHere;
use crate::{Proc, brisk_bin, connect, start_scheduler};

fn make_only_here(x: i64) -> OnlyHere {
    OnlyHere(x * 10)
}
fn read_only_here(v: OnlyHere) -> i64 {
    v.0 + 1
}
fn boom(x: i64) -> i64 {
    if x == 3 {
        panic!("boom at {x}");
    }
    x
}
fn exit_program(_x: i64) -> i64 {
    std::process::exit(3)
}
brisk::register!(make_only_here, read_only_here, boom, exit_program);

pub(crate) fn uploaded_program_runs_on_stock_workers() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&[])?;
    let stock = |name: &str| -> anyhow::Result<Proc> {
        Ok(Proc(
            Command::new(brisk_bin())
                .args(["worker", &address, "--nthreads", "2", "--name", name])
                .env_remove("BRISK_TOKEN")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        ))
    };
    let _w = [stock("stock-a")?, stock("stock-b")?];
    let client = connect(&address, None)?;
    client.wait_for_workers(2, Duration::from_secs(20))?;

    // Before the upload the stock workers do not know the function: an error that says so.
    let e = client
        .submit(make_only_here, (1i64,))?
        .result()
        .err()
        .context("a stock worker cannot run a function it was not built with")?
        .to_string();
    ensure!(e.contains("make_only_here"), "{e}");

    let h = client.upload_executable()?;
    ensure!(h.len() == 32, "{h}");
    ensure!(
        client.upload_executable()? == h,
        "the same build has the same hash"
    );

    // The user's functions and type on the stock workers: 20 values of `OnlyHere`, which the
    // workers hold as they came, each read by a task that may run on the other worker.
    let made = client.map(make_only_here, 0..20i64)?;
    let read = client.map(read_only_here, &made)?;
    let got: Vec<i64> = client.gather(&read)?;
    ensure!(
        got == (0..20).map(|x| x * 10 + 1).collect::<Vec<_>>(),
        "{got:?}"
    );
    // Built-in functions still run in the worker itself, on values from the program.
    let incs = client.map(crate::stock::inc, &read)?;
    let got: Vec<i64> = client.gather(&incs)?;
    ensure!(
        got == (0..20).map(|x| x * 10 + 2).collect::<Vec<_>>(),
        "{got:?}"
    );
    // The user's type comes back to the client, decoded with its own codec.
    let back: Vec<OnlyHere> = client.gather(&made)?;
    ensure!(back.iter().map(|v| v.0).eq((0..20).map(|x| x * 10)));
    let info = client.scheduler_info()?;
    ensure!(
        info.workers.iter().all(|w| w.has_what > 0),
        "both workers hold results: {info:?}"
    );

    // A panic in the program is that task's error; the program keeps serving.
    let bs = client.map(boom, 0..6i64)?;
    let e = client
        .gather(&bs)
        .err()
        .context("a panicking task fails")?
        .to_string();
    ensure!(e.contains("boom at 3"), "{e}");
    ensure!(client.submit(boom, (5i64,))?.result()? == 5);
    // The program dying fails the task with how it ended; the next task starts it again.
    let e = client
        .submit(exit_program, (1i64,))?
        .result()
        .err()
        .context("a task whose program exits fails")?
        .to_string();
    ensure!(e.contains("stopped") && e.contains("exit status: 3"), "{e}");
    ensure!(client.submit(read_only_here, (&made[2],))?.result()? == 21);
    client.close();
    Ok(())
}
