//! The errors of the task-graph core. Every variant names the thing at fault.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::{Key, TypeMismatch};

/// Why a single task did not produce a value.
#[derive(Clone)]
pub struct TaskFailure {
    /// What kind of failure it was.
    pub kind: FailureKind,
    /// The original message (the error's `Display` with its sources, or the panic message).
    pub message: String,
    /// The original error, when the task returned one; downcast it with
    /// [`TaskFailure::downcast_ref`].
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    /// The key of the task that failed, when it ran fused inside another task.
    pub origin: Option<Key>,
}

/// The kind of a [`TaskFailure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The task's function returned an error.
    Error,
    /// The task's function panicked.
    Panic,
    /// An argument had the wrong type or the wrong count.
    BadArgument,
}

impl TaskFailure {
    /// A failure from an error the task's function returned.
    pub fn from_error(err: Box<dyn std::error::Error + Send + Sync>) -> Self {
        let mut message = err.to_string();
        let mut src = err.source();
        while let Some(s) = src {
            message.push_str(": ");
            message.push_str(&s.to_string());
            src = s.source();
        }
        TaskFailure {
            kind: FailureKind::Error,
            message,
            source: Some(Arc::from(err)),
            origin: None,
        }
    }

    /// A failure from a panic payload.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic with a non-string payload".to_string()
        };
        TaskFailure {
            kind: FailureKind::Panic,
            message,
            source: None,
            origin: None,
        }
    }

    /// A failure because an argument could not be read as the function's parameter type.
    pub fn bad_argument(message: String) -> Self {
        TaskFailure {
            kind: FailureKind::BadArgument,
            message,
            source: None,
            origin: None,
        }
    }

    /// A failure with a plain message (for kernels written against raw values).
    pub fn msg(message: impl Into<String>) -> Self {
        TaskFailure {
            kind: FailureKind::Error,
            message: message.into(),
            source: None,
            origin: None,
        }
    }

    /// The original error as a concrete type, when the task returned an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.as_deref().and_then(|e| e.downcast_ref::<E>())
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FailureKind::Panic => write!(f, "panicked: {}", self.message),
            FailureKind::Error | FailureKind::BadArgument => f.write_str(&self.message),
        }
    }
}

impl fmt::Debug for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskFailure({:?}: {})", self.kind, self.message)
    }
}

/// Encoding and decoding of values that cross a process boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The value's type has no registered encoding.
    #[error(
        "a value of type {type_name} cannot cross a process boundary: register it with \
         `brisk::data!({type_name}, serde)` (it must implement serde's Serialize and Deserialize)"
    )]
    Unregistered {
        /// The Rust type name.
        type_name: &'static str,
    },
    /// No type with this tag is registered in this program.
    #[error(
        "no value type `{tag}` is registered in this program; the sending process has it, so \
         run the same binary on both sides"
    )]
    UnknownTag {
        /// The tag from the wire.
        tag: String,
    },
    /// Encoding failed.
    #[error("cannot encode a value of type {type_name}: {message}")]
    Encode {
        /// The Rust type name.
        type_name: &'static str,
        /// What the encoder said.
        message: String,
    },
    /// Decoding failed: the bytes do not hold a value of the tagged type.
    #[error("cannot decode a value tagged `{tag}`: {message}")]
    Decode {
        /// The tag from the wire.
        tag: String,
        /// What the decoder said.
        message: String,
    },
}

