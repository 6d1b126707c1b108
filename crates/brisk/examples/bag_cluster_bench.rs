//! The talk's bag example on a cluster, for `bench/compare.sh bag`: a `brisk scheduler` process
//! and 2 single-threaded worker processes on 127.0.0.1 count the lines that mention python
//! (`read_text(..).filter_func(contains("python")).count()`, named stages the stock workers
//! run). Prints `seconds=<s> result=<count>`; the cluster's start is not timed.
//!
//! `cargo run --release -p brisk --example bag_cluster_bench -- PATTERN`

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
    let t = std::time::Instant::now();
    let n = brisk::with_scheduler(on_cluster, || {
        lines.filter_func(contains("python")).count().compute()
    })?;
    println!("seconds={:.4} result={n}", t.elapsed().as_secs_f64());
    cluster.client.shutdown();
    Ok(())
}
