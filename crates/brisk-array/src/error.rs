//! The errors of array construction and computation. Every variant names the thing at fault.

use std::path::PathBuf;
use std::sync::Arc;

use crate::dtype::DType;

/// Why an array operation was refused or a computation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ArrayError {
    /// Two shapes cannot be broadcast together (numpy's rule: trailing axes equal or 1).
    #[error("{op}: operands could not be broadcast together with shapes {} and {}", fmt_shape(.left), fmt_shape(.right))]
    Broadcast {
        /// The operation.
        op: &'static str,
        /// The left operand's shape.
        left: Vec<usize>,
        /// The right operand's shape.
        right: Vec<usize>,
    },
    /// Shapes that must be equal are not.
    #[error("{op}: shape {} does not match {}", fmt_shape(.expected), fmt_shape(.found))]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// The shape that was required.
        expected: Vec<usize>,
        /// The shape that was given.
        found: Vec<usize>,
    },
    /// An axis number is not in `-ndim..ndim`.
    #[error("{op}: axis {axis} is out of range for an array of {ndim} dimension(s)")]
    AxisOutOfRange {
        /// The operation.
        op: &'static str,
        /// The axis given.
        axis: isize,
        /// The array's number of dimensions.
        ndim: usize,
    },
    /// An axis was named twice.
    #[error("{op}: axis {axis} is given more than once")]
    DuplicateAxis {
        /// The operation.
        op: &'static str,
        /// The repeated axis.
        axis: usize,
    },
    /// Data of one element type was read as another.
    #[error(
        "{what} holds {found} values, not {expected}; read it with the matching type (or convert with astype after reading)"
    )]
    WrongDType {
        /// What was read.
        what: String,
        /// The type asked for.
        expected: DType,
        /// The type found.
        found: DType,
    },
    /// Explicit chunk sizes do not add up to the axis length.
    #[error("chunks along axis {axis} add up to {sum}, but the axis has length {dim}")]
    ChunksDoNotAddUp {
        /// The axis.
        axis: usize,
        /// The sum of the chunk sizes given.
        sum: usize,
        /// The axis length.
        dim: usize,
    },
    /// A chunk specification cannot be used.
    #[error("invalid chunks along axis {axis}: {reason}")]
    BadChunks {
        /// The axis.
        axis: usize,
        /// What is wrong.
        reason: String,
    },
    /// A chunk specification names a different number of axes than the array has.
    #[error("chunks name {given} axes but the array has {ndim}")]
    ChunksNdim {
        /// Axes in the chunk specification.
        given: usize,
        /// Axes of the array.
        ndim: usize,
    },
    /// The operation needs chunk sizes that are not known yet (after a boolean mask).
    #[error(
        "{op} needs known chunk sizes, but axis {axis} has unknown chunk sizes (after boolean indexing); call compute_chunk_sizes() first"
    )]
    UnknownChunkSizes {
        /// The operation.
        op: &'static str,
        /// The axis with unknown sizes.
        axis: usize,
    },
    /// An elementwise operation on two arrays whose chunk sizes along an axis are unknown and
    /// not provably the same (they do not come from the same mask of the same chunking).
    #[error(
        "{op}: the chunk sizes of `{left}` and `{right}` along axis {axis} are unknown (after boolean indexing) and may not line up; call compute_chunk_sizes() on both arrays first"
    )]
    UnknownChunksMismatch {
        /// The operation.
        op: &'static str,
        /// The output axis.
        axis: usize,
        /// The first array's name.
        left: String,
        /// The second array's name.
        right: String,
    },
    /// A shape with more elements, or bytes, than this machine can address.
    #[error("an array of shape {} has more {unit} than this machine can address", fmt_shape(.shape))]
    SizeOverflow {
        /// The shape asked for.
        shape: Vec<usize>,
        /// `elements` or `bytes`.
        unit: &'static str,
    },
    /// A chunk grid too large to build (one key per chunk).
    #[error(
        "chunks of an array of shape {} would make {chunks} chunks, more than the limit of {limit}; use larger chunks",
        fmt_shape(.shape)
    )]
    TooManyChunks {
        /// The array's shape.
        shape: Vec<usize>,
        /// How many chunks the chunk sizes given would make.
        chunks: u128,
        /// [`crate::MAX_CHUNKS`].
        limit: usize,
    },
    /// An index is outside the axis.
    #[error("index {index} is out of bounds for axis {axis} with size {dim}")]
    IndexOutOfRange {
        /// The axis.
        axis: usize,
        /// The index given.
        index: isize,
        /// The axis length.
        dim: usize,
    },
    /// More indices than axes.
    #[error("too many indices: the array has {ndim} dimension(s) but {given} were indexed")]
    TooManyIndices {
        /// Axes of the array.
        ndim: usize,
        /// Indices given (not counting new axes).
        given: usize,
    },
    /// An argument has a value that cannot be used.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// A reduction over no elements that has no identity (`min`, `max`, `argmin`, …).
    #[error("zero-size array to reduction operation {op} which has no identity")]
    EmptyReduction {
        /// The reduction.
        op: &'static str,
    },
    /// `nanargmin`/`nanargmax` over a slice that holds only NaN.
    #[error("{op}: All-NaN slice encountered")]
    AllNan {
        /// The reduction.
        op: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// A file's contents are not what the format requires.
    #[error("{path} is not a valid {format} file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The format (`.npy`, HDF5, Zarr).
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An error from a storage library (HDF5, Zarr) or a user's chunk source.
    #[error("{context}: {source}")]
    Storage {
        /// Which file, dataset or source.
        context: String,
        /// The library's error.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// Finding, reading or writing a file or object through brisk-io failed (the error names
    /// the URL).
    #[error(transparent)]
    Url(#[from] brisk_io::IoError),
    /// A format that needs a local file was given an object store URL.
    #[error(
        "{format} files can only be read and written on the local filesystem ({url} is not \
         local); copy it to a local file first, or use .npy or Zarr for object stores"
    )]
    NotLocal {
        /// The format.
        format: &'static str,
        /// The URL as given.
        url: String,
    },
    /// A format whose support is a cargo feature that this build left out.
    #[error(
        "{what} needs the `{feature}` cargo feature, which this build leaves out: enable it \
         (`brisk = {{ version = \"…\", features = [\"{feature}\"] }}`, or `brisk-array`'s \
         `{feature}` feature){needs}"
    )]
    FeatureDisabled {
        /// The cargo feature.
        feature: &'static str,
        /// What was asked for.
        what: &'static str,
        /// What the feature needs on the machine, as a sentence tail (may be empty).
        needs: &'static str,
    },
    /// Computing failed (a task failed, or no scheduler is available).
    #[error(transparent)]
    Compute(#[from] brisk_core::Error),
}

