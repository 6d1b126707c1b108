//! `read_csv`: files named by a path or glob, split into blocks of `blocksize` bytes whose
//! boundaries move forward to line starts, so each block parses on its own. The schema comes
//! from a sample of the first file (or from explicit dtypes). Each file's header is checked
//! against the first file's when its first block is read: a file whose columns differ is an
//! error naming it.
//!
//! Quoted fields that contain newlines cannot be split safely: read such files with one block
//! per file (`blocksize(None)`).

use std::io::Cursor;
use std::sync::Arc;

use brisk_core::{Arg, Node as GNode, Task, Value};
use polars::prelude::{
    CsvParseOptions, CsvReadOptions, DataFrame as PlFrame, DataType, Expr, NullValues, Schema,
    SchemaRef, SerReader,
};
use serde::{Deserialize, Serialize};

use polars_utils::mmap::MMapSemaphore;

use super::csv_fast::{self, Wanted};
use super::csv_infer::{self, DEFAULT_NULL_VALUES};
use super::{DEFAULT_BLOCKSIZE, TextPlan};
use crate::error::{DataFrameError, Result};
use crate::frame::DataFrame;
use crate::node::{Node, Op, ScanSource};
use crate::partition;
use crate::source::{self, Storage, Version};

/// Options shared by every block of one `read_csv`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CsvOptions {
    /// The full schema (every column, in file order).
    pub schema: Schema,
    /// Field separator.
    pub separator: u8,
    /// Quote character.
    pub quote: Option<u8>,
    /// Whether files start with a header line.
    pub has_header: bool,
    /// Strings read as null.
    pub null_values: Vec<String>,
    /// The first file (for messages).
    pub first_file: String,
    /// The header names of the first file, as written.
    pub header: Vec<String>,
    /// Where the files live (credentials, endpoints).
    pub storage: Storage,
    /// Lines starting with this are skipped.
    #[serde(default)]
    pub comment_prefix: Option<String>,
    /// Values that do not parse as their column's type are null instead of an error.
    #[serde(default)]
    pub ignore_errors: bool,
    /// Rows with more fields than the header lose the extra ones instead of an error.
    #[serde(default)]
    pub truncate_ragged_lines: bool,
    /// Lines skipped at the start of each file, before the header.
    #[serde(default)]
    pub skip_rows: usize,
}

/// One block to read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CsvBlock {
    /// The file.
    pub path: String,
    /// Byte range (moved to line starts when read).
    pub start: u64,
    /// Byte range end.
    pub end: u64,
    /// The file's version as listed: every read is pinned to it.
    #[serde(default)]
    pub version: Version,
    /// Read only these columns (all if `None`).
    pub columns: Option<Vec<String>>,
    /// Shared options.
    pub options: Arc<CsvOptions>,
}
brisk_core::register_serde_type!(CsvBlock);

