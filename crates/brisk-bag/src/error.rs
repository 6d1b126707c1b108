//! The errors of bags. Record-level errors name where the record came from.

use std::fmt;
use std::sync::Arc;

use brisk_io::IoError;

/// Where a record came from: a file and a line number (1-based), when the bag reads text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file's URL.
    pub url: String,
    /// The line number in the (decompressed) file, counting from 1.
    pub line: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}", self.url, self.line)
    }
}

/// What went wrong in a bag operation.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BagError {
    /// Reading or writing storage failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A text file is not valid UTF-8.
    #[error("{url} is not valid UTF-8 at line {line}: {message}")]
    NotUtf8 {
        /// The file.
        url: String,
        /// The line number (1-based).
        line: u64,
        /// The decoder's message.
        message: String,
    },
    /// A JSON line could not be parsed.
    #[error("malformed JSON at {}: {message}", origin_text(.origin))]
    Json {
        /// Where the line is, when the bag reads text.
        origin: Option<Origin>,
        /// The parser's message.
        message: String,
    },
    /// A user function failed on one record.
    #[error("{op} failed on the record at {}: {source}", origin_text(.origin))]
    Record {
        /// The operation (`try_map`, …).
        op: &'static str,
        /// Where the record came from, when known.
        origin: Option<Origin>,
        /// The function's error.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// `pluck` found no such field or index.
    #[error("pluck: the record at {} has no field {field} (the record: {record})", origin_text(.origin))]
    MissingField {
        /// The field name or index.
        field: String,
        /// Where the record came from, when known.
        origin: Option<Origin>,
        /// The record's kind and its first characters (`an object {"b":2}`, `a number 5`).
        record: String,
    },
    /// A reduction that needs at least one record got none.
    #[error("{op} of an empty bag")]
    Empty {
        /// The operation (`min`, `max`, `mean`).
        op: &'static str,
    },
    /// An argument is out of range.
    #[error("invalid argument {name}={value}: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// Its value.
        value: String,
        /// What would be accepted.
        reason: &'static str,
    },
    /// A partition stream was consumed twice (an internal invariant).
    #[error("internal: a partition stream of {label} was consumed twice")]
    StreamReused {
        /// The operation that made the stream.
        label: &'static str,
    },
    /// Computing the bag failed.
    #[error(transparent)]
    Compute(#[from] brisk_core::Error),
}

fn origin_text(o: &Option<Origin>) -> String {
    match o {
        Some(o) => o.to_string(),
        None => "an unknown position (not read from text)".to_string(),
    }
}

impl BagError {
    /// The original bag error inside a failed computation, if the computation failed in a bag
    /// task (so that tests and callers can match on the variant).
    pub fn root(&self) -> &BagError {
        if let BagError::Compute(e) = self
            && let Some(f) = e.task_failure()
            && let Some(inner) = f.downcast_ref::<BagError>()
        {
            return inner.root();
        }
        self
    }
}
