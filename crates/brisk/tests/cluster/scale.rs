//! Scale: graphs streamed to the scheduler in bounded pieces.

use std::time::{Duration, Instant};

use anyhow::ensure;
use brisk::{Arg, Func, Graph, Key, Task, Value};

use crate::{Proc, add, connect, inc, noop, start_scheduler_with, start_self_worker};

/// A binary tree reduction over `inc(i)` for `i` in `0..n`: the graph and its root key.
pub(crate) fn tree(n: usize) -> (Graph, Key) {
    let (inc, add) = (Func::new(inc), Func::new(add));
    let mut g = Graph::with_capacity(2 * n);
    let mut level: Vec<Key> = (0..n)
        .map(|i| {
            let k = Key::from(("leaf", i));
            let _ = g.insert(
                k.clone(),
                Task::new(inc.clone(), vec![Arg::Literal(Value::from(i as i64))]),
            );
            k
        })
        .collect();
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        let name = format!("add-{depth}");
        level = level
            .chunks(2)
            .enumerate()
            .map(|(i, p)| {
                let k = Key::from((name.as_str(), i));
                let b = p
                    .get(1)
                    .map_or(Arg::Literal(Value::from(0i64)), |k| Arg::Key(k.clone()));
                let _ = g.insert(
                    k.clone(),
                    Task::new(add.clone(), vec![Arg::Key(p[0].clone()), b]),
                );
                k
            })
            .collect();
    }
    (g, level[0].clone())
}

/// A scheduler that refuses any message over 256 KiB, a client sending pieces of 16 KiB:
/// a 60,000-task map (~5 MB of tasks) and a 32,767-task tree reduction go through in pieces,
/// give the right values, and every record is released afterwards.
pub(crate) fn graphs_stream_in_pieces_under_a_small_frame_limit() -> anyhow::Result<()> {
    let limit = (256 * 1024).to_string();
    let (_s, address) = start_scheduler_with(&[], &[("BRISK_MAX_FRAME", &limit)])?;
    let _ws: Vec<Proc> = (0..2)
        .map(|i| start_self_worker(&address, &format!("piece-{i}"), None))
        .collect::<anyhow::Result<_>>()?;
    let client = connect(&address, None)?;
    client.wait_for_workers(2, Duration::from_secs(20))?;
    client.set_graph_piece_bytes(16 * 1024);

    let n = 60_000i64;
    let xs = client.map(noop, (0..n).map(|i| i * 3))?;
    let got = client.gather(&xs)?;
    let want: Vec<i64> = (0..n).map(|i| i * 3).collect();
    ensure!(got == want, "the map's values come back in order");

    let leaves = 16_384;
    let (g, root) = tree(leaves);
    let v = brisk::Scheduler::get(&client, &g, &[root], &Default::default())?;
    let want: i64 = (1..=leaves as i64).sum();
    ensure!(v[0].get::<i64>()? == want, "tree sum {:?} != {want}", v[0]);

    drop(xs);
    let t = Instant::now();
    loop {
        let info = client.scheduler_info()?;
        let held: u64 = info.tasks_by_state.iter().map(|(_, n)| n).sum();
        if held == 0 {
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(30),
            "{held} records still held"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ensure!(
        client.scheduler_info()?.workers.len() == 2,
        "no connection was dropped"
    );
    Ok(())
}