fn split_header(line: &[u8], sep: u8, quote: Option<u8>) -> Vec<String> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    for c in text.chars() {
        if Some(c as u32) == quote.map(u32::from) {
            in_quote = !in_quote;
        } else if c as u32 == u32::from(sep) && !in_quote {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// A file's header `line` must name the columns of the first file's header.
fn check_header(o: &CsvOptions, path: &str, line: &[u8]) -> Result<()> {
    let found = split_header(line, o.separator, o.quote);
    if found != o.header {
        return Err(DataFrameError::SchemaMismatch {
            path: path.to_string(),
            first: o.first_file.clone(),
            expected: partition::names_text(&o.header),
            found: partition::names_text(&found),
        });
    }
    Ok(())
}

fn parse_options(o: &CsvOptions) -> impl Fn(CsvParseOptions) -> CsvParseOptions + '_ {
    move |p: CsvParseOptions| {
        let p = p
            .with_separator(o.separator)
            .with_quote_char(o.quote)
            .with_comment_prefix(o.comment_prefix.as_deref())
            .with_truncate_ragged_lines(o.truncate_ragged_lines);
        if o.null_values.is_empty() {
            p
        } else {
            p.with_null_values(Some(NullValues::AllColumns(
                o.null_values.iter().map(|s| s.as_str().into()).collect(),
            )))
        }
    }
}

/// The offset after the first `n` lines of `bytes`.
pub(crate) fn skip_lines(bytes: &[u8], n: usize) -> usize {
    let mut at = 0;
    for _ in 0..n {
        match bytes[at..].iter().position(|&c| c == b'\n') {
            Some(p) => at += p + 1,
            None => return bytes.len(),
        }
    }
    at
}

/// A block's lines without the header: the bytes and where the records start (after a first
/// block's header line, which must match the first file's), or `None` when no record is left.
fn load_block(b: &CsvBlock) -> Result<Option<(Vec<u8>, usize)>> {
    let o = &b.options;
    let bytes = source::read_block(&o.storage, &b.path, &b.version, b.start, b.end)?;
    let mut skip = 0;
    if b.start == 0 {
        skip = skip_lines(&bytes, o.skip_rows);
    }
    if b.start == 0 && o.has_header {
        let nl = bytes[skip..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(bytes.len(), |p| skip + p);
        check_header(o, &b.path, &bytes[skip..nl])?;
        skip = (nl + 1).min(bytes.len());
    }
    if bytes[skip..].iter().all(|c| c.is_ascii_whitespace()) {
        return Ok(None);
    }
    Ok(Some((bytes, skip)))
}

impl CsvBlock {
    /// The schema of what the block returns (its columns, or all).
    fn projected(&self) -> Schema {
        match &self.columns {
            Some(cols) => crate::optimize::select_schema(&self.options.schema, cols),
            None => self.options.schema.clone(),
        }
    }

    /// A parse error of this block: the value, line and column at fault when they can be
    /// found (see [`csv_infer::Locate`]), else Polars' error with the byte range.
    fn parse_error(&self, source: polars::prelude::PolarsError) -> DataFrameError {
        let o = &self.options;
        let located = csv_infer::Locate {
            storage: &o.storage,
            path: &self.path,
            version: &self.version,
            start: self.start,
            end: self.end,
            schema: &o.schema,
            separator: o.separator,
            quote: o.quote,
            has_header: o.has_header,
            null_values: &o.null_values,
            skip_rows: o.skip_rows,
            comment_prefix: o.comment_prefix.as_deref(),
        }
        .bad_value();
        located.unwrap_or_else(|| DataFrameError::Parse {
            path: self.path.clone(),
            start: self.start,
            end: self.end,
            source: csv_infer::brisk_advice(source),
        })
    }
}

/// Files at least this large that are read whole go to Polars as files (memory-mapped).
const MMAP_MIN: u64 = 1 << 20;

/// A whole, uncompressed local file of at least [`MMAP_MIN`] bytes (the usual partition when
/// files are smaller than `blocksize`), parsed by Polars from a memory map: the bytes are
/// neither copied into a buffer nor zeroed first, which was a quarter of the CPU time of
/// reading 20 × 38 MB files. `None`: not such a block (read it through brisk-io).
fn read_whole_local(b: &CsvBlock) -> Result<Option<PlFrame>> {
    let o = &b.options;
    let Some(path) = source::local_path(&b.path) else {
        return Ok(None);
    };
    if b.start != 0 || source::is_compressed(&b.path) || o.skip_rows > 0 {
        return Ok(None);
    }
    let file = source::open_local(&path)?;
    let size = file
        .metadata()
        .map_err(DataFrameError::io("cannot read the size of", &path))?
        .len();
    if size < MMAP_MIN || b.end < size {
        return Ok(None);
    }
    if o.has_header {
        let head = source::read_head(&o.storage, &b.path, &b.version, MMAP_MIN)?;
        let Some(nl) = head.iter().position(|&c| c == b'\n') else {
            return Ok(None);
        };
        check_header(o, &b.path, &head[..nl])?;
    }
    if let Some(wanted) = fast_columns(b) {
        let map = MMapSemaphore::new_from_file(&file).map_err(|e| b.parse_error(e))?;
        let bytes: &[u8] = map.as_ref();
        let skip = if o.has_header {
            bytes
                .iter()
                .position(|&c| c == b'\n')
                .map_or(bytes.len(), |nl| nl + 1)
        } else {
            0
        };
        if let Some(df) = fast_parse(b, &bytes[skip..], &wanted) {
            return Ok(Some(df));
        }
    }
    let projection: Option<Arc<Vec<usize>>> = b
        .columns
        .as_ref()
        .map(|cols| Arc::new(cols.iter().filter_map(|c| o.schema.index_of(c)).collect()));
    CsvReadOptions::default()
        .with_has_header(false)
        .with_skip_lines(usize::from(o.has_header))
        .with_schema(Some(Arc::new(o.schema.clone())))
        .with_projection(projection)
        .with_ignore_errors(o.ignore_errors)
        .map_parse_options(parse_options(o))
        .into_reader_with_file_handle(file)
        .finish()
        .map(Some)
        .map_err(|e| b.parse_error(e))
}

/// The columns a block reads, when Brisk's own parser can build them all (see
/// [`super::csv_fast`]).
fn fast_columns(b: &CsvBlock) -> Option<Vec<Wanted<'_>>> {
    let schema = &b.options.schema;
    let wanted: Vec<Wanted<'_>> = match &b.columns {
        Some(cols) => cols
            .iter()
            .map(|c| {
                let (index, name, dtype) = schema.get_full(c)?;
                Some(Wanted {
                    index,
                    name: name.as_str(),
                    dtype,
                })
            })
            .collect::<Option<_>>()?,
        None => schema
            .iter()
            .enumerate()
            .map(|(index, (name, dtype))| Wanted {
                index,
                name: name.as_str(),
                dtype,
            })
            .collect(),
    };
    // Brisk's tokenizer knows no comment lines.
    let plain = b.options.comment_prefix.is_none();
    (plain && csv_fast::supports(&wanted, schema.len())).then_some(wanted)
}

