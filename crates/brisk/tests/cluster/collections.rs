//! The talk's collection examples on a real cluster: array graphs cross the process boundary
//! through their named kernels and value codecs, and come back equal to a local run.

use std::sync::Arc;

use anyhow::ensure;
use brisk::array::{self as da, ReduceOpts};
use brisk::{Client, Collection, LocalOptions, LocalScheduler};

pub(crate) fn the_talks_array_examples_on_a_cluster() -> anyhow::Result<()> {
    let mut o = LocalOptions::new(2);
    o.set_as_default = false;
    let client = Client::local_with(o)?;
    let cluster: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());

    // (arange(n, chunks) + 1).sum(): a tree reduction whose chunks live on both workers.
    let x = da::arange(1e7, 5e5)?;
    let res = (&x + 1).sum();
    let got = brisk::with_scheduler(cluster.clone(), || res.compute())?;
    ensure!(got == 50_000_005_000_000, "sum on the cluster: {got}");

    // x - x.mean(axis=1, keepdims=True) over random data: arrays travel between workers
    // (the row means are a reduction across chunks) and back to the client.
    let x = da::RandomState::new(7).normal(0.0, 1.0, [400, 600], [100, 150])?;
    let centered = &x - &x.mean_with(&ReduceOpts::axis(1).keepdims(true))?;
    let remote = brisk::with_scheduler(cluster.clone(), || centered.compute())?;
    let local = brisk::with_scheduler(Arc::new(LocalScheduler::threaded()), || centered.compute())?;
    ensure!(remote.shape() == [400, 600], "shape {:?}", remote.shape());
    let worst = remote
        .iter()
        .zip(local.iter())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    ensure!(worst == 0.0, "cluster and local results differ by {worst}");

    // persist on the cluster keeps the chunks there; later work builds on them.
    let kept = brisk::with_scheduler(cluster, || -> anyhow::Result<f64> {
        let p = x.persist()?;
        Ok((&p * 2.0).sum().compute()?)
    })?;
    let want = brisk::with_scheduler(Arc::new(LocalScheduler::threaded()), || {
        (&x * 2.0).sum().compute()
    })?;
    ensure!(
        (kept - want).abs() <= 1e-9 * want.abs().max(1.0),
        "persisted sum {kept} vs local {want}"
    );
    client.shutdown();
    Ok(())
}

/// A user's own block function (`#[brisk::func]`) in `map_blocks`, `map_overlap` and
/// `blockwise` runs on the cluster's workers (processes of this test binary) and gives what a
/// local run gives; a closure gives the promised error naming `#[brisk::func]`, not a hang.
pub(crate) fn user_functions_in_map_blocks_on_a_cluster() -> anyhow::Result<()> {
    let mut o = LocalOptions::new(2);
    o.set_as_default = false;
    let client = Client::local_with(o)?;
    let cluster: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());
    let x = da::RandomState::new(3).random([300, 200], [100, 50])?;
    let y = x.map_blocks(clipped_square)?.sum();
    let remote = brisk::with_scheduler(cluster.clone(), || y.compute())?;
    let local = brisk::with_scheduler(Arc::new(LocalScheduler::threaded()), || y.compute())?;
    ensure!(remote == local, "cluster {remote} vs local {local}");

    // A stencil with the user's function on the extended blocks.
    let smooth = x
        .map_overlap(&[1, 1], da::Boundary::Reflect, clipped_square)?
        .sum();
    let remote = brisk::with_scheduler(cluster.clone(), || smooth.compute())?;
    let local = brisk::with_scheduler(Arc::new(LocalScheduler::threaded()), || smooth.compute())?;
    ensure!(
        remote == local,
        "map_overlap: cluster {remote} vs local {local}"
    );

    // blockwise with the user's function of every array's block (chunks lined up first).
    let w = da::RandomState::new(4).random([300, 200], [150, 40])?;
    let mixed = da::blockwise(&[&x, &w], weighted_mix)?.sum();
    let remote = brisk::with_scheduler(cluster.clone(), || mixed.compute())?;
    let local = brisk::with_scheduler(Arc::new(LocalScheduler::threaded()), || mixed.compute())?;
    ensure!(
        remote == local,
        "blockwise: cluster {remote} vs local {local}"
    );

    let closure = x.map_blocks(|b| b.mapv(|v| v * 3.0))?.sum();
    match brisk::with_scheduler(cluster, || closure.compute()) {
        Err(e) => ensure!(
            e.to_string().contains("#[brisk::func]"),
            "the error does not say how to fix it: {e}"
        ),
        Ok(v) => anyhow::bail!("a closure ran on the cluster: {v}"),
    }
    client.shutdown();
    Ok(())
}

