//! Writers: one file per partition (`to_csv`, `to_parquet`), written by tasks in parallel.

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

/// What one write task does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WriteSpec {
    /// The file.
    pub path: String,
    /// The format.
    pub format: Format,
    /// Where the file goes.
    pub storage: Storage,
}
brisk_core::register_serde_type!(WriteSpec);

/// Kernel: write one partition; returns its row count.
pub(crate) fn write_partition(df: Arc<PlFrame>, spec: Arc<WriteSpec>) -> Result<u64> {
    let url = spec.path.as_str();
    let mut df = (*df).clone();
    match spec.format {
        Format::Parquet => crate::io::parquet::write_frame(&mut df, url, &spec.storage),
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
        let lowered = self.lowered();
        let files = paths(target, lowered.npartitions, ext);
        let name: Arc<str> = brisk_core::tokenize("write");
        let mut nodes = Vec::with_capacity(files.len());
        let mut keys = Vec::with_capacity(files.len());
        for (i, path) in files.iter().enumerate() {
            let key = Key::with_shared_name(&name, &[i as u32]);
            let spec = WriteSpec {
                path: path.clone(),
                format,
                storage: storage.clone(),
            };
            nodes.push((
                key.clone(),
                GNode::Task(Task::new(
                    write_partition,
                    vec![Arg::Key(lowered.key(i)), Arg::Literal(Value::new(spec))],
                )),
            ));
            keys.push(key);
        }
        let layer = Layer::from_nodes(name, nodes, self.layers());
        let graph = brisk_core::layer::materialize(&[&layer]);
        brisk_core::default_scheduler()?.get(&graph, &keys, &ComputeOptions::optimized())?;
        Ok(files)
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
