//! A client that sends requests and never reads the answers is disconnected once more than
//! `BRISK_CLIENT_QUEUE_LIMIT` messages wait for it, instead of being buffered without bound;
//! the scheduler goes on serving everyone else.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use brisk::distributed::protocol::conn::connect;
use brisk::distributed::protocol::messages::{FromClient, Role};
use brisk::distributed::protocol::{Address, Security};

use crate::{connect as connect_client, start_scheduler_with, start_self_worker};

pub(crate) fn a_client_that_does_not_read_is_disconnected() -> anyhow::Result<()> {
    let (_s, address) = start_scheduler_with(&[], &[("BRISK_CLIENT_QUEUE_LIMIT", "2000")])?;
    let _w = start_self_worker(&address, "w", None)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sent = rt.block_on(async {
        let addr = Address::parse(&address)?;
        let mut c = connect(&addr, &Security::none(), Role::Client, "deaf").await?;
        // Snapshots asked for, answers never read: the socket's buffers fill, then the
        // scheduler's queue for this client, until it closes the connection.
        let t = Instant::now();
        let mut sent: u64 = 0;
        loop {
            let batch: Vec<FromClient> = (0..500)
                .map(|i| FromClient::Info { request: sent + i })
                .collect();
            let r = tokio::time::timeout(Duration::from_secs(5), c.writer.send_msg(&batch)).await;
            match r {
                Ok(Ok(())) => sent += 500,
                // Closed by the scheduler (or our writes block on a dead socket).
                Ok(Err(_)) | Err(_) => return anyhow::Ok(sent),
            }
            if t.elapsed() > Duration::from_secs(90) || sent > 5_000_000 {
                bail!("still connected after {sent} unread requests");
            }
        }
    })?;
    ensure!(sent >= 2000, "closed after only {sent} requests");
    // The scheduler is fine and serves a well-behaved client.
    let client = connect_client(&address, None)?;
    client.wait_for_workers(1, Duration::from_secs(20))?;
    ensure!(client.submit(crate::stock::inc, (1i64,))?.result()? == 2);
    let info = client.scheduler_info()?;
    ensure!(info.clients == 1, "the deaf client is gone: {info:?}");
    client.close();
    Ok(())
}