#[brisk::func]
fn clipped_square(block: &ndarray::ArrayD<f64>) -> ndarray::ArrayD<f64> {
    block.mapv(|v| (v * v).min(0.5))
}

/// A user's blockwise function: `0.3 a + 0.7 b` of the blocks of two arrays.
#[brisk::func]
fn weighted_mix(blocks: &[&ndarray::ArrayD<f64>]) -> ndarray::ArrayD<f64> {
    let shape = blocks.first().map_or(ndarray::IxDyn(&[0]), |b| b.raw_dim());
    let mut out = ndarray::ArrayD::zeros(shape);
    for (b, w) in blocks.iter().zip([0.3, 0.7]) {
        out.scaled_add(w, *b);
    }
    out
}

/// Dataframe shuffles on a real cluster: a disk-shuffle sort and join, and a groupby, equal to
/// a local run; the disk shuffle's run directory is removed once the run is done, and copies of
/// its value on other workers do not remove it early.
pub(crate) fn dataframe_shuffles_on_a_cluster() -> anyhow::Result<()> {
    #[cfg(feature = "dataframe")]
    {
        use brisk::dataframe::polars::prelude::*;
        use brisk::dataframe::{self as dd, How, JoinOptions, ShuffleMethod};

        let tmp = tempfile::tempdir()?;
        dd::set_temporary_directory(Some(tmp.path().to_path_buf()));
        let mut o = LocalOptions::new(2);
        o.set_as_default = false;
        let client = Client::local_with(o)?;
        let cluster: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());
        let local: Arc<dyn brisk::Scheduler> = Arc::new(LocalScheduler::threaded());

        let n = 20_000i64;
        let data = df!(
            "user_id" => (0..n).map(|i| (i * 7919) % 1000).collect::<Vec<_>>(),
            "value" => (0..n).map(|i| ((i * 31) % 977) as f64 / 7.0).collect::<Vec<_>>(),
        )?;
        let users = df!(
            "user_id" => (0..1000i64).collect::<Vec<_>>(),
            "group" => (0..1000i64).map(|i| i % 13).collect::<Vec<_>>(),
        )?;
        let df = dd::DataFrame::from_polars(data, 8)?;
        let sorted =
            df.sort_values_with(vec!["value".into()], vec![false], true, ShuffleMethod::Disk)?;
        let joined = df.join_with(
            &dd::DataFrame::from_polars(users, 5)?,
            JoinOptions::new("user_id", "user_id", How::Inner).shuffle_method(ShuffleMethod::Disk),
        )?;
        let means = joined.groupby("group").agg(vec![dd::Agg::mean("value")])?;
        for (what, frame) in [("sort", &sorted), ("join", &joined), ("groupby", &means)] {
            let remote = brisk::with_scheduler(cluster.clone(), || frame.compute())?;
            let here = brisk::with_scheduler(local.clone(), || frame.compute())?;
            let key: Vec<&str> = match what {
                "groupby" => vec!["group"],
                _ => vec!["user_id", "value"],
            };
            let (remote, here) = if what == "sort" {
                (remote, here)
            } else {
                (
                    remote.sort(key.clone(), Default::default())?,
                    here.sort(key, Default::default())?,
                )
            };
            ensure!(remote.height() > 0, "{what}: no rows");
            if what == "groupby" {
                // Partial sums arrive in a different order: equal up to rounding.
                let (a, b) = (remote.column("value")?.f64()?, here.column("value")?.f64()?);
                let worst = a
                    .into_no_null_iter()
                    .zip(b.into_no_null_iter())
                    .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
                ensure!(
                    remote.column("group")?.equals(here.column("group")?) && worst < 1e-9,
                    "{what}: cluster {remote} vs local {here}"
                );
                continue;
            }
            ensure!(
                remote.equals_missing(&here),
                "{what}: cluster {remote} vs local {here}"
            );
        }
        // The owner of each run's directory removes it once the run is done (workers release
        // keys shortly after the result arrives).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let left: Vec<_> = std::fs::read_dir(tmp.path())?.collect();
            if left.is_empty() {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "spill directories left behind: {left:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        dd::set_temporary_directory(None);
        client.shutdown();
    }
    Ok(())
}

