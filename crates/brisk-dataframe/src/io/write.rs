//! Writers: one file per partition (`to_csv`, `to_parquet`), written by tasks in parallel;
//! with `partition_by`, one file per partition and key (a hive layout, [`crate::io::hive`]).

use std::sync::Arc;

use brisk_core::{Arg, Collection, ComputeOptions, Key, Layer, Node as GNode, Task, Value};
use polars::prelude::{CsvWriter, DataFrame as PlFrame, SerWriter};
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};
use crate::frame::DataFrame;
use crate::source::{self, Storage};

/// The file format of a writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Format {
    /// CSV with a header line.
    Csv,
    /// Parquet.
    Parquet,
}

/// The compression of Parquet files written ([`WriteParquet::compression`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Compression {
    /// None.
    Uncompressed,
    /// Snappy.
    Snappy,
    /// LZ4 (raw).
    Lz4,
    /// Gzip at a level 0-9 (`None`: the default level).
    Gzip(Option<u8>),
    /// Brotli at a level 0-11 (`None`: the default level).
    Brotli(Option<u32>),
    /// Zstandard at Polars' default level (the default).
    #[default]
    ZstdDefault,
    /// Zstandard at a level 1-22.
    Zstd(i32),
}

impl Compression {
    /// Polars' compression, or an error naming a level out of range.
    pub(crate) fn polars_compression(self) -> Result<polars::prelude::ParquetCompression> {
        use polars::prelude::ParquetCompression as P;
        use polars_parquet::write::{BrotliLevel, GzipLevel, ZstdLevel};
        let bad =
            |e: polars::prelude::PolarsError| DataFrameError::invalid("compression", e.to_string());
        Ok(match self {
            Compression::Uncompressed => P::Uncompressed,
            Compression::Snappy => P::Snappy,
            Compression::Lz4 => P::Lz4Raw,
            Compression::Gzip(l) => P::Gzip(l.map(GzipLevel::try_new).transpose().map_err(bad)?),
            Compression::Brotli(l) => {
                P::Brotli(l.map(BrotliLevel::try_new).transpose().map_err(bad)?)
            }
            Compression::ZstdDefault => P::Zstd(None),
            Compression::Zstd(l) => P::Zstd(Some(ZstdLevel::try_new(l).map_err(bad)?)),
        })
    }
}

/// How Parquet files are written.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct ParquetOptions {
    /// The compression.
    pub compression: Compression,
    /// Rows per row group (`None`: Polars' default).
    pub row_group_size: Option<usize>,
}

/// What one write task does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WriteSpec {
    /// The file.
    pub path: String,
    /// The format.
    pub format: Format,
    /// Where the file goes.
    pub storage: Storage,
    /// Parquet options.
    #[serde(default)]
    pub parquet: ParquetOptions,
    /// Hive partition keys: `path` is then the dataset's root (see [`write_partition_hive`]).
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// The partition's number (names its files in a hive layout).
    #[serde(default)]
    pub index: usize,
}
brisk_core::register_serde_type!(WriteSpec);

/// Kernel: write one partition; returns its row count.
pub(crate) fn write_partition(df: Arc<PlFrame>, spec: Arc<WriteSpec>) -> Result<u64> {
    let url = spec.path.as_str();
    let mut df = (*df).clone();
    match spec.format {
        Format::Parquet => {
            crate::io::parquet::write_frame(&mut df, url, &spec.storage, &spec.parquet)
        }
        Format::Csv => {
            let mut w = source::create(&spec.storage, url)?;
            CsvWriter::new(&mut w)
                .include_header(true)
                .finish(&mut df)
                .map_err(DataFrameError::polars("to_csv"))?;
            source::finish(url, w)?;
            Ok(df.height() as u64)
        }
    }
}

brisk_core::register!(write_partition as "brisk_dataframe.write_partition");

