//! The errors of the storage layer. Every variant names the URL (or pattern) at fault.

use std::sync::Arc;

/// What went wrong while finding, reading or writing data.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The text is not a URL or path this crate understands.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL's scheme has no storage backend.
    #[error(
        "unsupported URL scheme {scheme:?} in {url} (supported: local paths, file://, s3://, \
         gs://, az://, abfs://, http://, https://)"
    )]
    UnsupportedScheme {
        /// The URL as given.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The file or object does not exist.
    #[error("no such file or object: {url}")]
    NotFound {
        /// The URL that was asked for.
        url: String,
    },
    /// The bucket (or container) of an object store URL does not exist.
    #[error("bucket {bucket:?} does not exist (while accessing {url})")]
    BucketNotFound {
        /// The URL that was asked for.
        url: String,
        /// The bucket or container name.
        bucket: String,
    },
    /// The store rejected the credentials (unknown key, bad signature, expired token).
    #[error(
        "bad credentials for {url}: {message} (set them in StorageOptions or the environment, \
         e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
    )]
    BadCredentials {
        /// The URL that was asked for.
        url: String,
        /// What the store said.
        message: String,
    },
    /// The credentials are valid but not allowed to do this.
    #[error("permission denied for {url}: {message}")]
    PermissionDenied {
        /// The URL that was asked for.
        url: String,
        /// What the store said.
        message: String,
    },
    /// A glob matched nothing.
    #[error("no files match {pattern}")]
    NoMatch {
        /// The pattern as given.
        pattern: String,
    },
    /// A glob pattern could not be parsed.
    #[error("invalid glob pattern {pattern:?}: {reason}")]
    BadGlob {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The storage options could not configure a client for this URL.
    #[error("cannot configure storage for {url}: {message}")]
    Config {
        /// The URL being configured.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A local file operation failed.
    #[error("cannot {action} {url}: {source}")]
    Local {
        /// What was being done ("open", "read", "write", …).
        action: &'static str,
        /// The path or `file://` URL.
        url: String,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// An object store operation failed.
    #[error("cannot {action} {url}: {source}")]
    Store {
        /// What was being done ("read", "list", "write", …).
        action: &'static str,
        /// The URL.
        url: String,
        /// The object store's error.
        source: Arc<object_store::Error>,
    },
    /// Compressed data could not be decoded (or encoded).
    #[error("cannot {action} {url} as {compression}: {source}")]
    Compression {
        /// "decompress" or "compress".
        action: &'static str,
        /// The URL.
        url: String,
        /// The compression format.
        compression: &'static str,
        /// The codec's error.
        source: Arc<std::io::Error>,
    },
    /// A byte range was asked of a compressed file, whose bytes cannot be split.
    #[error(
        "cannot read bytes {offset}.. of {url}: it is {compression}-compressed, so it can only be \
         read whole (use blocksize None for compressed files)"
    )]
    CompressedRange {
        /// The URL.
        url: String,
        /// The requested offset.
        offset: u64,
        /// The compression format.
        compression: &'static str,
    },
    /// The name of a compression format is unknown.
    #[error("unknown compression {name:?} (known: none, infer, gzip, zstd, bz2, xz)")]
    UnknownCompression {
        /// The name as given.
        name: String,
    },
    /// The object was replaced after it was listed (or after its read began): its ETag no
    /// longer matches, so reading on would mix two versions.
    #[error(
        "{url} changed while it was being read (its ETag no longer matches the version listed \
         first); read it again"
    )]
    Changed {
        /// The URL.
        url: String,
    },
    /// A part of a multipart upload other than the last is smaller than stores accept.
    #[error(
        "cannot complete the upload of {url}: part {index} has {size} bytes, but every part but \
         the last needs at least {min} bytes (5 MiB)"
    )]
    PartTooSmall {
        /// The URL being written.
        url: String,
        /// The part's index (0-based).
        index: usize,
        /// Its size in bytes.
        size: u64,
        /// The smallest size stores accept.
        min: u64,
    },
    /// A writer was used after it failed or finished.
    #[error("the writer for {url} is already closed")]
    WriterClosed {
        /// The URL being written.
        url: String,
    },
}

impl IoError {
    /// The URL or pattern this error is about.
    pub fn url(&self) -> &str {
        match self {
            IoError::InvalidUrl { url, .. }
            | IoError::UnsupportedScheme { url, .. }
            | IoError::NotFound { url }
            | IoError::BucketNotFound { url, .. }
            | IoError::BadCredentials { url, .. }
            | IoError::PermissionDenied { url, .. }
            | IoError::Config { url, .. }
            | IoError::Local { url, .. }
            | IoError::Store { url, .. }
            | IoError::Compression { url, .. }
            | IoError::CompressedRange { url, .. }
            | IoError::Changed { url }
            | IoError::PartTooSmall { url, .. }
            | IoError::WriterClosed { url } => url,
            IoError::NoMatch { pattern } | IoError::BadGlob { pattern, .. } => pattern,
            IoError::UnknownCompression { name } => name,
        }
    }

    /// Whether the thing asked for does not exist (a missing file, object or bucket, or a glob
    /// that matched nothing).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            IoError::NotFound { .. } | IoError::BucketNotFound { .. } | IoError::NoMatch { .. }
        )
    }

    pub(crate) fn local(action: &'static str, url: impl Into<String>, e: std::io::Error) -> Self {
        let url = url.into();
        if e.kind() == std::io::ErrorKind::NotFound {
            return IoError::NotFound { url };
        }
        IoError::Local {
            action,
            url,
            source: Arc::new(e),
        }
    }

    /// A read of bytes `range` of `url` that returned `got` bytes instead.
    pub(crate) fn wrong_length(url: &str, range: std::ops::Range<u64>, got: u64) -> Self {
        IoError::local(
            "read",
            url,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "bytes {}..{} asked for, {got} returned (the object is shorter, changed, or \
                     the server ended the answer early)",
                    range.start, range.end
                ),
            ),
        )
    }

    /// Classify an object store error: missing objects and buckets and credential problems get
    /// their own variants, everything else keeps the store's error.
    pub(crate) fn store(
        action: &'static str,
        url: impl Into<String>,
        bucket: &str,
        e: object_store::Error,
    ) -> Self {
        let url = url.into();
        let text = error_chain(&e);
        if text.contains("NoSuchBucket")
            || text.contains("ContainerNotFound")
            || text.contains("bucket does not exist")
        {
            return IoError::BucketNotFound {
                url,
                bucket: bucket.to_string(),
            };
        }
        const BAD_KEYS: [&str; 7] = [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "InvalidToken",
            "ExpiredToken",
            "AuthenticationFailed",
            "InvalidClientTokenId",
            // Azure's message for a bad Shared Key signature (Azurite answers it with the code
            // AuthorizationFailure).
            "Server failed to authenticate the request",
        ];
        if let Some(code) = BAD_KEYS.iter().find(|k| text.contains(*k)) {
            return IoError::BadCredentials {
                url,
                message: format!("the store answered {code}"),
            };
        }
        match e {
            object_store::Error::NotFound { .. } => IoError::NotFound { url },
            // Brisk only sends preconditions as If-Match on reads pinned to a version.
            object_store::Error::Precondition { .. } => IoError::Changed { url },
            object_store::Error::Unauthenticated { .. } => {
                IoError::BadCredentials { url, message: text }
            }
            object_store::Error::PermissionDenied { .. } => {
                IoError::PermissionDenied { url, message: text }
            }
            other => IoError::Store {
                action,
                url,
                source: Arc::new(other),
            },
        }
    }
}

/// An error's message followed by the messages of its sources.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}
