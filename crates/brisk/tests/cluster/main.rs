//! End-to-end tests of the distributed runtime with real processes on 127.0.0.1.
//!
//! This test binary is its own worker program: `main` calls `main_if_worker()` first, so
//! `Client::local` and the helpers below can start workers that know the functions
//! registered here. The scheduler runs either in-process (`Client::local`) or as the `brisk`
//! binary (`brisk scheduler`), and the stock `brisk worker` takes part too.

// A test binary with its own `main` (harness = false): unwraps are assertions here.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use brisk::{Client, ClientOptions, Collection, Func, Graph, Key, Task, Value, delayed, graph};

pub(crate) fn inc(x: i64) -> i64 {
    x + 1
}
pub(crate) fn add(x: i64, y: i64) -> i64 {
    x + y
}
pub(crate) fn sum(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}
pub(crate) fn slow_inc(x: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(20));
    x + 1
}
pub(crate) fn fail_on_13(x: i64) -> Result<i64, String> {
    if x == 13 {
        Err(format!("unlucky number {x}"))
    } else {
        Ok(x)
    }
}
fn crash(_x: i64) -> i64 {
    std::process::abort()
}
pub(crate) fn big(n: i64) -> Vec<f64> {
    vec![n as f64; 100_000]
}
pub(crate) fn total(v: Vec<f64>) -> f64 {
    v.iter().sum()
}
fn noop(x: i64) -> i64 {
    x
}
/// `inc` that takes a little time, so that a 100k-task map can be interrupted.
pub(crate) fn inc_after_20us(x: i64) -> i64 {
    let t = Instant::now();
    while t.elapsed() < Duration::from_micros(20) {
        std::hint::spin_loop();
    }
    x + 1
}
fn addf(x: f64, y: f64) -> f64 {
    x + y
}
/// Fails the first time it sees `marker` (a path), succeeds afterwards.
fn flaky(marker: String) -> Result<i64, String> {
    if std::path::Path::new(&marker).exists() {
        Ok(7)
    } else {
        std::fs::write(&marker, b"seen").map_err(|e| e.to_string())?;
        Err("first attempt fails".into())
    }
}
brisk::register!(
    inc,
    add,
    sum,
    slow_inc,
    fail_on_13,
    crash,
    big,
    total,
    noop,
    addf,
    flaky,
    inc_after_20us
);

/// The functions the stock `brisk` binary registers for its demo, under the same names: tests
/// send tasks calling them to stock `brisk worker` processes.
pub(crate) mod stock {
    pub(crate) fn inc(x: i64) -> i64 {
        x + 1
    }
    pub(crate) fn add(x: i64, y: i64) -> i64 {
        x + y
    }
    brisk::register!(inc as "brisk::demo::inc", add as "brisk::demo::add");
}

mod chaos;
mod collections;
mod dashboard;
mod memory;
mod misbehaving;
mod more;
mod nanny;
mod programs;
mod restart;
mod scale;
mod security;
mod values;

type TestFn = fn() -> anyhow::Result<()>;