/// `records` parsed by Brisk's own parser, or `None` when they hold something it leaves to
/// Polars.
fn fast_parse(b: &CsvBlock, records: &[u8], wanted: &[Wanted<'_>]) -> Option<PlFrame> {
    let o = &b.options;
    let parsed = csv_fast::parse(
        records,
        o.separator,
        o.quote,
        &o.null_values,
        o.schema.len(),
        wanted,
    );
    if parsed.is_err() {
        tracing::debug!(path = %b.path, start = b.start, "CSV block left to Polars' parser");
    }
    parsed.ok()
}

/// Kernel: read one block.
pub(crate) fn read_csv_block(b: Arc<CsvBlock>) -> Result<Value> {
    let o = &b.options;
    if let Some(df) = read_whole_local(&b)? {
        return Ok(partition::value(df));
    }
    let Some((bytes, skip)) = load_block(&b)? else {
        return Ok(partition::value(partition::empty(&b.projected())));
    };
    if let Some(wanted) = fast_columns(&b)
        && let Some(df) = fast_parse(&b, &bytes[skip..], &wanted)
    {
        return Ok(partition::value(df));
    }
    let projection: Option<Arc<Vec<usize>>> = b
        .columns
        .as_ref()
        .map(|cols| Arc::new(cols.iter().filter_map(|c| o.schema.index_of(c)).collect()));
    let df = CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(Arc::new(o.schema.clone())))
        .with_projection(projection)
        .with_ignore_errors(o.ignore_errors)
        .map_parse_options(parse_options(o))
        .into_reader_with_file_handle(Cursor::new(&bytes[skip..]))
        .finish()
        .map_err(|e| b.parse_error(e))?;
    Ok(partition::value(df))
}

brisk_core::register!(read_csv_block as "brisk_dataframe.read_csv_block");

struct CsvScan {
    plan: TextPlan,
    options: Arc<CsvOptions>,
}

impl CsvScan {
    fn block(&self, i: usize, columns: Option<&[String]>) -> CsvBlock {
        let (path, start, end, version) = self.plan.block(i);
        CsvBlock {
            path,
            start,
            end,
            version,
            columns: columns.map(<[String]>::to_vec),
            options: Arc::clone(&self.options),
        }
    }
}

