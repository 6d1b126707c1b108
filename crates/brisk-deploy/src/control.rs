//! A deployer's own line to the scheduler: a client connection that only asks for snapshots
//! ([`FromClient::Info`]) and retirements ([`FromClient::RetireWorkers`]), so that scaling and
//! adaptivity work for every deployer without this crate depending on `brisk-client`
//! (scheduler, worker and client stay independent; the client depends on this crate).
//!
//! Blocking, on a small tokio runtime of its own; reconnects once when the connection broke.

use std::time::{Duration, Instant};

use brisk_protocol::conn::{Connection, connect};
use brisk_protocol::messages::{ClusterInfo, FromClient, Role, ToClient};
use brisk_protocol::{Address, ProtocolError, Security};

use crate::error::DeployError;

/// How long one answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A blocking control connection to a scheduler.
pub struct Control {
    /// Always `Some` until dropped (then shut down in the background: see `Drop`).
    rt: Option<tokio::runtime::Runtime>,
    address: Address,
    security: Security,
    conn: Option<Connection>,
    next: u64,
}

impl Control {
    /// A control line to the scheduler at `address` (connects on first use).
    pub fn new(address: &str, security: Security) -> Result<Control, DeployError> {
        let address = Address::parse(address)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ProtocolError::io("cannot start the control runtime", e))?;
        Ok(Control {
            rt: Some(rt),
            address,
            security,
            conn: None,
            next: 1,
        })
    }

    /// A snapshot of the cluster.
    pub fn info(&mut self) -> Result<ClusterInfo, DeployError> {
        let request = self.next;
        self.next += 1;
        match self.info_once(request) {
            Ok(i) => Ok(i),
            Err(_) => {
                // One reconnect: the scheduler may have dropped an idle line.
                self.conn = None;
                self.info_once(request)
            }
        }
    }

    fn info_once(&mut self, request: u64) -> Result<ClusterInfo, DeployError> {
        self.ensure()?;
        let Control { rt, conn, .. } = self;
        let (Some(rt), Some(c)) = (rt.as_ref(), conn.as_mut()) else {
            return Err(DeployError::Closed);
        };
        let r: Result<ClusterInfo, ProtocolError> = rt.block_on(async {
            c.writer
                .send_msg(&vec![FromClient::Info { request }])
                .await?;
            let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
            loop {
                let msgs = tokio::time::timeout_at(deadline, c.reader.recv_msg::<Vec<ToClient>>())
                    .await
                    .map_err(|_| {
                        ProtocolError::io(
                            "waiting for the scheduler's snapshot",
                            std::io::Error::from(std::io::ErrorKind::TimedOut),
                        )
                    })??;
                for m in msgs {
                    if let ToClient::Info { request: r, info } = m
                        && r == request
                    {
                        return Ok(info);
                    }
                }
            }
        });
        if r.is_err() {
            self.conn = None;
        }
        Ok(r?)
    }

    /// Retire the named workers gracefully and wait until they are gone (at most `timeout`).
    /// A worker that the scheduler does not know, or that cannot retire (no other worker to
    /// take its values), is an error naming it.
    pub fn retire(&mut self, workers: &[String], timeout: Duration) -> Result<(), DeployError> {
        if workers.is_empty() {
            return Ok(());
        }
        let known = self.info()?;
        let unknown: Vec<String> = workers
            .iter()
            .filter(|n| {
                !known
                    .workers
                    .iter()
                    .any(|w| w.name == **n || w.address == **n)
            })
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(DeployError::Retire {
                workers: unknown,
                reason: "the scheduler knows no such worker".into(),
            });
        }
        self.send(FromClient::RetireWorkers {
            workers: workers.to_vec(),
        })?;
        let start = Instant::now();
        loop {
            // Answered after the retire request (same connection, in order).
            let info = self.info()?;
            let mut waiting = Vec::new();
            let mut refused = Vec::new();
            for n in workers {
                if let Some(w) = info
                    .workers
                    .iter()
                    .find(|w| w.name == *n || w.address == *n)
                {
                    if w.retiring {
                        waiting.push(n.clone());
                    } else {
                        refused.push(n.clone());
                    }
                }
            }
            if !refused.is_empty() {
                return Err(DeployError::Retire {
                    workers: refused,
                    reason: "no other worker can take their values".into(),
                });
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(DeployError::Timeout {
                    what: format!("retiring {waiting:?}"),
                    seconds: timeout.as_secs_f64(),
                    message: "their values are still being copied or their tasks still run".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ask every worker to close and the scheduler to stop.
    pub fn shutdown(&mut self) -> Result<(), DeployError> {
        self.send(FromClient::Shutdown)
    }

    fn send(&mut self, msg: FromClient) -> Result<(), DeployError> {
        self.ensure()?;
        let Control { rt, conn, .. } = self;
        let (Some(rt), Some(c)) = (rt.as_ref(), conn.as_mut()) else {
            return Err(DeployError::Closed);
        };
        let r = rt.block_on(c.writer.send_msg(&vec![msg]));
        if r.is_err() {
            self.conn = None;
        }
        Ok(r?)
    }

    fn ensure(&mut self) -> Result<(), DeployError> {
        if self.conn.is_none() {
            let name = format!("deploy-{}", std::process::id());
            let Some(rt) = self.rt.as_ref() else {
                return Err(DeployError::Closed);
            };
            let c = rt.block_on(connect(&self.address, &self.security, Role::Client, &name))?;
            self.conn = Some(c);
        }
        Ok(())
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        // The last handle on a cluster can go away on an async thread (a client dropped by its
        // own connection task); a runtime dropped there panics, so it shuts down in the
        // background instead.
        self.conn = None;
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