fn main() {
    brisk::worker::main_if_worker();
    if std::env::var_os("BRISK_TEST_EXIT_WITHOUT_CLOSING").is_some() {
        // A program that starts a local cluster, prints its workers' pids and ends without
        // closing it (the default client is never dropped).
        let client = Client::local(2).unwrap();
        let pids: Vec<String> = client.worker_pids().iter().map(u32::to_string).collect();
        println!("{}", pids.join(" "));
        std::process::exit(0);
    }
    let tests: &[(&'static str, TestFn)] = &[
        (
            "local_cluster_runs_graphs_delayed_and_futures",
            local_cluster_runs_graphs_delayed_and_futures,
        ),
        ("errors_name_their_keys", errors_name_their_keys),
        (
            "separate_processes_with_the_stock_binaries",
            separate_processes_with_the_stock_binaries,
        ),
        ("kill_9_a_worker_mid_job", kill_9_a_worker_mid_job),
        (
            "a_task_that_kills_three_workers_fails",
            a_task_that_kills_three_workers_fails,
        ),
        (
            "a_worker_that_joins_mid_job_gets_work",
            a_worker_that_joins_mid_job_gets_work,
        ),
        (
            "bad_tokens_and_garbage_are_rejected",
            bad_tokens_and_garbage_are_rejected,
        ),
        (
            "anonymous_processes_are_shut_out",
            security::anonymous_processes_are_shut_out,
        ),
        (
            "a_token_made_by_the_scheduler_is_private",
            security::a_token_made_by_the_scheduler_is_private,
        ),
        (
            "listeners_stay_on_the_loopback",
            security::listeners_stay_on_the_loopback,
        ),
        (
            "a_restarted_scheduler_finishes_a_100k_map",
            restart::a_restarted_scheduler_finishes_a_100k_map,
        ),
        (
            "a_restarted_scheduler_finishes_the_talks_array_example",
            restart::a_restarted_scheduler_finishes_the_talks_array_example,
        ),
        (
            "lost_work_after_a_restart_is_an_error_not_a_hang",
            restart::lost_work_after_a_restart_is_an_error_not_a_hang,
        ),
        (
            "chaos_a_mixed_job_survives",
            chaos::chaos_a_mixed_job_survives,
        ),
        (
            "a_client_that_does_not_read_is_disconnected",
            misbehaving::a_client_that_does_not_read_is_disconnected,
        ),
        (
            "nanny_restarts_a_worker_past_its_memory_limit",
            nanny::nanny_restarts_a_worker_past_its_memory_limit,
        ),
        (
            "uploaded_program_runs_on_stock_workers",
            programs::uploaded_program_runs_on_stock_workers,
        ),
        (
            "scatter_of_a_value_the_worker_cannot_store_fails",
            values::scatter_of_a_value_the_worker_cannot_store_fails,
        ),
        (
            "a_result_without_a_codec_fails_once",
            values::a_result_without_a_codec_fails_once,
        ),
        (
            "a_client_that_disconnects_releases_its_keys",
            a_client_that_disconnects_releases_its_keys,
        ),
        ("soak_100k_tasks", soak_100k_tasks),
        (
            "graphs_stream_in_pieces_under_a_small_frame_limit",
            scale::graphs_stream_in_pieces_under_a_small_frame_limit,
        ),
        ("processes_get", processes_get),
        (
            "local_workers_exit_with_their_program",
            local_workers_exit_with_their_program,
        ),
        ("tls_cluster", more::tls_cluster),
        (
            "spill_to_disk_and_read_back",
            more::spill_to_disk_and_read_back,
        ),
        (
            "wide_graphs_do_not_blow_up_memory",
            more::wide_graphs_do_not_blow_up_memory,
        ),
        (
            "workers_reconnect_after_a_scheduler_blip",
            more::workers_reconnect_after_a_scheduler_blip,
        ),
        (
            "workers_of_main_if_worker_rejoin_after_a_blip",
            more::workers_of_main_if_worker_rejoin_after_a_blip,
        ),
        (
            "a_stopped_scheduler_keeps_its_workers",
            more::a_stopped_scheduler_keeps_its_workers,
        ),
        (
            "sigterm_stops_a_worker_cleanly",
            more::sigterm_stops_a_worker_cleanly,
        ),
        ("async_api", more::async_api),
        (
            "watching_work_and_blocking_calls_inside_runtimes",
            more::watching_work_and_blocking_calls_inside_runtimes,
        ),
        (
            "the_talks_array_examples_on_a_cluster",
            collections::the_talks_array_examples_on_a_cluster,
        ),
        (
            "user_functions_in_map_blocks_on_a_cluster",
            collections::user_functions_in_map_blocks_on_a_cluster,
        ),
        (
            "the_talks_bag_example_on_a_cluster",
            collections::the_talks_bag_example_on_a_cluster,
        ),
        (
            "user_functions_in_map_partitions_on_a_cluster",
            collections::user_functions_in_map_partitions_on_a_cluster,
        ),
        (
            "persisted_data_stays_on_the_workers",
            collections::persisted_data_stays_on_the_workers,
        ),
        (
            "dataframe_shuffles_on_a_cluster",
            collections::dataframe_shuffles_on_a_cluster,
        ),
        (
            "a_worker_killed_during_a_disk_shuffle",
            collections::a_worker_killed_during_a_disk_shuffle,
        ),
        (
            "object_store_writes_from_a_cluster",
            collections::object_store_writes_from_a_cluster,
        ),
        (
            "a_worker_that_cannot_spill_pauses",
            more::a_worker_that_cannot_spill_pauses,
        ),
        (
            "a_worker_spills_and_pauses_on_process_memory",
            memory::a_worker_spills_and_pauses_on_process_memory,
        ),
        (
            "dashboard_of_a_real_cluster",
            dashboard::dashboard_of_a_real_cluster,
        ),
        (
            "performance_report_of_a_cluster",
            dashboard::performance_report_of_a_cluster,
        ),
    ];
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut failed = 0;
    // A test that hangs fails the run after this long instead of stalling CI.
    let limit = Duration::from_secs(
        std::env::var("BRISK_CLUSTER_TEST_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(300),
    );
    let current: &'static std::sync::Mutex<Option<(&'static str, Instant)>> =
        Box::leak(Box::new(std::sync::Mutex::new(None)));
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            if let Ok(g) = current.lock()
                && let Some((name, since)) = *g
                && since.elapsed() > limit
            {
                println!("test {name} ... FAILED: still running after {limit:?} (hung)");
                // Exiting skips the tests' `Proc` guards: stop the schedulers and workers the
                // hung test started (this process's children, by PID) so none outlives the run.
                kill_children();
                std::process::exit(2);
            }
        }
    });
    for &(name, f) in tests {
        if let Some(flt) = &filter
            && !name.contains(flt.as_str())
        {
            continue;
        }
        let t = Instant::now();
        if let Ok(mut g) = current.lock() {
            *g = Some((name, t));
        }
        match f() {
            Ok(()) => println!("test {name} ... ok ({:.1} s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED: {e:?}");
            }
        }
    }
    if failed > 0 {
        println!("{failed} test(s) failed");
        std::process::exit(1);
    }
}

