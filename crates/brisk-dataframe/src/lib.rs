//! # brisk-dataframe: partitioned, larger-than-memory dataframes on Polars
//!
//! A [`DataFrame`] is a lazy collection of Polars `DataFrame` partitions (dask.dataframe for
//! Rust): reading files, partition-wise Polars expressions, group-by aggregations, joins,
//! sorting and shuffles build a task graph; `compute()` runs it on the default Brisk scheduler
//! (threads, or a cluster) and returns one Polars `DataFrame`.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # for d in 1..=3 {
//! #     std::fs::write(dir.path().join(format!("2015-01-0{d}.csv")),
//! #         "user_id,value,name\n1,1.0,a\n2,2.0,b\n1,3.0,c\n").unwrap();
//! # }
//! # let _ = brisk_local::LocalScheduler::threaded();
//! use brisk_core::Collection;
//! use brisk_dataframe::{read_csv, Agg};
//! use polars::prelude::*;
//!
//! let df = read_csv(dir.path().join("2015-*-*.csv").to_str().unwrap())?;
//! // The talk's example: read_csv("2015-*-*.csv").groupby("user_id").value.mean()
//! let means = df.groupby("user_id").col("value").mean()?;
//! let out = means.compute()?;                      // a Polars DataFrame, sorted by user_id
//! assert_eq!(out.column("value")?.f64()?.get(0), Some(2.0));
//!
//! let big = df.filter(col("value").gt(lit(1.5)))?
//!     .groupby("name")
//!     .agg([Agg::sum("value"), Agg::size()])?;
//! assert_eq!(big.columns(), ["name", "value", "size"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What to expect:
//! - **Schemas are known before computing.** Readers infer them from a sample; every
//!   operation is applied to an empty frame of its input's schema, so a bad column name or
//!   type is an error when the operation is called.
//! - **No silent per-partition answers.** `select`, `with_columns` and `filter` classify
//!   every expression: elementwise ones run per partition; global aggregates
//!   (`col("x") - col("x").mean()`) come from one tree reduction broadcast back; aggregates
//!   over windows (`col("x").mean().over([col("g")])`) from a group-by joined back;
//!   `shift`/`diff`/`rolling_*` see context rows of their neighbours and `cum_*` carries from
//!   the partitions before. Anything else (`rank`, `sort` or `head` inside an expression, …)
//!   is [`DataFrameError::NotPartitionable`], naming the expression and what to do instead.
//! - **Optimized graphs.** Readers read only the columns that are used (projection pushdown),
//!   filters over Parquet skip row groups by their statistics (predicate pushdown), and
//!   consecutive partition-wise steps run as one Polars query in one task per partition.
//! - **Reductions are trees** (chunk → combine → aggregate, `split_every` at a time), with
//!   `split_out` for results with many groups. Shuffles (hash joins, `sort_values`,
//!   `set_index`) spill to disk by default, so they work on data larger than memory.
//! - **Fast paths for the common case.** CSV blocks whose read columns are integers, floats
//!   or strings are split by Brisk's own SIMD tokenizer, which looks only at the read columns
//!   (anything unusual goes to Polars' reader, so results and errors are Polars'); a
//!   group-by on one integer key with sums, means, counts, sizes, minima and maxima updates
//!   per-key states directly instead of running Polars' general group-by.
//! - **Files and objects** are read and written through `brisk-io`: local paths, `file://`,
//!   `s3://`, `gs://`, `az://` and `http(s)://` URLs, globs over any of them, and CSV/JSON
//!   compressed by extension (`.gz`, `.zst`, `.bz2`, `.xz`; such files are one partition
//!   each). Credentials and endpoints come from the environment (`AWS_ACCESS_KEY_ID`,
//!   `AWS_ENDPOINT_URL`, …) or from `storage_options` on each reader (`to_csv_with`,
//!   `to_parquet_with` for writers); a missing object or bucket is an error naming its URL.
//!   Parquet objects are fetched by byte ranges: the footer, then only the column chunks of
//!   the row groups a partition reads.
//! - **Crossing processes.** Kernels are registered functions and partitions travel as Arrow
//!   IPC; Polars expressions are serialized with Polars' serde support. `map_partitions`
//!   closures run in-process only.
//!
//! **Use mimalloc in your binary.** Polars' group-bys and joins allocate many small vectors;
//! with glibc's allocator ~30% of the CPU time of a many-group aggregation went to
//! `malloc`/`free`. A library must not choose the process's allocator, so this crate does not;
//! a binary should, as Polars' Python package does (the benchmark binary
//! `examples/bench_dataframe.rs` does):
//!
//! ```text
//! # Cargo.toml: mimalloc = { version = "0.1", default-features = false }
//! #[global_allocator]
//! static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
//! ```
//!
//! Differences from pandas/Dask worth knowing: there is no row index (`set_index` sorts by a
//! column and records divisions for it); group-by results are frames with the key columns;
//! null join keys never match (as in Polars and SQL).

mod agg;
mod aggexpr;
mod columns;
mod describe;
mod display;
mod error;
mod exprplan;
mod fastagg;
mod fastjoin;
mod frame;
mod from_graph;
mod groupby;
mod io;
mod join;
mod lower;
mod node;
mod optimize;
mod ordered;
mod partition;
mod planned;
mod quantile;
mod records;
mod reduce;
mod repartition;
mod rowkeys;
mod scalar;
mod series;
mod shuffle;
mod sort;
mod source;
mod spill;
mod steps;
#[cfg(test)]
mod test_rng;

pub use agg::{Agg, AggFunc, CustomAgg};
/// Object-store credentials and endpoints for readers' `storage_options` and writers' `_with`
/// forms (from `brisk-io`).
pub use brisk_io::StorageOptions;
pub use error::{DataFrameError, Result};
pub use frame::{DataFrame, concat};
pub use groupby::{DEFAULT_SPLIT_EVERY, GroupBy, IntoColumns, SeriesGroupBy};
pub use io::DEFAULT_BLOCKSIZE;
pub use io::csv::{ReadCsv, read_csv};
pub use io::csv_infer::DEFAULT_NULL_VALUES;
pub use io::json::{ReadJson, read_json};
pub use io::parquet::{ReadParquet, SplitRowGroups, read_parquet};
pub use io::write::{Compression, WriteParquet};
pub use join::{How, JoinOptions};
pub use node::Divisions;
pub use records::RecordsError;
pub use scalar::{FromAnyValue, Scalar};
pub use series::Series;
pub use shuffle::{ShuffleMethod, set_temporary_directory};

/// The Polars crate this one is built on (its `prelude` has `col`, `lit`, `DataType`, …).
pub use polars;
