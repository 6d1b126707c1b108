//! Clients of any deployed cluster: [`Client::new`].

use brisk_core::Error;
use brisk_deploy::Cluster;

use crate::client::{Client, ClientOptions};

impl Client {
    /// Connect to a cluster that this program deployed (a `LocalCluster`, an `SshCluster`,
    /// anything implementing [`Cluster`]), with its security, and become the default
    /// scheduler. The cluster stays the caller's: closing or dropping it stops it.
    ///
    /// ```no_run
    /// use brisk_deploy::{Cluster, LocalCluster, LocalClusterOptions};
    /// let cluster = LocalCluster::start(LocalClusterOptions::new(2))?;
    /// let client = brisk_client::Client::new(&cluster)?;
    /// cluster.scale(4)?; // or cluster.adapt(1, 8)?
    /// # drop(client);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(cluster: &impl Cluster) -> Result<Client, Error> {
        let client = Client::connect_with(
            &cluster.scheduler_address(),
            ClientOptions {
                security: cluster.security(),
                ..ClientOptions::default()
            },
        )?;
        *client.inner.dashboard.lock() = cluster.dashboard_link();
        Ok(client)
    }
}