/// Kernel: write one partition as a hive layout, one Parquet file per key below the root
/// (`root/k=v/part.{index}.parquet`, the keys left out of the file); returns the URLs written.
pub(crate) fn write_partition_hive(df: Arc<PlFrame>, spec: Arc<WriteSpec>) -> Result<Vec<String>> {
    let root = spec.path.trim_end_matches('/');
    let mut written = Vec::new();
    for (dir, mut part) in crate::io::hive::split_by_keys(&df, &spec.partition_by)? {
        let url = format!("{root}/{dir}part.{}.parquet", spec.index);
        crate::io::parquet::write_frame(&mut part, &url, &spec.storage, &spec.parquet)?;
        written.push(url);
    }
    Ok(written)
}

brisk_core::register!(write_partition_hive as "brisk_dataframe.write_partition_hive");

fn paths(target: &str, n: usize, ext: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            if target.contains('*') {
                target.replacen('*', &i.to_string(), 1)
            } else {
                format!("{}/part.{i}.{ext}", target.trim_end_matches('/'))
            }
        })
        .collect()
}

impl DataFrame {
    fn write(
        &self,
        target: &str,
        format: Format,
        ext: &str,
        storage: Storage,
    ) -> Result<Vec<String>> {
        self.write_with(target, format, ext, storage, ParquetOptions::default(), &[])
    }

    fn write_with(
        &self,
        target: &str,
        format: Format,
        ext: &str,
        storage: Storage,
        parquet: ParquetOptions,
        partition_by: &[String],
    ) -> Result<Vec<String>> {
        parquet.compression.polars_compression()?;
        if parquet.row_group_size == Some(0) {
            return Err(DataFrameError::invalid(
                "row_group_size",
                "must be at least 1",
            ));
        }
        if !partition_by.is_empty() {
            if target.contains('*') {
                return Err(DataFrameError::invalid(
                    "partition_by",
                    format!(
                        "the target {target:?} must be a directory (the files are named \
                         key=value/part.{{i}}.parquet below it), not a pattern"
                    ),
                ));
            }
            crate::io::hive::check_partition_by(&self.schema(), partition_by)?;
        }
        let lowered = self.lowered();
        let files = paths(target, lowered.npartitions, ext);
        let name: Arc<str> = brisk_core::tokenize("write");
        let mut nodes = Vec::with_capacity(files.len());
        let mut keys = Vec::with_capacity(files.len());
        for (i, path) in files.iter().enumerate() {
            let key = Key::with_shared_name(&name, &[i as u32]);
            let hive = !partition_by.is_empty();
            let spec = WriteSpec {
                path: if hive {
                    target.to_string()
                } else {
                    path.clone()
                },
                format,
                storage: storage.clone(),
                parquet,
                partition_by: partition_by.to_vec(),
                index: i,
            };
            let args = vec![Arg::Key(lowered.key(i)), Arg::Literal(Value::new(spec))];
            let task = if hive {
                Task::new(write_partition_hive, args)
            } else {
                Task::new(write_partition, args)
            };
            nodes.push((key.clone(), GNode::Task(task)));
            keys.push(key);
        }
        let layer = Layer::from_nodes(name, nodes, self.layers());
        let graph = brisk_core::layer::materialize(&[&layer]);
        let results =
            brisk_core::default_scheduler()?.get(&graph, &keys, &ComputeOptions::optimized())?;
        if partition_by.is_empty() {
            return Ok(files);
        }
        let mut written = Vec::new();
        for (i, r) in results.iter().enumerate() {
            let urls = r.downcast_ref::<Vec<String>>().map_err(|e| {
                DataFrameError::invalid(
                    "partition_by",
                    format!("write task {i} returned an unexpected value: {e}"),
                )
            })?;
            written.extend(urls.iter().cloned());
        }
        Ok(written)
    }

    /// Write one CSV file per partition (computes). `target` is a directory or object prefix
    /// (files `part.{i}.csv`) or a pattern whose `*` is replaced by the partition number
    /// (`"out/part-*.csv.gz"`: compressed by extension). Local paths or object-store URLs
    /// (credentials from the environment; see [`DataFrame::to_csv_with`]). Returns the URLs
    /// written.
    pub fn to_csv(&self, target: &str) -> Result<Vec<String>> {
        self.write(target, Format::Csv, "csv", Storage::default())
    }

