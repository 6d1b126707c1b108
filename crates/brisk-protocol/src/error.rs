//! The protocol's errors: each names what went wrong and with whom.

use std::sync::Arc;

/// Errors from framing, encoding, connecting and handshaking.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame announced a size above the limit.
    #[error("a frame announced {what} of {got} bytes, above the limit of {limit} bytes")]
    FrameTooLarge {
        /// Which part was too large.
        what: &'static str,
        /// The announced size.
        got: u64,
        /// The limit.
        limit: u64,
    },
    /// A message header could not be decoded.
    #[error("malformed message: {message}")]
    Malformed {
        /// What the decoder said.
        message: String,
    },
    /// A message could not be encoded.
    #[error("cannot encode a message: {message}")]
    Encode {
        /// What the encoder said.
        message: String,
    },
    /// The other side is not speaking Brisk.
    #[error("{peer} is not a Brisk endpoint (it sent {got:02x?} instead of the Brisk preamble)")]
    NotBrisk {
        /// The other side.
        peer: String,
        /// The first bytes it sent.
        got: Vec<u8>,
    },
    /// The two sides speak different protocol versions.
    #[error(
        "protocol version mismatch with {peer}: this program speaks version {ours}, the other \
         side speaks version {theirs}; run the same Brisk version everywhere"
    )]
    VersionMismatch {
        /// The other side.
        peer: String,
        /// This program's version.
        ours: u32,
        /// The other side's version.
        theirs: u32,
    },
    /// The other side refused the connection.
    #[error("{peer} rejected the connection: {reason}")]
    Rejected {
        /// The other side.
        peer: String,
        /// Why.
        reason: String,
    },
    /// The other side closed the connection.
    #[error("connection to {peer} closed")]
    Closed {
        /// The other side.
        peer: String,
    },
    /// The handshake did not finish in time.
    #[error("{peer} did not finish the handshake within {seconds} s")]
    HandshakeTimeout {
        /// The other side.
        peer: String,
        /// The timeout.
        seconds: u64,
    },
    /// An address could not be parsed.
    #[error("invalid address {address:?}: {reason}")]
    BadAddress {
        /// The text.
        address: String,
        /// What would be accepted.
        reason: &'static str,
    },
    /// Loading TLS files or setting up TLS failed.
    #[error("TLS: {message}")]
    Tls {
        /// What went wrong, naming the file.
        message: String,
    },
    /// A TLS address was used without TLS files, or the other way around.
    #[error("{message}")]
    SecurityMismatch {
        /// What to do about it.
        message: String,
    },
    /// A listener would be reachable from other machines with no credential.
    #[error(
        "refusing to listen on {host} for {what} with no token and no TLS: anyone who can reach \
         it could read data, run tasks and stop the cluster. Give the cluster's token \
         (BRISK_TOKEN or --token-file; `brisk scheduler` makes one when it has none), TLS files \
         (--tls-ca, --tls-cert, --tls-key), listen on 127.0.0.1, or pass --insecure to accept \
         the risk"
    )]
    Insecure {
        /// Which listener.
        what: String,
        /// The host it would listen on.
        host: String,
    },
    /// An I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// No in-process scheduler is linked into this program.
    #[error(
        "no in-process scheduler is linked into this program: depend on the `brisk` crate (or \
         `brisk-scheduler`) to start a local cluster"
    )]
    NoLauncher,
}

impl ProtocolError {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ProtocolError::Io {
            context: context.into(),
            source: Arc::new(source),
        }
    }

    /// Whether the error means the connection is gone (rather than misbehaving).
    pub fn is_disconnect(&self) -> bool {
        match self {
            ProtocolError::Closed { .. } => true,
            ProtocolError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }
}