/// SIGKILL every direct child of this process (found in `/proc` by parent PID).
fn kill_children() {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid == Some(me.as_str()) {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    }
}

pub(crate) fn f(name: &str) -> Func {
    // Functions registered here, looked up by their registered names.
    Func::by_name(&format!("cluster::{name}")).unwrap_or_else(|e| panic!("{e}"))
}

/// A tree sum over `n` leaves, as a raw graph; returns the graph and the root key.
fn tree_graph(n: usize) -> (Graph, Key) {
    let mut g = Graph::new();
    let mut level: Vec<Key> = (0..n)
        .map(|i| {
            let k = Key::from(("leaf", i));
            g.insert(
                k.clone(),
                Task::new(f("inc"), vec![brisk::Arg::Literal(Value::from(i as i64))]),
            )
            .unwrap();
            k
        })
        .collect();
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        level = level
            .chunks(8)
            .enumerate()
            .map(|(i, c)| {
                let k = Key::from((&*format!("sum-{depth}"), i));
                let args = vec![brisk::Arg::List(
                    c.iter().map(|k| brisk::Arg::Key(k.clone())).collect(),
                )];
                g.insert(k.clone(), Task::new(f("sum"), args)).unwrap();
                k
            })
            .collect();
    }
    (g, level[0].clone())
}

