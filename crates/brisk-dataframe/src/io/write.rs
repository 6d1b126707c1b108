//! Writers: one file per partition (`to_csv`, `to_parquet`), written by tasks in parallel.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brisk_core::{Arg, Collection, ComputeOptions, Key, Layer, Node as GNode, Task, Value};
use polars::prelude::{CsvWriter, DataFrame as PlFrame, SerWriter};
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};
use crate::frame::DataFrame;

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
}
brisk_core::register_serde_type!(WriteSpec);

/// Kernel: write one partition; returns its row count.
pub(crate) fn write_partition(df: Arc<PlFrame>, spec: Arc<WriteSpec>) -> Result<u64> {
    let path = Path::new(&spec.path);
    let mut df = (*df).clone();
    match spec.format {
        Format::Parquet => crate::io::parquet::write_frame(&mut df, path),
        Format::Csv => {
            let mut w = crate::source::create(path)?;
            CsvWriter::new(&mut w)
                .include_header(true)
                .finish(&mut df)
                .map_err(DataFrameError::polars("to_csv"))?;
            crate::source::finish(path, w)?;
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
                PathBuf::from(target)
                    .join(format!("part.{i}.{ext}"))
                    .to_string_lossy()
                    .into_owned()
            }
        })
        .collect()
}

impl DataFrame {
    fn write(&self, target: &str, format: Format, ext: &str) -> Result<Vec<String>> {
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

    /// Write one CSV file per partition (computes). `target` is a directory (files
    /// `part.{i}.csv`) or a pattern whose `*` is replaced by the partition number. Returns the
    /// paths written.
    pub fn to_csv(&self, target: &str) -> Result<Vec<String>> {
        self.write(target, Format::Csv, "csv")
    }

    /// Write one Parquet file per partition (computes). `target` is a directory (files
    /// `part.{i}.parquet`) or a pattern whose `*` is replaced by the partition number.
    pub fn to_parquet(&self, target: &str) -> Result<Vec<String>> {
        self.write(target, Format::Parquet, "parquet")
    }
}
