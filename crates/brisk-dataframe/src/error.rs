//! The errors of brisk-dataframe. Every variant names the thing at fault: the file, the
//! column, the argument or the operation.

use std::path::PathBuf;

use polars::prelude::PolarsError;

/// Errors from building and computing partitioned dataframes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataFrameError {
    /// Polars rejected an operation (applied to the schema at build time, or to a partition).
    #[error("{operation}: {source}")]
    Polars {
        /// The operation (`"select"`, `"groupby-agg chunk"`, …).
        operation: &'static str,
        /// What Polars said.
        source: PolarsError,
    },
    /// A file could not be parsed.
    #[error("cannot read {path} (bytes {start}..{end}): {source}")]
    Parse {
        /// The file.
        path: String,
        /// The first byte of the block being read.
        start: u64,
        /// The byte after the block.
        end: u64,
        /// What the parser said.
        source: PolarsError,
    },
    /// A CSV value that does not fit its column's type.
    #[error(
        "cannot read {path}, line {line}: column {column:?} holds {value:?}, which is not \
         {dtype} (the type inferred from the first files); read the column as text with \
         ReadCsv::dtype({column:?}, DataType::String), give its type with ReadCsv::dtype, or \
         list {value:?} in ReadCsv::null_values if it means a missing value"
    )]
    BadValue {
        /// The file.
        path: String,
        /// The line (1-based, counted from the file's start, header included).
        line: usize,
        /// The column.
        column: String,
        /// The value as written.
        value: String,
        /// The column's type.
        dtype: String,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`"cannot open"`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Finding, reading or writing a file or object failed (the message names its URL: a
    /// missing file, object or bucket, rejected credentials, a pattern matching nothing, …).
    #[error(transparent)]
    Storage(#[from] brisk_io::IoError),
    /// A file's columns differ from those of the first file.
    #[error("{path} has a different schema than {first}: expected {expected}, found {found}")]
    SchemaMismatch {
        /// The file that disagrees.
        path: String,
        /// The first file, whose schema was taken.
        first: String,
        /// The first file's columns (and types, where known).
        expected: String,
        /// This file's columns (and types, where known).
        found: String,
    },
    /// A partition produced by a user function does not have the declared schema.
    #[error(
        "partition {partition} of {operation} has schema {found}, but {expected} was declared; \
         pass the right schema to map_partitions_with_schema"
    )]
    PartitionSchema {
        /// The operation.
        operation: String,
        /// The partition's index.
        partition: usize,
        /// The declared schema.
        expected: String,
        /// The partition's schema.
        found: String,
    },
    /// A column that an operation names does not exist.
    #[error("{operation}: no column named {column:?} (columns: {available})")]
    ColumnNotFound {
        /// The operation.
        operation: &'static str,
        /// The missing column.
        column: String,
        /// The columns that exist.
        available: String,
    },
    /// Two outputs of one operation would have the same name.
    #[error("{operation}: the output column {column:?} appears twice; give one an alias")]
    DuplicateColumn {
        /// The operation.
        operation: &'static str,
        /// The repeated name.
        column: String,
    },
    /// A column has a type the operation cannot handle.
    #[error("{operation}: column {column:?} has type {dtype}, which {reason}")]
    UnsupportedDtype {
        /// The operation.
        operation: &'static str,
        /// The column.
        column: String,
        /// Its type.
        dtype: String,
        /// What would be accepted.
        reason: &'static str,
    },
    /// An argument has a value that cannot be used.
    #[error("invalid {argument}: {reason}")]
    InvalidArgument {
        /// The argument (`"npartitions"`, `"blocksize"`, …).
        argument: &'static str,
        /// What would be accepted.
        reason: String,
    },
    /// The spilled pieces of a disk shuffle are gone, incomplete or from another run (for
    /// example a worker holding the run's directory was lost). Nothing is returned in place of
    /// the missing rows.
    #[error(
        "disk shuffle {layer}{}: {reason} (directory {dir}); compute the shuffle again",
        partition.map(|p| format!(", output partition {p}")).unwrap_or_default()
    )]
    ShuffleLost {
        /// The shuffle's layer.
        layer: String,
        /// The output partition, when one is at fault.
        partition: Option<usize>,
        /// The run's spill directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An expression whose answer depends on rows of other partitions, in a form Brisk cannot
    /// plan across partitions (it would otherwise be computed per partition, silently wrong).
    #[error("{operation}: {expression} {advice}")]
    NotPartitionable {
        /// The operation (`"select"`, `"with_columns"`, `"filter"`, `"groupby-agg"`).
        operation: &'static str,
        /// The sub-expression at fault.
        expression: String,
        /// Why, and what to do instead.
        advice: String,
    },
    /// Rewriting the plan (projection and predicate pushdown) failed. This is a bug in
    /// brisk-dataframe, never the user's input: the plan is not run unoptimized instead,
    /// because a half-applied rewrite could change results without notice.
    #[error(
        "optimizing the dataframe plan failed (a bug in brisk-dataframe; nothing was computed): {reason}"
    )]
    Optimize {
        /// What went wrong.
        reason: String,
    },
    /// A hive-partitioned dataset (`year=2015/month=01/…`) whose layout is inconsistent: keys
    /// differing between directories, or a partition value that clashes with the same column
    /// inside a file.
    #[error("hive partitioning: {path}: {reason}")]
    HivePartition {
        /// The file (or directory) at fault.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Computing the graph failed.
    #[error(transparent)]
    Compute(#[from] brisk_core::Error),
}

impl DataFrameError {
    /// A Polars error raised by `operation`.
    pub(crate) fn polars(operation: &'static str) -> impl FnOnce(PolarsError) -> Self {
        move |source| DataFrameError::Polars { operation, source }
    }

    /// An I/O error about `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| DataFrameError::Io {
            action,
            path,
            source,
        }
    }

    /// An invalid argument.
    pub(crate) fn invalid(argument: &'static str, reason: impl Into<String>) -> Self {
        DataFrameError::InvalidArgument {
            argument,
            reason: reason.into(),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = DataFrameError> = std::result::Result<T, E>;