fn local_cluster_runs_graphs_delayed_and_futures() -> anyhow::Result<()> {
    let client = Client::local(2)?;
    // The talk's dict.
    let dsk = graph! { "a" => 1, "x" => 10, "b" => (inc, "a"), "y" => (inc, "x"), "z" => (add, "b", "y") };
    let z: Vec<Value> = brisk::Scheduler::get(&client, &dsk, &["z".into()], &Default::default())?;
    ensure!(z[0].get::<i64>()? == 13);
    // A large raw graph.
    let (g, root) = tree_graph(5000);
    let v = brisk::Scheduler::get(&client, &g, &[root], &Default::default())?;
    let want: i64 = (0..5000i64).map(|i| i + 1).sum();
    ensure!(v[0].get::<i64>()? == want, "tree sum");
    // delayed runs on the cluster unchanged: the client is the default scheduler.
    ensure!(brisk::default_scheduler()?.name() == "distributed");
    let parts: Vec<_> = (0..20).map(|i| delayed(inc).call(i)).collect();
    let tot = delayed(sum).call(parts);
    ensure!(tot.compute()? == (1..=20).sum::<i64>());
    // Futures.
    let a = client.submit(inc, (1,))?;
    let b = client.submit(add, (&a, 10))?;
    ensure!(b.result()? == 12);
    ensure!(a.result()? == 2);
    let same = client.submit(inc, (1,))?;
    ensure!(same.key() == a.key(), "pure calls share a key");
    let many = client.map(inc, 0..1000i64)?;
    let got = client.gather(&many)?;
    ensure!(got == (1..=1000).collect::<Vec<i64>>());
    let scattered = client.scatter(vec![vec![1.0f64; 10], vec![2.0; 10]])?;
    let totals = client.map(total, &scattered)?;
    let t = client.gather(&totals)?;
    ensure!(t == vec![10.0, 20.0], "{t:?}");
    // Big values travel between workers and back.
    let bigs = client.map(big, 0..6i64)?;
    let s = client.submit(
        sum_big,
        (bigs
            .iter()
            .map(brisk::IntoArg::into_arg)
            .collect::<Vec<_>>(),),
    )?;
    ensure!(s.result()? == (0..6).map(|n| n as f64 * 100_000.0).sum::<f64>());
    let order: Vec<Key> = client
        .as_completed(client.map(slow_inc, 0..6i64)?)
        .map(|f| f.key().clone())
        .collect();
    ensure!(order.len() == 6);
    let c = client.compute(&delayed(inc).call(41))?;
    ensure!(c.result()? == 42);
    let info = client.scheduler_info()?;
    ensure!(info.workers.len() == 2);
    client.shutdown();
    Ok(())
}

fn sum_big(parts: Vec<Value>) -> f64 {
    parts
        .iter()
        .map(|p| {
            p.get::<Vec<f64>>()
                .map(|v| v.iter().sum::<f64>())
                .unwrap_or(f64::NAN)
        })
        .sum()
}
brisk::register!(sum_big);

fn errors_name_their_keys() -> anyhow::Result<()> {
    let client = Client::local(2)?;
    let xs = client.map(fail_on_13, 10..16i64)?;
    let err = client.gather(&xs).unwrap_err();
    let text = err.to_string();
    ensure!(text.contains("unlucky number 13"), "{text}");
    ensure!(
        text.contains("fail_on_13"),
        "the error names the key: {text}"
    );
    let bad = client.submit(fail_on_13, (13,))?;
    let after = client.submit(inc, (&bad,))?;
    let err = after.result().unwrap_err();
    ensure!(
        matches!(err, brisk::Error::DependencyFailed { .. }),
        "{err}"
    );
    // Closures cannot travel: a clear error before anything is sent.
    let err = client.submit(|x: i64| x * 2, (1,)).unwrap_err();
    ensure!(
        matches!(err, brisk::Error::UnregisteredFunction { .. }),
        "{err}"
    );
    ensure!(err.to_string().contains("#[brisk::func]"), "{err}");
    let d = delayed(|x: i64| x + 1).call(1);
    let err = d.compute().unwrap_err();
    ensure!(
        matches!(err, brisk::Error::UnregisteredFunction { .. }),
        "{err}"
    );
    // A bag step with a closure: the same error, saying how to fix it.
    let b = brisk::bag::Bag::from_sequence(vec![1i64, 2, 3], 2).map(|x| x + 1);
    let err = b.compute().unwrap_err();
    ensure!(
        matches!(err, brisk::Error::UnregisteredFunction { .. }),
        "{err}"
    );
    ensure!(
        err.to_string().contains("#[brisk::func]") && err.to_string().contains("threaded"),
        "{err}"
    );
    // Retries.
    let dir = tempfile::tempdir()?;
    let marker = dir.path().join("m").to_string_lossy().into_owned();
    let once = client.submit(flaky, (brisk::lit(marker.clone()),))?;
    ensure!(
        once.result().is_err(),
        "no retries: the first failure is final"
    );
    std::fs::remove_file(&marker)?;
    let retried = client.submit_with(
        flaky,
        (brisk::lit(marker),),
        brisk::SubmitOptions {
            retries: 1,
            key: Some("flaky-retried".into()),
        },
    )?;
    ensure!(retried.result()? == 7, "one retry succeeds");
    // Cancel.
    let slow = client.map(slow_inc, 100..200i64)?;
    client.cancel(&slow);
    ensure!(slow[50].result().is_err());
    client.shutdown();
    Ok(())
}