    /// [`DataFrame::to_csv`] with explicit object-store credentials and endpoints.
    pub fn to_csv_with(
        &self,
        target: &str,
        options: brisk_io::StorageOptions,
    ) -> Result<Vec<String>> {
        self.write(target, Format::Csv, "csv", Storage::new(options))
    }

    /// Write one Parquet file per partition (computes). `target` is a directory or object
    /// prefix (files `part.{i}.parquet`) or a pattern whose `*` is replaced by the partition
    /// number. Returns the URLs written.
    pub fn to_parquet(&self, target: &str) -> Result<Vec<String>> {
        self.write(target, Format::Parquet, "parquet", Storage::default())
    }

    /// [`DataFrame::to_parquet`] with explicit object-store credentials and endpoints.
    pub fn to_parquet_with(
        &self,
        target: &str,
        options: brisk_io::StorageOptions,
    ) -> Result<Vec<String>> {
        self.write(target, Format::Parquet, "parquet", Storage::new(options))
    }
}

/// A Parquet writer with options:
/// `df.write_parquet("out/").compression(Compression::Zstd(3)).row_group_size(100_000).finish()`.
#[must_use]
pub struct WriteParquet<'a> {
    frame: &'a DataFrame,
    target: String,
    options: ParquetOptions,
    storage: Storage,
    partition_by: Vec<String>,
    partition_by_set: bool,
}

impl DataFrame {
    /// A Parquet writer with options (see [`WriteParquet`]); `to_parquet` is it with defaults.
    pub fn write_parquet(&self, target: &str) -> WriteParquet<'_> {
        WriteParquet {
            frame: self,
            target: target.to_string(),
            options: ParquetOptions::default(),
            storage: Storage::default(),
            partition_by: Vec::new(),
            partition_by_set: false,
        }
    }
}

impl WriteParquet<'_> {
    /// The compression (default: Zstandard at Polars' default level).
    pub fn compression(mut self, c: Compression) -> Self {
        self.options.compression = c;
        self
    }

    /// Rows per row group (default: Polars' default).
    pub fn row_group_size(mut self, rows: usize) -> Self {
        self.options.row_group_size = Some(rows);
        self
    }

    /// Object-store credentials and endpoints.
    pub fn storage_options(mut self, options: brisk_io::StorageOptions) -> Self {
        self.storage = Storage::new(options);
        self
    }

    /// Write a hive-partitioned dataset, as pyarrow's `write_to_dataset(partition_cols=…)`
    /// and Polars' `write_parquet(partition_by=…)` do: each partition's rows go to
    /// `target/k1=v1/k2=v2/part.{i}.parquet` by their values of these columns (in this order),
    /// and the files leave the key columns out. Values are written as text, percent-encoded
    /// where a path needs it; null is `__HIVE_DEFAULT_PARTITION__`. `read_parquet(target)`
    /// reads it back (keys as columns after the others). Keys must be numbers, text,
    /// booleans or dates, and not every column.
    pub fn partition_by<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.partition_by = columns.into_iter().map(Into::into).collect();
        self.partition_by_set = true;
        self
    }

    /// Write one file per partition (per partition and key with
    /// [`WriteParquet::partition_by`]), computing the frame; returns the URLs written. A
    /// compression level out of range, a row group size of 0 or a bad key column is an
    /// error before anything is computed.
    pub fn finish(self) -> Result<Vec<String>> {
        if self.partition_by_set && self.partition_by.is_empty() {
            return Err(DataFrameError::invalid(
                "partition_by",
                "give at least one column",
            ));
        }
        self.frame.write_with(
            &self.target,
            Format::Parquet,
            "parquet",
            self.storage,
            self.options,
            &self.partition_by,
        )
    }
}