/// The talk's bag example on a cluster. On stock `brisk scheduler` + two stock `brisk
/// worker` processes (built-in stages only): `read_text(..).filter_func(contains("python"))
/// .count()`, a plain count, the word count, numeric reductions, and JSON lines through
/// `read_json(..).pluck(..).distinct()` and `pluck_or`, `random_sample`, `take` and
/// `to_textfiles` (the workers write the files). On a local cluster of this binary: `filter`,
/// `flat_map`, `topk_by`, `map_partitions`, `foldby`, `groupby`, `fold` and `try_map` with
/// the user's own `#[brisk::func]` functions. Each equal to a local run; a closure sent to the
/// cluster is the promised error naming `#[brisk::func]`.
pub(crate) fn the_talks_bag_example_on_a_cluster() -> anyhow::Result<()> {
    #[cfg(feature = "bag")]
    {
        use std::process::{Command, Stdio};
        use std::time::Duration;

        use brisk::bag::{contains, read_text};

        let dir = tempfile::tempdir()?;
        for f in 0..6 {
            let text: String = (0..2000)
                .map(|i| {
                    let lang = ["python", "rust", "julia", "go"][(f * 7 + i) % 4];
                    format!("{f}-{i} {lang} job finished\n")
                })
                .collect();
            std::fs::write(dir.path().join(format!("log-{f}.txt")), text)?;
        }
        let pattern = format!("{}/log-*.txt", dir.path().display());
        let lines = read_text(&pattern)?;
        let local: Arc<dyn brisk::Scheduler> = Arc::new(LocalScheduler::threaded());
        let want_python = brisk::with_scheduler(local.clone(), || {
            lines.filter(|l| l.contains("python")).count().compute()
        })?;
        let want_all = 6 * 2000;
        ensure!(want_python == 3000, "local count {want_python}");

        // Stock processes.
        let (_s, address) = crate::start_scheduler(&[])?;
        let mut workers = Vec::new();
        for i in 0..2 {
            workers.push(crate::Proc(
                Command::new(crate::brisk_bin())
                    .args([
                        "worker",
                        &address,
                        "--nthreads",
                        "1",
                        "--name",
                        &format!("bag-{i}"),
                    ])
                    .args(["--listen-host", "127.0.0.1"])
                    .stdin(Stdio::null())
                    .spawn()?,
            ));
        }
        let client = crate::connect(&address, None)?;
        client.wait_for_workers(2, Duration::from_secs(20))?;
        let stock: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());
        let python = brisk::with_scheduler(stock.clone(), || {
            lines.filter_func(contains("python")).count().compute()
        })?;
        ensure!(
            python == want_python,
            "stock cluster counted {python}, local {want_python}"
        );
        let all = brisk::with_scheduler(stock.clone(), || lines.count().compute())?;
        ensure!(all == want_all, "stock cluster counted {all} lines");
        // The word count, built-in stages only: every task runs on the stock workers.
        let sorted = |mut v: Vec<(String, u64)>| {
            v.sort();
            v
        };
        let want_words = sorted(brisk::with_scheduler(local.clone(), || {
            lines
                .split_whitespace()
                .frequencies()
                .topk_by(6, |(_, n)| *n)
                .compute()
        })?);
        ensure!(
            want_words.iter().map(|w| w.1).sum::<u64>() == 2 * 12_000 + 4 * 3_000,
            "local word count {want_words:?}"
        );
        let words = brisk::with_scheduler(stock.clone(), || {
            lines
                .split_whitespace()
                .lower()
                .frequencies()
                .most_common(6)
                .compute()
        })?;
        ensure!(
            sorted(words.clone()) == want_words,
            "stock cluster's word count {words:?}, local {want_words:?}"
        );
        ensure!(
            words[0].1 == 12_000 && words[5].1 == 3_000,
            "most_common is not in order: {words:?}"
        );
        let stored = brisk::with_scheduler(stock.clone(), || lines.trim().compute())?;
        ensure!(
            stored.len() == want_all as usize,
            "{} lines back",
            stored.len()
        );
        // Numeric reductions of built-in records, on the stock workers too.
        let nums = brisk::bag::range(10_000, 7);
        let (sum, mean, max) = brisk::with_scheduler(stock.clone(), || {
            anyhow::Ok((
                nums.sum().compute()?,
                nums.mean().compute()?,
                nums.max().compute()?,
            ))
        })?;
        ensure!(
            sum == 49_995_000 && (mean - 4_999.5).abs() < 1e-9 && max == 9_999,
            "stock cluster reductions: sum {sum}, mean {mean}, max {max}"
        );
        // JSON lines: read_json, pluck, pluck_or and distinct are built-in kernels too.
        for f in 0..3 {
            let text: String = (0..700)
                .map(|i| {
                    let amount = if i % 3 == 0 {
                        format!(", \"amount\": {i}")
                    } else {
                        String::new()
                    };
                    format!("{{\"user\": \"u{}\"{amount}}}\n", (f * 5 + i) % 11)
                })
                .collect();
            std::fs::write(dir.path().join(format!("rec-{f}.json")), text)?;
        }
        let records = brisk::bag::read_json(&format!("{}/rec-*.json", dir.path().display()))?;
        let users = records.pluck("user").distinct();
        let amounts = records.pluck_or("amount", serde_json::json!(-1));
        let want_users = brisk::with_scheduler(local.clone(), || users.compute())?;
        let want_amounts = brisk::with_scheduler(local.clone(), || amounts.compute())?;
        ensure!(
            want_users.len() == 11,
            "local distinct users {want_users:?}"
        );
        let got_users = brisk::with_scheduler(stock.clone(), || users.compute())?;
        ensure!(
            got_users == want_users,
            "stock cluster's distinct users {got_users:?}, local {want_users:?}"
        );
        let got_amounts = brisk::with_scheduler(stock.clone(), || amounts.compute())?;
        ensure!(
            got_amounts == want_amounts && got_amounts.len() == 2100,
            "stock cluster's pluck_or: {} values",
            got_amounts.len()
        );
        match brisk::with_scheduler(stock.clone(), || records.pluck("amount").count().compute()) {
            Err(e) => ensure!(
                e.to_string().contains("no field \"amount\"") && e.to_string().contains("line 2"),
                "unhelpful pluck error: {e}"
            ),
            Ok(n) => anyhow::bail!("pluck of a missing field counted {n}"),
        }
        // random_sample, take and to_textfiles are built-in kernels too: the same sample as a
        // local run (the seed is a literal), and each stock worker writes the partitions it
        // computes.
        let sample = lines.random_sample(0.01, Some(3))?;
        let want_sample = brisk::with_scheduler(local.clone(), || sample.compute())?;
        let got_sample = brisk::with_scheduler(stock.clone(), || sample.compute())?;
        ensure!(
            got_sample == want_sample && !want_sample.is_empty(),
            "stock cluster's sample has {} lines, local {}",
            got_sample.len(),
            want_sample.len()
        );
        let first = brisk::with_scheduler(stock.clone(), || lines.take(5))?;
        ensure!(
            first == brisk::with_scheduler(local.clone(), || lines.take(5))?,
            "stock cluster's take(5): {first:?}"
        );
        let out = format!("{}/out/rust-*.txt.gz", dir.path().display());
        let urls = brisk::with_scheduler(stock.clone(), || {
            lines.filter_func(contains("rust")).to_textfiles(&out)
        })?;
        ensure!(urls.len() == 6, "to_textfiles wrote {urls:?}");
        let written_bag = read_text(&out)?;
        let written = brisk::with_scheduler(local.clone(), || written_bag.compute())?;
        ensure!(
            written.len() == 3000 && written.iter().all(|l| l.contains("rust")),
            "the stock workers wrote {} lines",
            written.len()
        );
        // A closure cannot travel: an error that says how to fix it, not a hang.
        match brisk::with_scheduler(stock, || {
            lines.filter(|l| l.contains("rust")).count().compute()
        }) {
            Err(e) => ensure!(
                e.to_string().contains("brisk::func"),
                "unhelpful error: {e}"
            ),
            Ok(n) => anyhow::bail!("a closure ran on the stock cluster: {n}"),
        }
        client.shutdown();
        drop(workers);

        // The user's own predicate on workers of this binary.
        let mut o = LocalOptions::new(2);
        o.set_as_default = false;
        let mine = Client::local_with(o)?;
        let cluster: Arc<dyn brisk::Scheduler> = Arc::new(mine.clone());
        let n = brisk::with_scheduler(cluster.clone(), || {
            lines.filter(mentions_python).count().compute()
        })?;
        ensure!(
            n == want_python,
            "user predicate on the cluster counted {n}"
        );
        // The word count with the user's own functions: flat_map, topk_by's key,
        // map_partitions.
        let words = brisk::with_scheduler(cluster.clone(), || {
            lines
                .flat_map(words_of)
                .frequencies()
                .topk_by(6, count_of)
                .compute()
        })?;
        ensure!(
            sorted(words.clone()) == want_words,
            "user word count {words:?}, local {want_words:?}"
        );
        let lengths = brisk::with_scheduler(cluster.clone(), || {
            lines.map_partitions(line_lengths).compute()
        })?;
        let want_len: u64 = (0..6)
            .flat_map(|f| (0..2000).map(move |i| (f, i)))
            .map(|(f, i)| {
                let lang = ["python", "rust", "julia", "go"][(f * 7 + i) % 4];
                format!("{f}-{i} {lang} job finished").len() as u64
            })
            .sum();
        ensure!(
            lengths.iter().sum::<u64>() == want_len && lengths.len() == want_all as usize,
            "map_partitions on the cluster: {} lengths summing to {}",
            lengths.len(),
            lengths.iter().sum::<u64>()
        );
        // foldby and groupby with the user's own functions, fold with them.
        let nums = brisk::bag::range(5_000, 9);
        let by_parity = nums.foldby(parity, 0u64, add_u64, add_u64);
        let groups = nums.groupby(parity, Some(3));
        let squares = nums.fold(0u64, add_square_u64, add_u64);
        let sorted_pairs = |mut v: Vec<(u64, u64)>| {
            v.sort();
            v
        };
        let remote = brisk::with_scheduler(cluster.clone(), || {
            anyhow::Ok((
                sorted_pairs(by_parity.compute()?),
                groups.compute()?,
                squares.compute()?,
            ))
        })?;
        let here = brisk::with_scheduler(local.clone(), || {
            anyhow::Ok((
                sorted_pairs(by_parity.compute()?),
                groups.compute()?,
                squares.compute()?,
            ))
        })?;
        ensure!(
            remote == here,
            "foldby/groupby/fold: cluster and local differ"
        );
        ensure!(
            remote.0 == [(0, 6_247_500), (1, 6_250_000)] && remote.1.len() == 2,
            "foldby on the cluster: {:?}",
            remote.0
        );
        // try_map with the user's fallible function; its error names the function and line.
        let numbers = lines.try_map(job_number);
        let remote = brisk::with_scheduler(cluster.clone(), || numbers.sum().compute())?;
        let here = brisk::with_scheduler(local.clone(), || numbers.sum().compute())?;
        ensure!(
            remote == here && here == 6 * (0..2000u64).sum::<u64>(),
            "try_map on the cluster: {remote}, local {here}"
        );
        match brisk::with_scheduler(cluster.clone(), || {
            lines
                .map(|l: String| l.replace('-', "+"))
                .try_map(job_number)
                .count()
                .compute()
        }) {
            Err(e) => ensure!(
                e.to_string().contains("brisk::func"),
                "unhelpful error: {e}"
            ),
            Ok(n) => anyhow::bail!("a closure ran on the cluster: {n}"),
        }
        let bad = brisk::bag::Bag::from_sequence(vec!["0-1 ok".to_string(), "x".to_string()], 2);
        match brisk::with_scheduler(cluster.clone(), || bad.try_map(job_number).compute()) {
            Err(e) => ensure!(
                e.to_string().contains("try_map") && e.to_string().contains("job_number"),
                "unhelpful try_map error: {e}"
            ),
            Ok(v) => anyhow::bail!("a bad line parsed: {v:?}"),
        }
        mine.shutdown();
    }
    Ok(())
}

