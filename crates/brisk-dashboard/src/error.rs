//! Errors of the dashboard.

use std::path::PathBuf;

/// What can go wrong serving the dashboard or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// A report file could not be written.
    #[error("cannot write the performance report {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The dashboard's port could not be opened.
    #[error("cannot serve the dashboard on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The report's data could not be encoded.
    #[error("cannot encode the report data: {0}")]
    Encode(#[from] serde_json::Error),
}
