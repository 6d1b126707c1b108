//! The worker's errors.

use std::path::PathBuf;
use std::sync::Arc;

use brisk_core::Key;

/// Errors of a worker.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// Talking to the scheduler or a peer failed.
    #[error(transparent)]
    Protocol(#[from] brisk_protocol::ProtocolError),
    /// A value could not be encoded or decoded.
    #[error("value of {key}: {source}")]
    Codec {
        /// Its key.
        key: Key,
        /// The codec's error.
        source: brisk_core::CodecError,
    },
    /// Spilling to or reading from disk failed.
    #[error("spill file {path}: {source}")]
    Spill {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// An option has a value that cannot be used.
    #[error("invalid {name} {value:?}: {reason}")]
    BadOption {
        /// The option.
        name: &'static str,
        /// Its value.
        value: String,
        /// What would be accepted.
        reason: &'static str,
    },
    /// The scheduler stayed unreachable.
    #[error("the scheduler at {address} could not be reached for {seconds} s: {last}")]
    SchedulerGone {
        /// Its address.
        address: String,
        /// How long the worker tried.
        seconds: u64,
        /// The last error.
        last: String,
    },
}
