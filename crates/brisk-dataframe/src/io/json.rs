//! `read_json`: newline-delimited JSON files, split into blocks at line boundaries like CSV.
//! The schema comes from a sample of the first file.

use std::io::Cursor;
use std::sync::Arc;

use brisk_core::{Arg, Node as GNode, Task, Value};
use polars::prelude::{DataType, Expr, Schema};
use serde::{Deserialize, Serialize};

use super::{DEFAULT_BLOCKSIZE, TextPlan, read_lines};
use crate::error::{DataFrameError, Result};
use crate::frame::DataFrame;
use crate::node::{Node, Op, ScanSource};
use crate::partition;
use crate::source::{Storage, Version};

/// One block of newline-delimited JSON to read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JsonBlock {
    /// The file.
    pub path: String,
    /// Byte range (moved to line starts when read).
    pub start: u64,
    /// Byte range end.
    pub end: u64,
    /// The file's version as listed: every read is pinned to it.
    #[serde(default)]
    pub version: Version,
    /// Columns to return (all if `None`).
    pub columns: Option<Vec<String>>,
    /// The full schema.
    pub schema: Arc<Schema>,
    /// Where the files live.
    pub storage: Storage,
    /// The first file (whose sample gave the schema), for messages.
    pub first_file: String,
}
brisk_core::register_serde_type!(JsonBlock);

/// A file's first record has fields the schema (from the first file) does not know: the
/// files disagree, which is an error naming the file (fields missing from a record are
/// fine: they read as null).
fn check_first_record(b: &JsonBlock, bytes: &[u8]) -> Result<()> {
    let line = bytes
        .split(|&c| c == b'\n')
        .find(|l| !l.trim_ascii().is_empty());
    let Some(line) = line else {
        return Ok(());
    };
    let Ok(found) = polars::io::ndjson::infer_schema(&mut Cursor::new(line), None) else {
        // Not a JSON object: the parser reports it with the file and bytes.
        return Ok(());
    };
    if found.iter_names().any(|n| b.schema.get(n).is_none()) {
        return Err(DataFrameError::SchemaMismatch {
            path: b.path.clone(),
            first: b.first_file.clone(),
            expected: partition::names_text(b.schema.iter_names()),
            found: partition::names_text(found.iter_names()),
        });
    }
    Ok(())
}

/// Kernel: read one block.
pub(crate) fn read_json_block(b: Arc<JsonBlock>) -> Result<Value> {
    let Some(bytes) = read_lines(&b.storage, &b.path, &b.version, b.start, b.end)? else {
        let projected: Schema = match &b.columns {
            Some(c) => crate::optimize::select_schema(&b.schema, c),
            None => (*b.schema).clone(),
        };
        return Ok(partition::value(partition::empty(&projected)));
    };
    if b.start == 0 {
        check_first_record(&b, &bytes)?;
    }
    let df = polars::io::ndjson::core::parse_ndjson(&bytes, None, &b.schema, false).map_err(
        |source| DataFrameError::Parse {
            path: b.path.clone(),
            start: b.start,
            end: b.end,
            source,
        },
    )?;
    let df = match &b.columns {
        Some(c) => df
            .select(c.iter().map(String::as_str))
            .map_err(DataFrameError::polars("read_json (projection)"))?,
        None => df,
    };
    Ok(partition::value(df))
}

brisk_core::register!(read_json_block as "brisk_dataframe.read_json_block");

struct JsonScan {
    plan: TextPlan,
    schema: Arc<Schema>,
    storage: Storage,
}

impl ScanSource for JsonScan {
    fn label(&self) -> &'static str {
        "read-json"
    }
    fn npartitions(&self) -> usize {
        self.plan.len()
    }
    fn projectable(&self) -> bool {
        true
    }
    fn partition(&self, i: usize, columns: Option<&[String]>, _: Option<&Expr>) -> GNode {
        let (path, start, end, version) = self.plan.block(i);
        let spec = JsonBlock {
            path,
            start,
            end,
            version,
            columns: columns.map(<[String]>::to_vec),
            schema: Arc::clone(&self.schema),
            storage: self.storage.clone(),
            first_file: self.plan.first().url.clone(),
        };
        GNode::Task(Task::new(
            read_json_block,
            vec![Arg::Literal(Value::new(spec))],
        ))
    }
}

/// A lazy reader of newline-delimited JSON: `ReadJson::new("logs/*.jsonl").finish()`.
#[derive(Debug, Clone)]
#[must_use]
pub struct ReadJson {
    pattern: String,
    blocksize: Option<u64>,
    sample: u64,
    dtypes: Vec<(String, DataType)>,
    storage: Storage,
}

impl ReadJson {
    /// Read the files matching `pattern`.
    pub fn new(pattern: impl Into<String>) -> Self {
        ReadJson {
            pattern: pattern.into(),
            blocksize: Some(DEFAULT_BLOCKSIZE),
            sample: 256 * 1024,
            dtypes: Vec::new(),
            storage: Storage::default(),
        }
    }

    /// Partition size in bytes (`None`: one partition per file).
    pub fn blocksize(mut self, bytes: Option<u64>) -> Self {
        self.blocksize = bytes;
        self
    }

    /// How many bytes of the first file to sample for the schema (default 256 KiB).
    pub fn sample(mut self, bytes: u64) -> Self {
        self.sample = bytes.max(1);
        self
    }

    /// Read `column` as `dtype` instead of the inferred type.
    pub fn dtype(mut self, column: impl Into<String>, dtype: DataType) -> Self {
        self.dtypes.push((column.into(), dtype));
        self
    }

    /// Credentials and endpoints for object stores (default: from the environment).
    pub fn storage_options(mut self, options: brisk_io::StorageOptions) -> Self {
        self.storage = Storage::new(options);
        self
    }

    /// Build the lazy dataframe.
    pub fn finish(self) -> Result<DataFrame> {
        let plan = TextPlan::new(&self.storage, &self.pattern, self.blocksize, self.sample)?;
        let mut schema = polars::io::ndjson::infer_schema(&mut Cursor::new(&plan.sample), None)
            .map_err(|source| DataFrameError::Parse {
                path: plan.first().url.clone(),
                start: 0,
                end: plan.sample.len() as u64,
                source,
            })?;
        for (c, dt) in &self.dtypes {
            match schema.get_mut(c) {
                Some(slot) => *slot = dt.clone(),
                None => {
                    return Err(DataFrameError::ColumnNotFound {
                        operation: "read_json dtype",
                        column: c.clone(),
                        available: partition::names_text(schema.iter_names()),
                    });
                }
            }
        }
        let n = plan.len();
        let schema = Arc::new(schema);
        let scan = JsonScan {
            plan,
            schema: Arc::clone(&schema),
            storage: self.storage,
        };
        Ok(DataFrame::from_node(Node::new(
            Op::Scan {
                source: Arc::new(scan),
                columns: None,
                predicate: None,
            },
            schema,
            n,
            None,
        )))
    }
}

/// Read newline-delimited JSON files named by a path or glob.
pub fn read_json(pattern: impl Into<String>) -> Result<DataFrame> {
    ReadJson::new(pattern).finish()
}