impl ArrayError {
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        ArrayError::InvalidArgument {
            what,
            reason: reason.into(),
        }
    }

    #[allow(dead_code)]
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, e: std::io::Error) -> Self {
        ArrayError::Io {
            action,
            path: path.into(),
            source: Arc::new(e),
        }
    }

    #[allow(dead_code)]
    pub(crate) fn storage(
        context: impl Into<String>,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ArrayError::Storage {
            context: context.into(),
            source: Arc::new(e),
        }
    }
}

impl From<ArrayError> for brisk_core::Error {
    fn from(e: ArrayError) -> Self {
        match e {
            ArrayError::Compute(inner) => inner,
            other => brisk_core::Error::Collection {
                collection: "array",
                source: Arc::new(other),
            },
        }
    }
}

impl From<ArrayError> for brisk_core::TaskFailure {
    fn from(e: ArrayError) -> Self {
        brisk_core::TaskFailure::from_error(Box::new(e))
    }
}

/// A shape as numpy prints it: `(3, 4)`, `(5,)`, `()`.
pub fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [a] => format!("({},)", fmt_dim(*a)),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| fmt_dim(*d))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn fmt_dim(d: usize) -> String {
    if d == crate::chunks::UNKNOWN {
        "nan".to_string()
    } else {
        d.to_string()
    }
}

/// Results of array operations.
pub type Result<T, E = ArrayError> = std::result::Result<T, E>;