impl ScanSource for CsvScan {
    fn label(&self) -> &'static str {
        "read-csv"
    }
    fn npartitions(&self) -> usize {
        self.plan.len()
    }
    fn projectable(&self) -> bool {
        true
    }
    fn partition(&self, i: usize, columns: Option<&[String]>, _: Option<&Expr>) -> GNode {
        GNode::Task(Task::new(
            read_csv_block,
            vec![Arg::Literal(Value::new(self.block(i, columns)))],
        ))
    }
}

/// A lazy CSV reader: `ReadCsv::new("data/2015-*-*.csv").blocksize(Some(16 << 20)).finish()`.
#[derive(Debug, Clone)]
#[must_use]
pub struct ReadCsv {
    pattern: String,
    blocksize: Option<u64>,
    separator: u8,
    quote: Option<u8>,
    has_header: bool,
    names: Option<Vec<String>>,
    dtypes: Vec<(String, DataType)>,
    null_values: Vec<String>,
    sample: u64,
    try_parse_dates: bool,
    storage: Storage,
    comment_prefix: Option<String>,
    ignore_errors: bool,
    truncate_ragged_lines: bool,
    skip_rows: usize,
}

impl ReadCsv {
    /// Read the files matching `pattern` (a path, a directory, or a glob such as
    /// `"data/2015-*-*.csv"`).
    pub fn new(pattern: impl Into<String>) -> Self {
        ReadCsv {
            pattern: pattern.into(),
            blocksize: Some(DEFAULT_BLOCKSIZE),
            separator: b',',
            quote: Some(b'"'),
            has_header: true,
            names: None,
            dtypes: Vec::new(),
            null_values: DEFAULT_NULL_VALUES.iter().map(|s| s.to_string()).collect(),
            sample: 256 * 1024,
            try_parse_dates: false,
            storage: Storage::default(),
            comment_prefix: None,
            ignore_errors: false,
            truncate_ragged_lines: false,
            skip_rows: 0,
        }
    }

    /// Split files into partitions of about this many bytes (`None`: one partition per
    /// file). Default 64 MiB.
    pub fn blocksize(mut self, bytes: Option<u64>) -> Self {
        self.blocksize = bytes;
        self
    }

    /// The field separator (default `,`).
    pub fn separator(mut self, sep: u8) -> Self {
        self.separator = sep;
        self
    }

    /// The quote character (default `"`; `None` disables quoting).
    pub fn quote(mut self, quote: Option<u8>) -> Self {
        self.quote = quote;
        self
    }

    /// Whether files start with a header line (default `true`).
    pub fn has_header(mut self, yes: bool) -> Self {
        self.has_header = yes;
        self
    }

    /// Column names for files without a header (or to rename a header's columns).
    pub fn names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Read `column` as `dtype` instead of the inferred type.
    pub fn dtype(mut self, column: impl Into<String>, dtype: DataType) -> Self {
        self.dtypes.push((column.into(), dtype));
        self
    }