/// A user's fallible map: the job number of a log line (`{file}-{job} ...`).
#[cfg(feature = "bag")]
#[brisk::func]
fn job_number(line: String) -> Result<u64, String> {
    let id = line.split_whitespace().next().unwrap_or_default();
    let job = id
        .split('-')
        .nth(1)
        .ok_or_else(|| format!("no job number in {line:?}"))?;
    job.parse().map_err(|e| format!("{job:?}: {e}"))
}

/// A user's foldby and groupby key: a number's parity.
#[cfg(feature = "bag")]
#[brisk::func]
fn parity(x: &u64) -> u64 {
    x % 2
}

/// A user's fold steps.
#[cfg(feature = "bag")]
#[brisk::func]
fn add_u64(a: u64, b: u64) -> u64 {
    a + b
}

/// A user's fold step: the sum of squares.
#[cfg(feature = "bag")]
#[brisk::func]
fn add_square_u64(acc: u64, x: u64) -> u64 {
    acc + x * x
}

/// A user's flat_map: the words of a line.
#[cfg(feature = "bag")]
#[brisk::func]
fn words_of(line: String) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// A user's key function: the count of a `(word, count)` record.
#[cfg(feature = "bag")]
#[brisk::func]
fn count_of(pair: &(String, u64)) -> u64 {
    pair.1
}

