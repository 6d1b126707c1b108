//! Graceful retirement of workers: [`Client::retire_workers`].

use std::time::{Duration, Instant};

use brisk_core::Error;
use brisk_protocol::messages::FromClient;

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// Retire workers (by name or peer address) gracefully and wait until they are gone (at
    /// most `timeout`): they get no new tasks, finish what they run, and every value only they
    /// hold is copied to another worker before they exit, so no future loses its value and
    /// nothing is recomputed. Unknown workers, and workers that cannot retire because no other
    /// worker can take their values, are an error naming them.
    pub fn retire_workers(&self, workers: &[&str], timeout: Duration) -> Result<(), Error> {
        let fail = |message: String| -> Error { ClientError::Retire { message }.into() };
        let info = self.scheduler_info()?;
        let find = |n: &str, info: &brisk_protocol::messages::ClusterInfo| {
            info.workers
                .iter()
                .find(|w| w.name == n || w.address == n)
                .map(|w| w.retiring)
        };
        let unknown: Vec<&str> = workers
            .iter()
            .copied()
            .filter(|n| find(n, &info).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(fail(format!("the scheduler knows no worker {unknown:?}")));
        }
        self.inner.send(vec![FromClient::RetireWorkers {
            workers: workers.iter().map(|s| s.to_string()).collect(),
        }])?;
        let start = Instant::now();
        loop {
            // Answered after the request (one connection, in order).
            let info = self.scheduler_info()?;
            let refused: Vec<&str> = workers
                .iter()
                .copied()
                .filter(|n| find(n, &info) == Some(false))
                .collect();
            if !refused.is_empty() {
                return Err(fail(format!(
                    "{refused:?} cannot retire: no other worker can take their values"
                )));
            }
            let waiting: Vec<&str> = workers
                .iter()
                .copied()
                .filter(|n| find(n, &info).is_some())
                .collect();
            if waiting.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(fail(format!(
                    "{waiting:?} still retiring after {timeout:?} (values still being copied, \
                     or tasks still running)"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
