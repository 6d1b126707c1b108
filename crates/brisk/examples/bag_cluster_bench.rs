//! The talk's bag examples on a cluster, for `bench/compare.sh bag`: a `brisk scheduler`
//! process and 2 single-threaded worker processes on 127.0.0.1 either count the lines that
//! mention python (`filter-count`: `read_text(..).filter_func(contains("python")).count()`)
//! or count words (`wordcount`: `read_text(..).split_whitespace().frequencies()
//! .most_common(10)`), with named stages the stock workers run. Prints `seconds=<s>
//! result=<answer>`; the cluster's start is not timed.
//!
//! `cargo run --release -p brisk --example bag_cluster_bench -- PATTERN [filter-count|wordcount]`

use brisk::Collection;
use brisk::bag::{contains, read_text};

mod bench_cluster;
use bench_cluster::{BenchCluster, brisk_bin};

fn main() -> anyhow::Result<()> {
    brisk::worker::main_if_worker();
    let pattern = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bag_cluster_bench PATTERN"))?;
    let cluster = BenchCluster::start(&brisk_bin(), 2, false)?;
    let on_cluster: std::sync::Arc<dyn brisk::Scheduler> =
        std::sync::Arc::new(cluster.client.clone());
    let lines = read_text(&pattern)?;
    let case = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "filter-count".into());
    let t = std::time::Instant::now();
    let result = match case.as_str() {
        "filter-count" => brisk::with_scheduler(on_cluster, || {
            lines.filter_func(contains("python")).count().compute()
        })?
        .to_string(),
        "wordcount" => {
            let top = brisk::with_scheduler(on_cluster, || {
                lines
                    .split_whitespace()
                    .frequencies()
                    .most_common(10)
                    .compute()
            })?;
            // As bag_bench prints it: by count, then word, so that ties compare equal.
            let mut top = top;
            top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            top.iter()
                .map(|(w, c)| format!("{w}:{c}"))
                .collect::<Vec<_>>()
                .join(",")
        }
        other => anyhow::bail!("unknown case {other}: filter-count or wordcount"),
    };
    println!("seconds={:.4} result={result}", t.elapsed().as_secs_f64());
    cluster.client.shutdown();
    Ok(())
}