/// A user's map_partitions: the length of every line of a partition.
#[cfg(feature = "bag")]
#[brisk::func]
fn line_lengths(part: Vec<String>) -> Vec<u64> {
    part.iter().map(|l| l.len() as u64).collect()
}

/// A user's map: a word's length.
#[cfg(feature = "bag")]
#[brisk::func]
fn word_length(word: String) -> u64 {
    word.len() as u64
}

/// A user's bag predicate: registered, so it runs on workers of this binary.
#[cfg(feature = "bag")]
#[allow(clippy::ptr_arg)]
#[brisk::func]
fn mentions_python(line: &String) -> bool {
    line.contains("python")
}

/// A dataframe `map_partitions` with the user's own `#[brisk::func]` function runs on the
/// cluster's workers and equals a local run; with a closure it is an error naming the fix.
pub(crate) fn user_functions_in_map_partitions_on_a_cluster() -> anyhow::Result<()> {
    #[cfg(feature = "dataframe")]
    {
        use brisk::dataframe::polars::prelude::*;
        use brisk::dataframe::{self as dd};

        let data = df!(
            "user_id" => (0..5000i64).map(|i| i % 97).collect::<Vec<_>>(),
            "value" => (0..5000i64).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
        )?;
        let df = dd::DataFrame::from_polars(data, 6)?;
        let doubled = df.map_partitions("doubled", with_doubled)?;
        ensure!(
            doubled.columns().contains(&"double".to_string()),
            "schema {:?}",
            doubled.columns()
        );
        let mut o = LocalOptions::new(2);
        o.set_as_default = false;
        let client = Client::local_with(o)?;
        let cluster: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());
        let remote = brisk::with_scheduler(cluster.clone(), || doubled.compute())?;
        let here =
            brisk::with_scheduler(Arc::new(LocalScheduler::threaded()), || doubled.compute())?;
        ensure!(
            remote.equals_missing(&here),
            "cluster {remote} vs local {here}"
        );
        ensure!(remote.height() == 5000, "{} rows", remote.height());

        let closure = df.map_partitions("closure", |f: DataFrame| Ok(f))?;
        match brisk::with_scheduler(cluster, || closure.compute()) {
            Err(e) => ensure!(
                e.to_string().contains("brisk::func"),
                "unhelpful error: {e}"
            ),
            Ok(_) => anyhow::bail!("a closure ran on the cluster"),
        }
        client.shutdown();
    }
    Ok(())
}