    /// Skip lines that start with `prefix` (`"#"`), anywhere in the files.
    pub fn comment_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.comment_prefix = Some(prefix.into());
        self
    }

    /// Read values that do not parse as their column's type as null instead of failing
    /// (Polars' `ignore_errors`).
    pub fn ignore_errors(mut self, yes: bool) -> Self {
        self.ignore_errors = yes;
        self
    }

    /// Drop the extra fields of rows longer than the header instead of failing.
    pub fn truncate_ragged_lines(mut self, yes: bool) -> Self {
        self.truncate_ragged_lines = yes;
        self
    }

    /// Skip `n` lines at the start of every file, before the header (titles, notes).
    pub fn skip_rows(mut self, n: usize) -> Self {
        self.skip_rows = n;
        self
    }

    /// Strings to read as null besides empty fields, replacing the default list
    /// ([`crate::DEFAULT_NULL_VALUES`]: `NA`, `N/A`, `NULL`, `None`, …; pass an empty list
    /// to read them as text).
    pub fn null_values<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.null_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// How many bytes of the first file to read for inferring types (default 256 KiB).
    pub fn sample(mut self, bytes: u64) -> Self {
        self.sample = bytes.max(1);
        self
    }

    /// Infer dates and datetimes from strings.
    pub fn try_parse_dates(mut self, yes: bool) -> Self {
        self.try_parse_dates = yes;
        self
    }

    /// Credentials and endpoints for object stores (default: from the environment, e.g.
    /// `AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`). They travel with the read tasks.
    pub fn storage_options(mut self, options: brisk_io::StorageOptions) -> Self {
        self.storage = Storage::new(options);
        self
    }

    /// Build the lazy dataframe (reads the files' sizes and a sample of the first file).
    pub fn finish(self) -> Result<DataFrame> {
        let plan = TextPlan::new(&self.storage, &self.pattern, self.blocksize, self.sample)?;
        let first = plan.first();
        let sample = &plan.sample;
        let opts_for_parse = CsvOptions {
            schema: Schema::default(),
            separator: self.separator,
            quote: self.quote,
            has_header: self.has_header,
            null_values: self.null_values.clone(),
            first_file: first.url.clone(),
            header: Vec::new(),
            storage: self.storage.clone(),
            comment_prefix: self.comment_prefix.clone(),
            ignore_errors: self.ignore_errors,
            truncate_ragged_lines: self.truncate_ragged_lines,
            skip_rows: self.skip_rows,
        };
        let sample = &sample[skip_lines(sample, self.skip_rows)..];
        let header: Vec<String> = if self.has_header {
            let nl = sample
                .iter()
                .position(|&c| c == b'\n')
                .unwrap_or(sample.len());
            split_header(&sample[..nl], self.separator, self.quote)
        } else {
            Vec::new()
        };
        let mut schema = csv_infer::infer_schema(
            &self.storage,
            &plan.files,
            sample,
            &csv_infer::Sampling {
                separator: self.separator,
                quote: self.quote,
                has_header: self.has_header,
                null_values: &self.null_values,
                try_parse_dates: self.try_parse_dates,
                sample: self.sample,
                comment_prefix: self.comment_prefix.as_deref(),
                ignore_errors: self.ignore_errors,
                truncate_ragged_lines: self.truncate_ragged_lines,
                skip_rows: self.skip_rows,
            },
        )?;
        if let Some(names) = &self.names {
            if names.len() != schema.len() {
                return Err(DataFrameError::invalid(
                    "names",
                    format!(
                        "{} names given, but {} has {} columns",
                        names.len(),
                        first.url,
                        schema.len()
                    ),
                ));
            }
            schema = schema
                .iter()
                .zip(names)
                .map(|((_, dt), n)| polars::prelude::Field::new(n.as_str().into(), dt.clone()))
                .collect();
        }
        for (c, dt) in &self.dtypes {
            match schema.get_mut(c) {
                Some(slot) => *slot = dt.clone(),
                None => {
                    return Err(DataFrameError::ColumnNotFound {
                        operation: "read_csv dtype",
                        column: c.clone(),
                        available: partition::names_text(schema.iter_names()),
                    });
                }
            }
        }
        let options = Arc::new(CsvOptions {
            schema: schema.clone(),
            header,
            ..opts_for_parse
        });
        let schema: SchemaRef = Arc::new(schema);
        let n = plan.len();
        let scan = CsvScan { plan, options };
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

/// Read CSV files named by a path or glob, with the default options (64 MiB blocks, a header
/// line, types inferred from the first 256 KiB of the first file). See [`ReadCsv`] for more.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # for d in 1..=3 {
/// #     std::fs::write(dir.path().join(format!("2015-01-0{d}.csv")),
/// #         "user_id,value\n1,1.0\n2,2.0\n1,3.0\n").unwrap();
/// # }
/// # let _ = brisk_local::LocalScheduler::threaded();
/// use brisk_core::Collection;
/// let pattern = dir.path().join("2015-*-*.csv");
/// let df = brisk_dataframe::read_csv(pattern.to_str().unwrap())?;
/// let means = df.groupby("user_id").col("value").mean()?.compute()?;
/// assert_eq!(means.height(), 2);
/// # Ok::<(), brisk_dataframe::DataFrameError>(())
/// ```
pub fn read_csv(pattern: impl Into<String>) -> Result<DataFrame> {
    ReadCsv::new(pattern).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_with_quotes() {
        assert_eq!(
            split_header(b"a,\"b,c\",d\r", b',', Some(b'"')),
            vec!["a", "b,c", "d"]
        );
    }
}
