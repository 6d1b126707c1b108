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