/// A user's partition function: registered, so it runs on workers of this binary.
#[cfg(feature = "dataframe")]
#[brisk::func]
fn with_doubled(
    df: brisk::dataframe::polars::prelude::DataFrame,
) -> brisk::dataframe::polars::prelude::PolarsResult<brisk::dataframe::polars::prelude::DataFrame> {
    use brisk::dataframe::polars::prelude::*;
    df.lazy()
        .with_column((col("value") * lit(2.0)).alias("double"))
        .collect()
}

/// This process's resident memory, bytes.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `persist()` on a cluster keeps the partitions on the workers: a dataframe read there
/// (4M rows, about 96 MB parsed) and persisted is reused by two later queries, equal to a local run,
/// while the client's memory stays flat (its partitions never pass through the client);
/// dropping the persisted frame releases them on the cluster.
pub(crate) fn persisted_data_stays_on_the_workers() -> anyhow::Result<()> {
    #[cfg(feature = "dataframe")]
    {
        use brisk::dataframe::polars::prelude::*;
        use brisk::dataframe::{self as dd, Agg};

        let dir = tempfile::tempdir()?;
        for f in 0..8 {
            let mut text = String::from("user_id,value,flag\n");
            for i in 0..500_000i64 {
                let r = f * 500_000 + i;
                text.push_str(&format!("{},{}.25,{}\n", (r * 7919) % 1000, r % 977, r % 3));
            }
            std::fs::write(dir.path().join(format!("part-{f}.csv")), text)?;
        }
        let pattern = format!("{}/part-*.csv", dir.path().display());
        let mut o = LocalOptions::new(2);
        o.set_as_default = false;
        let client = Client::local_with(o)?;
        let cluster: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());
        let local: Arc<dyn brisk::Scheduler> = Arc::new(LocalScheduler::threaded());

        let df = dd::read_csv(&pattern)?;
        let queries = |frame: &dd::DataFrame| -> anyhow::Result<_> {
            let sums = frame.groupby("user_id").agg(vec![Agg::sum("value")])?;
            let f = frame.filter(col("flag").eq(lit(1)))?;
            Ok((sums, f.groupby("flag").agg(vec![Agg::count("value")])?))
        };
        // The same queries once before measuring: thread pools and buffers of the client (and
        // of the scheduler, which `Client::local` runs in this process) settle first.
        let (s0, f0) = queries(&df)?;
        brisk::with_scheduler(cluster.clone(), || -> anyhow::Result<_> {
            Ok((s0.compute()?, f0.compute()?))
        })?;
        let before = rss_bytes();
        let kept = brisk::with_scheduler(cluster.clone(), || df.persist())?;
        let after_persist = rss_bytes();
        let (sums, flagged) = queries(&kept)?;
        let (a, b) = brisk::with_scheduler(cluster.clone(), || -> anyhow::Result<_> {
            Ok((sums.compute()?, flagged.compute()?))
        })?;
        let after_queries = rss_bytes();
        let sums_here = brisk::with_scheduler(local.clone(), || -> anyhow::Result<_> {
            Ok(df
                .groupby("user_id")
                .agg(vec![Agg::sum("value")])?
                .compute()?)
        })?;
        let flagged_here = brisk::with_scheduler(local, || -> anyhow::Result<_> {
            let f = df.filter(col("flag").eq(lit(1)))?;
            Ok(f.groupby("flag")
                .agg(vec![Agg::count("value")])?
                .compute()?)
        })?;
        let sort = |f: DataFrame, k: &str| f.sort([k], Default::default());
        ensure!(
            sort(a, "user_id")?.equals_missing(&sort(sums_here, "user_id")?),
            "group sums differ between the persisted cluster frame and a local run"
        );
        ensure!(
            b.equals_missing(&flagged_here),
            "counts differ: cluster {b} vs local {flagged_here}"
        );
        // The parsed partitions are ~96 MB; the client must not have held them.
        let grew = after_queries.saturating_sub(before) as f64 / 1e6;
        println!(
            "persisted dataframe: client RSS {:.1} MB before, {:.1} MB after persist, {:.1} MB after two queries",
            before as f64 / 1e6,
            after_persist as f64 / 1e6,
            after_queries as f64 / 1e6
        );
        ensure!(
            grew < 40.0,
            "the client's memory grew by {grew:.1} MB: partitions came back through it"
        );
        // The workers hold the partitions while the persisted frame lives, and release them after.
        let held = |c: &Client| -> anyhow::Result<u32> {
            Ok(c.scheduler_info()?.workers.iter().map(|w| w.has_what).sum())
        };
        let n = kept.npartitions() as u32;
        ensure!(
            held(&client)? >= n,
            "the workers do not hold the {n} persisted partitions"
        );
        drop((kept, sums, flagged));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while held(&client)? > 0 {
            ensure!(
                std::time::Instant::now() < deadline,
                "persisted partitions never released"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        client.shutdown();
    }
    Ok(())
}

/// Writes to a real S3-compatible server (moto on 127.0.0.1) from cluster workers: an array as
/// `.npy` (multipart, parts gathered across chunks) and Zarr, and a dataframe as Parquet, read
/// back on the cluster and locally, equal to the data.
pub(crate) fn object_store_writes_from_a_cluster() -> anyhow::Result<()> {
    use brisk_test_utils::s3::MotoServer;
    let Some(server) = MotoServer::start(&["cluster"]) else {
        return Ok(());
    };
    let opts = brisk::io::StorageOptions::new()
        .s3_endpoint(&server.endpoint)
        .s3_credentials(&server.key_id, &server.secret);
    let mut o = LocalOptions::new(2);
    o.set_as_default = false;
    let client = Client::local_with(o)?;
    let cluster: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());
    let local: Arc<dyn brisk::Scheduler> = Arc::new(LocalScheduler::threaded());

    // ~13 MB of f64 in irregular chunks: more than one multipart part.
    let x = da::RandomState::new(3).uniform(
        0.0,
        1.0,
        [1300, 1300],
        vec![vec![500, 500, 300], vec![650, 650]],
    )?;
    let want = brisk::with_scheduler(local.clone(), || x.compute())?;
    let at =
        |key: &str| da::io::UrlPath::from(format!("s3://cluster/{key}")).with_options(opts.clone());
    brisk::with_scheduler(cluster.clone(), || -> anyhow::Result<()> {
        x.to_npy(at("x.npy"))?;
        x.to_zarr(at("x.zarr"))?;
        Ok(())
    })?;
    for (what, back) in [
        ("npy", da::io::npy::read::<f64>(&at("x.npy"), [400, 1300])?),
        ("zarr", da::io::zarr::read::<f64>(&at("x.zarr"), "auto")?),
    ] {
        let remote = brisk::with_scheduler(cluster.clone(), || back.compute())?;
        ensure!(remote == want, "{what} read on the cluster differs");
        let here = brisk::with_scheduler(local.clone(), || back.compute())?;
        ensure!(here == want, "{what} read locally differs");
    }

    #[cfg(feature = "dataframe")]
    {
        use brisk::dataframe::polars::prelude::*;
        use brisk::dataframe::{self as dd, ReadParquet};
        let n = 30_000i64;
        let data = df!(
            "user_id" => (0..n).map(|i| (i * 7919) % 500).collect::<Vec<_>>(),
            "value" => (0..n).map(|i| ((i * 31) % 977) as f64).collect::<Vec<_>>(),
        )?;
        let df = dd::DataFrame::from_polars(data.clone(), 6)?;
        let written = brisk::with_scheduler(cluster.clone(), || {
            df.to_parquet_with("s3://cluster/pq", opts.clone())
        })?;
        ensure!(written.len() == 6, "written {written:?}");
        let back = ReadParquet::new("s3://cluster/pq/*.parquet")
            .storage_options(opts.clone())
            .finish()?;
        let remote = brisk::with_scheduler(cluster.clone(), || back.compute())?;
        ensure!(
            remote.equals_missing(&data),
            "parquet written and read on the cluster differs"
        );
    }
    client.shutdown();
    Ok(())
}