/// Errors from building, validating, optimizing and running task graphs.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A task refers to a key that is not in the graph.
    #[error("task {key} needs {dependency}, which is not in the graph")]
    MissingDependency {
        /// The task whose argument is missing.
        key: Key,
        /// The missing key.
        dependency: Key,
    },
    /// The graph has a cycle; `keys` lists it in dependency order.
    #[error("the graph has a cycle: {}", cycle_text(.keys))]
    Cycle {
        /// The keys on the cycle, each depending on the next, the last on the first.
        keys: Vec<Key>,
    },
    /// A requested output key is not in the graph.
    #[error("requested key {key} is not in the graph")]
    UnknownKey {
        /// The requested key.
        key: Key,
    },
    /// A key was inserted twice.
    #[error("key {key} appears twice in the graph")]
    DuplicateKey {
        /// The repeated key.
        key: Key,
    },
    /// A task's function returned an error or panicked.
    #[error("task {key} failed: {failure}")]
    TaskFailed {
        /// The task that failed.
        key: Key,
        /// What went wrong, with the original message.
        failure: Box<TaskFailure>,
    },
    /// A task did not run because a task it depends on failed.
    #[error("task {key} did not run because {cause} failed: {failure}")]
    DependencyFailed {
        /// The task that could not run.
        key: Key,
        /// The failed task it depends on.
        cause: Key,
        /// Why `cause` failed.
        failure: Box<TaskFailure>,
    },
    /// A result was read as the wrong type.
    #[error("the value of {key} has the wrong type: {mismatch}")]
    WrongType {
        /// The key whose value was read.
        key: Key,
        /// The two types.
        mismatch: TypeMismatch,
    },
    /// A closure without a registered name was about to be sent to another process.
    #[error(
        "task {key} calls `{function}`, which has no registered name, so it cannot run in \
         another process: make the closure a named `fn` marked `#[brisk::func]` (what it \
         captures becomes leading parameters, bound with `f.with(p)`), pass that function \
         instead, and run workers of the same binary; or compute on the threaded scheduler. \
         Which operations take registered functions: docs/design/user-code.md"
    )]
    UnregisteredFunction {
        /// The task holding the closure.
        key: Key,
        /// The closure's type name.
        function: String,
    },
    /// A function name arrived that this program does not register.
    #[error(
        "function `{name}` is not registered in this program: workers must run the same \
         binary as the client (see `brisk::register!`)"
    )]
    UnknownFunction {
        /// The function's registered name.
        name: String,
    },
    /// A value could not be encoded or decoded.
    #[error("{context}: {source}")]
    Codec {
        /// Which key or message the value belonged to.
        context: String,
        /// The codec's error.
        source: CodecError,
    },
    /// No scheduler of the requested name is linked into this program.
    #[error(
        "no scheduler named `{name}` is available (known: {known}); set BRISK_SCHEDULER to one \
         of them"
    )]
    NoScheduler {
        /// The requested name.
        name: String,
        /// The names that are available.
        known: String,
    },
    /// An environment variable or option has a value that cannot be used.
    #[error("invalid {name}={value:?}: {reason}")]
    Config {
        /// The variable or option name.
        name: String,
        /// Its value.
        value: String,
        /// What would be accepted.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot write", …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// An external tool failed.
    #[error("{tool} failed for {path}: {message}")]
    Tool {
        /// The program (for example Graphviz's `dot`).
        tool: &'static str,
        /// The file being produced.
        path: PathBuf,
        /// What went wrong and what to do about it.
        message: String,
    },
    /// The computation was cancelled before it finished.
    #[error("the computation was cancelled")]
    Cancelled,
    /// A collection (array, dataframe, bag) refused an operation: a shape mismatch, an axis
    /// out of range, … `source` is the collection's own error, which names the thing at fault.
    #[error("{source}")]
    Collection {
        /// Which kind of collection (`"array"`, `"dataframe"`, …).
        collection: &'static str,
        /// The collection's error.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// An error from a scheduler implemented outside core (for example the distributed client).
    #[error("{scheduler} scheduler: {source}")]
    Scheduler {
        /// The scheduler's name.
        scheduler: String,
        /// Its error.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// The key this error is about, if any.
    pub fn key(&self) -> Option<&Key> {
        match self {
            Error::MissingDependency { key, .. }
            | Error::UnknownKey { key }
            | Error::DuplicateKey { key }
            | Error::TaskFailed { key, .. }
            | Error::DependencyFailed { key, .. }
            | Error::WrongType { key, .. }
            | Error::UnregisteredFunction { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The original task failure, if this error comes from a failed task.
    pub fn task_failure(&self) -> Option<&TaskFailure> {
        match self {
            Error::TaskFailed { failure, .. } | Error::DependencyFailed { failure, .. } => {
                Some(failure)
            }
            _ => None,
        }
    }

    /// An I/O error about `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source: Arc::new(source),
        }
    }
}

fn cycle_text(keys: &[Key]) -> String {
    let mut s = String::new();
    for k in keys {
        s.push_str(&k.to_string());
        s.push_str(" -> ");
    }
    if let Some(first) = keys.first() {
        s.push_str(&first.to_string());
    }
    s
}