// ----- separate processes -----

pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn brisk_bin() -> &'static str {
    env!("CARGO_BIN_EXE_brisk")
}

thread_local! {
    static DASHBOARD: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The dashboard address of the scheduler [`start_scheduler`] started last on this thread.
pub(crate) fn last_dashboard() -> Option<String> {
    DASHBOARD.with(|d| d.borrow().clone())
}

/// GET `http://host:port/path` (HTTP/1.0); the whole response, headers included.
pub(crate) fn http_get(url: String) -> anyhow::Result<String> {
    let rest = url.trim_start_matches("http://");
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = std::net::TcpStream::connect(hostport)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// Start `brisk scheduler` on a free port; returns the process and its address.
pub(crate) fn start_scheduler(extra: &[&str]) -> anyhow::Result<(Proc, String)> {
    start_scheduler_with(extra, &[])
}

/// [`start_scheduler`] with environment variables for the scheduler process.
pub(crate) fn start_scheduler_with(
    extra: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<(Proc, String)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("scheduler.json");
    let child = Command::new(brisk_bin())
        .args([
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--scheduler-file",
        ])
        .arg(&file)
        .args(extra)
        .envs(env.iter().copied())
        .env_remove("BRISK_TOKEN")
        .stdin(Stdio::null())
        .spawn()?;
    let p = Proc(child);
    let t = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(a) = v["address"].as_str()
        {
            let d = v["dashboard"].as_str().map(String::from);
            DASHBOARD.with(|x| *x.borrow_mut() = d);
            return Ok((p, a.to_string()));
        }
        ensure!(
            t.elapsed() < Duration::from_secs(20),
            "the scheduler did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start this test binary as a worker of `address`.
pub(crate) fn start_self_worker(
    address: &str,
    name: &str,
    token: Option<&str>,
) -> anyhow::Result<Proc> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.env("BRISK_WORKER_OF", address)
        .env("BRISK_WORKER_NTHREADS", "1")
        .env("BRISK_WORKER_NAME", name)
        .stdin(Stdio::null());
    match token {
        Some(t) => cmd.env("BRISK_TOKEN", t),
        None => cmd.env_remove("BRISK_TOKEN"),
    };
    Ok(Proc(cmd.spawn()?))
}

pub(crate) fn connect(address: &str, token: Option<&str>) -> anyhow::Result<Client> {
    let security =
        brisk::distributed::protocol::Security::none().with_token(token.map(String::from));
    Ok(Client::connect_with(
        address,
        ClientOptions {
            security,
            set_as_default: false,
            name: "test".into(),
        },
    )?)
}

fn separate_processes_with_the_stock_binaries() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&["--dashboard-port", "0"])?;
    // Two stock workers: they know the functions registered in the brisk library.
    let mut workers = Vec::new();
    for i in 0..2 {
        workers.push(Proc(
            Command::new(brisk_bin())
                .args([
                    "worker",
                    &address,
                    "--nthreads",
                    "1",
                    "--name",
                    &format!("stock-{i}"),
                    "--listen-host",
                    "127.0.0.1",
                ])
                .stdin(Stdio::null())
                .spawn()?,
        ));
    }
    let client = connect(&address, None)?;
    client.wait_for_workers(2, Duration::from_secs(20))?;
    let inc = Func::by_name("brisk::demo::inc")?;
    let add = Func::by_name("brisk::demo::add")?;
    let mut g = Graph::new();
    for i in 0..10_000usize {
        g.insert(
            ("x", i),
            Task::new(
                inc.clone(),
                vec![brisk::Arg::Literal(Value::from(i as i64))],
            ),
        )?;
    }
    let mut level: Vec<Key> = (0..10_000).map(|i| Key::from(("x", i))).collect();
    let mut d = 0;
    while level.len() > 1 {
        d += 1;
        let mut next = Vec::new();
        for (i, pair) in level.chunks(2).enumerate() {
            let k = Key::from((&*format!("add-{d}"), i));
            let args = if pair.len() == 2 {
                vec![
                    brisk::Arg::Key(pair[0].clone()),
                    brisk::Arg::Key(pair[1].clone()),
                ]
            } else {
                vec![
                    brisk::Arg::Key(pair[0].clone()),
                    brisk::Arg::Literal(Value::from(0i64)),
                ]
            };
            g.insert(k.clone(), Task::new(add.clone(), args))?;
            next.push(k);
        }
        level = next;
    }
    let v = brisk::Scheduler::get(&client, &g, &[level[0].clone()], &Default::default())?;
    ensure!(v[0].get::<i64>()? == (1..=10_000).sum::<i64>());
    let info = client.scheduler_info()?;
    ensure!(
        info.workers
            .iter()
            .all(|w| w.metrics.tasks_done > 0 || info.tasks_done > 0)
    );
    // The dashboard's JSON API lists both workers.
    let status = http_get(format!(
        "{}/api/snapshot",
        DASHBOARD
            .with(|d| d.borrow().clone())
            .context("a dashboard address")?
    ))?;
    let v: serde_json::Value = serde_json::from_str(status.split("\r\n\r\n").nth(1).unwrap_or(""))?;
    ensure!(v["workers"].as_array().map(Vec::len) == Some(2), "{status}");
    // Functions the stock worker does not know fail with a clear error.
    let err = client.submit(inc_local, (1,))?.result().unwrap_err();
    ensure!(err.to_string().contains("not registered"), "{err}");
    Ok(())
}

fn inc_local(x: i64) -> i64 {
    x + 1
}
brisk::register!(inc_local);

fn kill_9_a_worker_mid_job() -> anyhow::Result<()> {
    let client = Client::local(2)?;
    // Chains: half of the results live on each worker; kill one worker half way.
    let xs = client.map(slow_inc, 0..100i64)?;
    let ys = client.map(slow_inc, &xs)?;
    let t = Instant::now();
    while xs.iter().filter(|f| f.done()).count() < 30 {
        ensure!(t.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    ensure!(client.kill_local_worker(0), "killed");
    let got = client.gather(&ys)?;
    ensure!(
        got == (2..102).collect::<Vec<i64>>(),
        "right answer after a SIGKILL: {got:?}"
    );
    // The local cluster replaces the worker that died.
    let t = Instant::now();
    loop {
        let info = client.scheduler_info()?;
        if info.workers_lost >= 1 && info.workers.len() == 2 {
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(20),
            "the dead worker was not replaced: {info:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ensure!(client.worker_pids().len() == 2);
    client.shutdown();
    Ok(())
}

fn a_task_that_kills_three_workers_fails() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&[])?;
    let _ws: Vec<Proc> = (0..4)
        .map(|i| start_self_worker(&address, &format!("victim-{i}"), None))
        .collect::<anyhow::Result<_>>()?;
    let client = connect(&address, None)?;
    client.wait_for_workers(4, Duration::from_secs(20))?;
    let ok = client.submit(inc, (1,))?;
    ensure!(ok.result()? == 2);
    let bomb = client.submit(crash, (1,))?;
    let err = bomb.result().unwrap_err();
    let text = err.to_string();
    ensure!(text.contains("crash"), "the error names the task: {text}");
    ensure!(text.contains("3 workers"), "{text}");
    let info = client.scheduler_info()?;
    ensure!(
        info.workers.len() == 1,
        "one worker survives: {}",
        info.workers.len()
    );
    ensure!(
        client.submit(inc, (2,))?.result()? == 3,
        "the cluster still works"
    );
    Ok(())
}

fn a_worker_that_joins_mid_job_gets_work() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&[])?;
    let _w1 = start_self_worker(&address, "first", None)?;
    let client = connect(&address, None)?;
    client.wait_for_workers(1, Duration::from_secs(20))?;
    let xs = client.map(slow_inc, 0..200i64)?;
    std::thread::sleep(Duration::from_millis(300));
    let _w2 = start_self_worker(&address, "late", None)?;
    let got = client.gather(&xs)?;
    ensure!(got == (1..201).collect::<Vec<i64>>());
    let info = client.scheduler_info()?;
    let late = info
        .workers
        .iter()
        .find(|w| w.name == "late")
        .context("the late worker joined")?;
    ensure!(
        late.metrics.tasks_done > 10 || late.has_what > 10,
        "the late worker did work: {late:?}"
    );
    Ok(())
}

fn bad_tokens_and_garbage_are_rejected() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&["--token", "s3cret"])?;
    let _w = start_self_worker(&address, "tokened", Some("s3cret"))?;
    // Garbage bytes on the port: rejected, the scheduler keeps serving.
    let hostport = address.trim_start_matches("tcp://");
    let mut raw = std::net::TcpStream::connect(hostport)?;
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    raw.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf);
    let mut raw2 = std::net::TcpStream::connect(hostport)?;
    raw2.write_all(&[0xff; 64])?;
    // A wrong token and no token are rejected with a clear error.
    let err = connect(&address, Some("wrong"))
        .err()
        .context("a wrong token must fail")?;
    ensure!(err.to_string().contains("wrong token"), "{err}");
    let err = connect(&address, None)
        .err()
        .context("no token must fail")?;
    ensure!(err.to_string().contains("needs a token"), "{err}");
    // The right token works.
    let client = connect(&address, Some("s3cret"))?;
    client.wait_for_workers(1, Duration::from_secs(20))?;
    ensure!(client.submit(inc, (41,))?.result()? == 42);
    // A worker with a bad token does not join.
    let mut bad = start_self_worker(&address, "intruder", Some("nope"))?;
    let status = wait_exit(&mut bad.0, Duration::from_secs(20))?;
    ensure!(
        !status.success(),
        "a worker with a bad token exits with an error"
    );
    ensure!(client.scheduler_info()?.workers.len() == 1);
    Ok(())
}

