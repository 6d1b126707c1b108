//! The client's own errors. Public APIs return [`brisk_core::Error`]; these travel inside
//! its `Scheduler { scheduler: "distributed", .. }` variant (task failures come back as
//! `TaskFailed` / `DependencyFailed`, naming the key).

use brisk_core::Key;

/// What can go wrong between a client and its cluster.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Connecting or talking to the scheduler or a worker failed.
    #[error(transparent)]
    Protocol(#[from] brisk_protocol::ProtocolError),
    /// The connection to the scheduler is gone.
    #[error("the connection to the scheduler at {address} is closed")]
    Disconnected {
        /// The scheduler.
        address: String,
    },
    /// The scheduler was reached again after a lost connection but no longer has this
    /// client's work.
    #[error("the scheduler at {address}: {message}")]
    WorkLost {
        /// The scheduler.
        address: String,
        /// What happened.
        message: String,
    },
    /// A future was cancelled.
    #[error("the future for {key} was cancelled")]
    Cancelled {
        /// Its key.
        key: Key,
    },
    /// A value held by the cluster could not be fetched from any worker.
    #[error("cannot fetch {key} from the workers holding it: {message}")]
    Gather {
        /// Its key.
        key: Key,
        /// The last error.
        message: String,
    },
    /// `Client::from_env` found no scheduler address.
    #[error(
        "{var} is not set: start the program where a deployer sets it (`brisk mpi`), or set \
         it to the scheduler's address (tcp://host:8786)"
    )]
    NoAddress {
        /// The variable.
        var: &'static str,
    },
    /// This program could not be uploaded for the workers.
    #[error("cannot upload this program for the workers: {message}")]
    Upload {
        /// Why, and what to do.
        message: String,
    },
    /// A local cluster could not start.
    #[error("cannot start a local cluster: {message}")]
    LocalCluster {
        /// What went wrong and what to do.
        message: String,
    },
    /// Workers could not retire.
    #[error("retiring workers: {message}")]
    Retire {
        /// Which workers and why.
        message: String,
    },
    /// The cluster had no workers for too long while this client waited for results.
    #[error(
        "the cluster at {address} has had no workers for {seconds} s while {key} was waiting; \
         start workers (`brisk worker {address}`), or raise BRISK_NO_WORKERS_TIMEOUT (seconds, \
         0 waits forever)"
    )]
    NoWorkers {
        /// The scheduler.
        address: String,
        /// How long there were none.
        seconds: u64,
        /// A key that was waiting.
        key: Key,
    },
    /// A value could not be encoded or decoded.
    #[error("value of {key}: {source}")]
    Codec {
        /// Its key.
        key: Key,
        /// The codec's error.
        source: brisk_core::CodecError,
    },
}

impl From<ClientError> for brisk_core::Error {
    fn from(e: ClientError) -> Self {
        brisk_core::Error::Scheduler {
            scheduler: "distributed".into(),
            source: std::sync::Arc::new(e),
        }
    }
}