/// A worker killed (SIGKILL) while a disk shuffle runs: the sort still returns every row in
/// order, equal to a local run — spills and the run's directory are recomputed as needed and
/// collects read each piece where its spill wrote it.
pub(crate) fn a_worker_killed_during_a_disk_shuffle() -> anyhow::Result<()> {
    #[cfg(feature = "dataframe")]
    {
        use brisk::dataframe::polars::prelude::*;
        use brisk::dataframe::{self as dd, ShuffleMethod};

        let tmp = tempfile::tempdir()?;
        dd::set_temporary_directory(Some(tmp.path().to_path_buf()));
        let mut o = LocalOptions::new(3);
        o.set_as_default = false;
        o.threads_per_worker = 1;
        let client = Client::local_with(o)?;
        let cluster: Arc<dyn brisk::Scheduler> = Arc::new(client.clone());
        let n = 400_000i64;
        let data = df!(
            "id" => (0..n).collect::<Vec<_>>(),
            "value" => (0..n).map(|i| ((i * 7919) % 100_003) as f64).collect::<Vec<_>>(),
        )?;
        let sorted = dd::DataFrame::from_polars(data, 24)?.sort_values_with(
            vec!["value".into(), "id".into()],
            vec![false, false],
            true,
            ShuffleMethod::Disk,
        )?;
        let want =
            brisk::with_scheduler(Arc::new(LocalScheduler::threaded()), || sorted.compute())?;
        let run = {
            let sorted = sorted.clone();
            let cluster = cluster.clone();
            std::thread::spawn(move || brisk::with_scheduler(cluster, || sorted.compute()))
        };
        // Kill a worker once spill files appear.
        let t = std::time::Instant::now();
        let spilled = |dir: &std::path::Path| {
            walk(dir)
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "arrow"))
        };
        while !spilled(tmp.path()) && !run.is_finished() {
            ensure!(
                t.elapsed() < std::time::Duration::from_secs(60),
                "no spill files"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let killed = !run.is_finished() && client.kill_local_worker(0);
        let got = run
            .join()
            .map_err(|_| anyhow::anyhow!("the run panicked"))??;
        ensure!(
            got.equals_missing(&want),
            "sorted on a cluster that lost a worker (killed: {killed}): {got} vs {want}"
        );
        println!("  (worker killed mid-shuffle: {killed})");
        dd::set_temporary_directory(None);
        client.shutdown();
    }
    Ok(())
}

#[cfg(feature = "dataframe")]
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
