//! What can go wrong while starting, scaling or stopping a cluster.

/// A deployment error: names the host, process or option at fault.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    /// Talking to the scheduler failed.
    #[error(transparent)]
    Protocol(#[from] brisk_protocol::ProtocolError),
    /// A process could not start.
    #[error("cannot start {what}: {message}")]
    Start {
        /// Which process (`the scheduler`, `worker ssh-1 on host-b`, …).
        what: String,
        /// Why, and what to do.
        message: String,
    },
    /// Something did not happen in time.
    #[error("{what} did not happen within {seconds:.1} s: {message}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it was awaited.
        seconds: f64,
        /// What is known.
        message: String,
    },
    /// An option or argument is invalid.
    #[error("invalid {name} {value:?}: {reason}")]
    BadOption {
        /// The option.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is expected.
        reason: String,
    },
    /// Workers could not retire (no other worker to take their values, or they are unknown).
    #[error("cannot retire {workers:?}: {reason}")]
    Retire {
        /// The workers.
        workers: Vec<String>,
        /// Why.
        reason: String,
    },
    /// The cluster is closed.
    #[error("the cluster is closed")]
    Closed,
}

impl DeployError {
    pub(crate) fn start(what: impl Into<String>, message: impl Into<String>) -> Self {
        DeployError::Start {
            what: what.into(),
            message: message.into(),
        }
    }
}