pub(crate) fn wait_exit(
    c: &mut Child,
    timeout: Duration,
) -> anyhow::Result<std::process::ExitStatus> {
    let t = Instant::now();
    loop {
        if let Some(s) = c.try_wait()? {
            return Ok(s);
        }
        if t.elapsed() > timeout {
            bail!("the process did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn a_client_that_disconnects_releases_its_keys() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler(&[])?;
    let _w = start_self_worker(&address, "w", None)?;
    let watcher = connect(&address, None)?;
    watcher.wait_for_workers(1, Duration::from_secs(20))?;
    {
        let client = connect(&address, None)?;
        let xs = client.map(big, 0..10i64)?;
        client.wait(&xs);
        let held: u64 = watcher
            .scheduler_info()?
            .tasks_by_state
            .iter()
            .map(|(_, n)| n)
            .sum();
        ensure!(held == 10, "ten keys held: {held}");
        std::mem::forget(xs);
        client.close();
    }
    // The client is gone (its connection closed when its last handle dropped).
    let t = Instant::now();
    loop {
        let info = watcher.scheduler_info()?;
        let held: u64 = info.tasks_by_state.iter().map(|(_, n)| n).sum();
        if held == 0 && info.clients == 1 {
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(20),
            "keys still held: {info:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn soak_100k_tasks() -> anyhow::Result<()> {
    let client = Client::local(2)?;
    let xs = client.map(noop, 0..100_000i64)?;
    let got = client.gather(&xs)?;
    ensure!(got.len() == 100_000 && got[99_999] == 99_999);
    drop(xs);
    let t = Instant::now();
    loop {
        let held: u64 = client
            .scheduler_info()?
            .tasks_by_state
            .iter()
            .map(|(_, n)| n)
            .sum();
        if held == 0 {
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(30),
            "{held} keys still held"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    client.shutdown();
    Ok(())
}

/// A program that ends without closing its local cluster leaves no worker behind: they exit
/// as soon as it is gone, not after their reconnect timeout.
fn local_workers_exit_with_their_program() -> anyhow::Result<()> {
    let out = Command::new(std::env::current_exe()?)
        .env("BRISK_TEST_EXIT_WITHOUT_CLOSING", "1")
        .env("BRISK_LOG", "error")
        .stdin(Stdio::null())
        .output()?;
    ensure!(out.status.success(), "the program failed: {out:?}");
    let pids: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    ensure!(pids.len() == 2, "worker pids: {pids:?}");
    let t = Instant::now();
    while pids
        .iter()
        .any(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
    {
        ensure!(
            t.elapsed() < Duration::from_secs(3),
            "workers {pids:?} outlived their program by 3 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn processes_get() -> anyhow::Result<()> {
    let dsk = graph! { "a" => 1, "b" => (inc, "a"), "c" => (add, "b", "b") };
    let c: i64 = brisk::processes::get(&dsk, "c")?;
    ensure!(c == 4);
    Ok(())
}
