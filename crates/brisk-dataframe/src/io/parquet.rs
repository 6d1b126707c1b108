//! `read_parquet`: files named by a path, directory or glob; partitions are runs of row groups
//! (by default up to `blocksize` uncompressed bytes, never spanning files). Only the columns
//! used are read (projection pushdown). Filters, given at read time or found directly above
//! the reader, skip row groups whose statistics rule them out (predicate pushdown) and filter
//! the rows read. Files whose schemas differ from the first file's are an error naming them.
//! A directory laid out as `key=value/…` adds its keys as columns and prunes whole files by
//! them ([`crate::io::hive`]).

use std::sync::Arc;

use brisk_core::{Arg, Node as GNode, Task, Value};
use polars::io::mmap::MmapBytesReader;
use polars::io::parquet::read::_internal::to_deserializer;
use polars::prelude::{
    ArrowField, ArrowSchema, DataFrame as PlFrame, Expr, IntoColumn, IntoLazy, ParallelStrategy,
    ParquetReader, Schema, SchemaExt, SerReader, Series,
};
use polars_buffer::Buffer;
use polars_parquet::read::{ColumnChunkMetadata, FileMetadata};
use serde::{Deserialize, Serialize};

use crate::columns::{ColumnSet, expr_columns};
use crate::error::{DataFrameError, Result};
use crate::frame::DataFrame;
use crate::io::hive::{self, HiveValue};
use crate::node::{Node, Op, ScanSource};
use crate::partition;
use crate::source::{self, FileInfo, Storage};

/// How row groups become partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitRowGroups {
    /// One partition per file.
    PerFile,
    /// One partition per row group.
    PerRowGroup,
    /// Consecutive row groups of one file up to about this many uncompressed bytes.
    Blocksize(u64),
}

/// One partition to read: row groups of one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ParquetPiece {
    /// The file.
    pub path: String,
    /// Runs of rows to read: `(first row, row count)`, one per run of consecutive row groups.
    pub slices: Vec<(u64, u64)>,
    /// Columns to return (all if `None`).
    pub columns: Option<Vec<String>>,
    /// Rows to keep.
    pub predicate: Option<Expr>,
    /// The schema of the returned frame.
    pub schema: Schema,
    /// The row groups the slices cover (what to fetch from an object store).
    pub row_groups: Vec<usize>,
    /// The file's size in bytes.
    pub size: u64,
    /// Where the file lives.
    pub storage: Storage,
    /// Let Polars decode columns on its own threads: only when there are fewer partitions
    /// than cores (otherwise partitions already keep every core busy, and decoding on the
    /// task's thread keeps the data in its cache).
    #[serde(default)]
    pub parallel_decode: bool,
    /// The file's hive partition values (empty when the dataset has no keys).
    #[serde(default)]
    pub hive: Vec<HiveValue>,
}
brisk_core::register_serde_type!(ParquetPiece);

/// Kernel: read one piece.
pub(crate) fn read_parquet_piece(p: Arc<ParquetPiece>) -> Result<Value> {
    if p.slices.is_empty() {
        return Ok(partition::value(partition::empty(&p.schema)));
    }
    // Read the returned columns plus those the predicate needs.
    let read_cols: Option<Vec<String>> = match (&p.columns, &p.predicate) {
        (None, _) => None,
        (Some(c), None) => Some(c.clone()),
        (Some(c), Some(pred)) => match expr_columns(pred) {
            ColumnSet::All => None,
            ColumnSet::Some(extra) => {
                let mut v = c.clone();
                for e in extra {
                    if !v.contains(&e) {
                        v.push(e);
                    }
                }
                Some(v)
            }
        },
    };
    // Partition values not stored in the file are added after reading, not read.
    let wanted = read_cols.clone();
    let read_cols = read_cols.map(|cols| {
        cols.into_iter()
            .filter(|c| !p.hive.iter().any(|h| !h.in_file && &h.name == c))
            .collect::<Vec<_>>()
    });
    let path = p.path.as_str();
    let parse = |offset: u64, len: u64| {
        move |source| DataFrameError::Parse {
            path: path.to_string(),
            start: offset,
            end: offset + len,
            source,
        }
    };
    let mut frames = Vec::with_capacity(p.slices.len());
    if read_cols.as_ref().is_some_and(Vec::is_empty) {
        // Only partition values are needed: the rows are counted, not read.
        let rows: u64 = p.slices.iter().map(|s| s.1).sum();
        frames.push(PlFrame::empty_with_height(rows as usize));
    } else if let Some(local) = source::local_path(&p.path) {
        for &(offset, len) in &p.slices {
            let file = source::open_local(&local)?;
            let df = ParquetReader::new(file)
                .read_parallel(if p.parallel_decode {
                    ParallelStrategy::Auto
                } else {
                    ParallelStrategy::None
                })
                .with_columns(read_cols.clone())
                .with_slice(Some((offset as usize, len as usize)))
                .finish()
                .map_err(parse(offset, len))?;
            frames.push(df);
        }
    } else {
        frames.push(read_object_piece(&p, read_cols.as_deref())?);
    }
    let mut df = partition::concat(frames, None)?;
    if !p.hive.is_empty() {
        df = hive::attach(df, &p.hive, wanted.as_deref(), &p.path)?;
    }
    if p.predicate.is_some() || (!p.hive.is_empty() && p.columns.is_some()) {
        let mut lf = df.lazy();
        if let Some(pred) = &p.predicate {
            lf = lf.filter(pred.clone());
        }
        if let Some(c) = &p.columns {
            lf = lf.select(
                c.iter()
                    .map(|n| polars::prelude::col(n.as_str()))
                    .collect::<Vec<_>>(),
            );
        }
        df = lf
            .collect()
            .map_err(DataFrameError::polars("read_parquet (filter)"))?;
    }
    Ok(partition::value(df))
}

/// The row groups of `p` from an object store: its footer, then only the column chunks of
/// the needed columns of these row groups, fetched concurrently into one buffer that holds
/// nothing else (`Storage::read_ranges_into` merges runs less than 256 KiB apart and keeps up
/// to ten requests in flight), decoded chunk by chunk.
fn read_object_piece(p: &ParquetPiece, read_cols: Option<&[String]>) -> Result<PlFrame> {
    let parse = |source| DataFrameError::Parse {
        path: p.path.clone(),
        start: 0,
        end: p.size,
        source,
    };
    let mut footer = ParquetReader::new(source::object_footer(&p.storage, &p.path, p.size)?);
    let arrow = footer.schema().map_err(parse)?;
    let meta = Arc::clone(footer.get_metadata().map_err(parse)?);
    let fields: Vec<&ArrowField> = match read_cols {
        None => arrow.iter_values().collect(),
        Some(cols) => cols
            .iter()
            .map(|c| {
                arrow
                    .get(c.as_str())
                    .ok_or_else(|| DataFrameError::ColumnNotFound {
                        operation: "read_parquet",
                        column: c.clone(),
                        available: partition::names_text(arrow.iter_names()),
                    })
            })
            .collect::<Result<_>>()?,
    };
    // Every (row group, field)'s column chunks, in the order they are fetched into `buf`.
    let mut runs: Vec<(u64, usize)> = Vec::new();
    let mut groups = Vec::with_capacity(p.row_groups.len());
    for &rg in &p.row_groups {
        let Some(group) = meta.row_groups.get(rg) else {
            continue;
        };
        let mut per_field = Vec::with_capacity(fields.len());
        for field in &fields {
            let chunks: Vec<&ColumnChunkMetadata> = group
                .columns_under_root_iter(field.name.as_str())
                .map(|it| it.collect())
                .unwrap_or_default();
            let mut placed = Vec::with_capacity(chunks.len());
            for m in chunks {
                let r = m.byte_range();
                let len = usize::try_from(r.end.saturating_sub(r.start)).map_err(|_| {
                    DataFrameError::invalid(
                        "object",
                        format!("{} has a column chunk too large to address", p.path),
                    )
                })?;
                let at: usize = runs.iter().map(|r| r.1).sum();
                runs.push((r.start, len));
                placed.push((m, at, len));
            }
            per_field.push(placed);
        }
        groups.push((group.num_rows(), per_field));
    }
    let total: usize = runs.iter().map(|r| r.1).sum();
    let mut buf = vec![0u8; total];
    p.storage.read_ranges_into(&p.path, &runs, &mut buf)?;
    let buf = Buffer::from_vec(buf);
    let mut frames = Vec::with_capacity(groups.len());
    for (rows, per_field) in groups {
        let mut columns = Vec::with_capacity(fields.len());
        for (field, placed) in fields.iter().zip(per_field) {
            let chunks = placed
                .into_iter()
                .map(|(m, at, len)| (m, buf.clone().sliced(at..at + len)))
                .collect();
            let (arrays, _) = to_deserializer(chunks, (*field).clone(), None).map_err(parse)?;
            let series = Series::try_from((*field, arrays)).map_err(parse)?;
            columns.push(series.into_column());
        }
        frames.push(PlFrame::new(rows, columns).map_err(parse)?);
    }
    let schema: ArrowSchema = fields
        .iter()
        .map(|f| (f.name.clone(), (*f).clone()))
        .collect();
    partition::concat(frames, Some(&Schema::from_arrow_schema(&schema)))
}

brisk_core::register!(read_parquet_piece as "brisk_dataframe.read_parquet_piece");

struct FileMeta {
    info: FileInfo,
    meta: Arc<FileMetadata>,
    arrow: Arc<ArrowSchema>,
    /// First row of each row group.
    starts: Vec<u64>,
    /// Its hive partition values.
    hive: Vec<HiveValue>,
}

/// A piece before projection: a file and some of its row groups.
#[derive(Clone)]
struct Piece {
    file: usize,
    row_groups: Vec<usize>,
}

struct ParquetScan {
    files: Vec<FileMeta>,
    pieces: Vec<Piece>,
    schema: Schema,
    storage: Storage,
    /// One row per file of `files`: the hive partition values (`None`: no keys).
    hive: Option<PlFrame>,
}

impl ParquetScan {
    fn surviving(&self, piece: &Piece, predicate: Option<&Expr>) -> Vec<usize> {
        let Some(pred) = predicate else {
            return piece.row_groups.clone();
        };
        if let Some(values) = &self.hive
            && !hive::files_may_match(&values.slice(piece.file as i64, 1), pred)
                .first()
                .copied()
                .unwrap_or(true)
        {
            return Vec::new();
        }
        let f = &self.files[piece.file];
        let keep = crate::io::stats::row_groups_may_match(&f.meta, &f.arrow, pred);
        piece
            .row_groups
            .iter()
            .copied()
            .filter(|&rg| keep.get(rg).copied().unwrap_or(true))
            .collect()
    }
}

fn slices(f: &FileMeta, rgs: &[usize]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut prev: Option<usize> = None;
    for &rg in rgs {
        let n = f.meta.row_groups[rg].num_rows() as u64;
        match (prev, out.last_mut()) {
            (Some(p), Some(last)) if p + 1 == rg => last.1 += n,
            _ => out.push((f.starts[rg], n)),
        }
        prev = Some(rg);
    }
    out
}

impl ScanSource for ParquetScan {
    fn label(&self) -> &'static str {
        "read-parquet"
    }
    fn npartitions(&self) -> usize {
        self.pieces.len()
    }
    fn projectable(&self) -> bool {
        true
    }
    fn filterable(&self) -> bool {
        true
    }
    fn partition(&self, i: usize, columns: Option<&[String]>, predicate: Option<&Expr>) -> GNode {
        let piece = &self.pieces[i];
        let f = &self.files[piece.file];
        let rgs = self.surviving(piece, predicate);
        let schema = match columns {
            Some(c) => crate::optimize::select_schema(&self.schema, c),
            None => self.schema.clone(),
        };
        let spec = ParquetPiece {
            path: f.info.url.clone(),
            slices: slices(f, &rgs),
            columns: columns.map(<[String]>::to_vec),
            predicate: predicate.cloned(),
            schema,
            size: f.info.size,
            row_groups: rgs,
            storage: self.storage.clone(),
            parallel_decode: self.pieces.len()
                < std::thread::available_parallelism().map_or(1, |n| n.get()),
            hive: f.hive.clone(),
        };
        GNode::Task(Task::new(
            read_parquet_piece,
            vec![Arg::Literal(Value::new(spec))],
        ))
    }
    fn may_match(&self, predicate: &Expr) -> Vec<bool> {
        self.pieces
            .iter()
            .map(|p| !self.surviving(p, Some(predicate)).is_empty())
            .collect()
    }
}

/// A lazy Parquet reader: `ReadParquet::new("data/*.parquet").columns(["a"]).finish()`.
#[derive(Debug, Clone)]
#[must_use]
pub struct ReadParquet {
    pattern: String,
    columns: Option<Vec<String>>,
    filter: Option<Expr>,
    split: SplitRowGroups,
    storage: Storage,
    hive: Option<bool>,
}

impl ReadParquet {
    /// Read the files matching `pattern` (a path, a directory or a glob).
    pub fn new(pattern: impl Into<String>) -> Self {
        ReadParquet {
            pattern: pattern.into(),
            columns: None,
            filter: None,
            split: SplitRowGroups::Blocksize(128 * 1024 * 1024),
            storage: Storage::default(),
            hive: None,
        }
    }

    /// Read `key=value` directories (`year=2015/month=01/part.0.parquet`) as columns, added
    /// after the files' own columns, typed as Polars types them (integers when every value
    /// is one, then floats, booleans, else text; `__HIVE_DEFAULT_PARTITION__` is null). A
    /// [`ReadParquet::filter`] on these columns drops whole files before any is opened.
    /// Default, as in Polars: on when the pattern is a directory (listed recursively), off
    /// for a glob or a file.
    pub fn hive_partitioning(mut self, on: bool) -> Self {
        self.hive = Some(on);
        self
    }

    /// Read only these columns.
    pub fn columns<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Keep only rows where `predicate` holds; row groups whose statistics rule it out are
    /// dropped now (fewer partitions), others are filtered as they are read.
    pub fn filter(mut self, predicate: Expr) -> Self {
        self.filter = Some(predicate);
        self
    }

    /// How row groups become partitions (default: up to 128 MiB uncompressed per partition).
    pub fn split_row_groups(mut self, split: SplitRowGroups) -> Self {
        self.split = split;
        self
    }

    /// Credentials and endpoints for object stores (default: from the environment).
    pub fn storage_options(mut self, options: brisk_io::StorageOptions) -> Self {
        self.storage = Storage::new(options);
        self
    }

    /// Build the lazy dataframe (reads every file's footer).
    pub fn finish(self) -> Result<DataFrame> {
        if let SplitRowGroups::Blocksize(0) = self.split {
            return Err(DataFrameError::invalid("blocksize", "must be positive"));
        }
        let mut layout = hive::Layout::discover(&self.storage, &self.pattern, self.hive)?;
        if let (Some(pred), Some(values)) = (&self.filter, &layout.values) {
            // Whole files whose partition values rule the filter out are never opened; when
            // none is left, the first stays (its footer gives the schema; the filter then
            // leaves one empty partition).
            let mut keep = hive::files_may_match(values, pred);
            if !keep.iter().any(|k| *k)
                && let Some(first) = keep.first_mut()
            {
                *first = true;
            }
            layout.retain(&keep)?;
        }
        let mut files = Vec::with_capacity(layout.files.len());
        let mut schema: Option<Schema> = None;
        for info in layout.files.clone() {
            let parse = |source| DataFrameError::Parse {
                path: info.url.clone(),
                start: 0,
                end: info.size,
                source,
            };
            let (arrow, meta) = match source::local_path(&info.url) {
                Some(local) => footer(ParquetReader::new(source::open_local(&local)?)),
                None => footer(ParquetReader::new(source::object_footer(
                    &self.storage,
                    &info.url,
                    info.size,
                )?)),
            }
            .map_err(parse)?;
            let s = Schema::from_arrow_schema(&arrow);
            match &schema {
                None => {
                    layout.retype(&s)?;
                    schema = Some(s);
                }
                Some(first) if first != &s => {
                    return Err(DataFrameError::SchemaMismatch {
                        path: info.url.clone(),
                        first: files
                            .first()
                            .map(|f: &FileMeta| f.info.url.clone())
                            .unwrap_or_default(),
                        expected: partition::schema_text(first),
                        found: partition::schema_text(&s),
                    });
                }
                Some(_) => {}
            }
            let mut starts = Vec::with_capacity(meta.row_groups.len());
            let mut acc = 0u64;
            for rg in &meta.row_groups {
                starts.push(acc);
                acc += rg.num_rows() as u64;
            }
            let hive = match &schema {
                Some(s) => layout.values_of(files.len(), s),
                None => Vec::new(),
            };
            files.push(FileMeta {
                info,
                meta,
                arrow,
                starts,
                hive,
            });
        }
        let mut schema = schema.unwrap_or_default();
        // Partition keys not stored in the files come after the files' columns.
        if let Some(values) = &layout.values {
            for c in values.columns() {
                if !schema.contains(c.name()) {
                    schema.with_column(c.name().clone(), c.dtype().clone());
                }
            }
        }
        let mut pieces = Vec::new();
        for (fi, f) in files.iter().enumerate() {
            let rgs = &f.meta.row_groups;
            if rgs.is_empty() {
                pieces.push(Piece {
                    file: fi,
                    row_groups: vec![],
                });
                continue;
            }
            match self.split {
                SplitRowGroups::PerFile => pieces.push(Piece {
                    file: fi,
                    row_groups: (0..rgs.len()).collect(),
                }),
                SplitRowGroups::PerRowGroup => {
                    for rg in 0..rgs.len() {
                        pieces.push(Piece {
                            file: fi,
                            row_groups: vec![rg],
                        });
                    }
                }
                SplitRowGroups::Blocksize(bs) => {
                    let mut cur = Vec::new();
                    let mut bytes = 0u64;
                    for (rg, m) in rgs.iter().enumerate() {
                        let b = m.total_byte_size() as u64;
                        if !cur.is_empty() && bytes + b > bs {
                            pieces.push(Piece {
                                file: fi,
                                row_groups: std::mem::take(&mut cur),
                            });
                            bytes = 0;
                        }
                        cur.push(rg);
                        bytes += b;
                    }
                    pieces.push(Piece {
                        file: fi,
                        row_groups: cur,
                    });
                }
            }
        }
        let mut scan = ParquetScan {
            files,
            pieces,
            schema: schema.clone(),
            storage: self.storage.clone(),
            hive: layout.values.take(),
        };
        if let Some(pred) = &self.filter {
            let keep = scan.may_match(pred);
            let kept: Vec<Piece> = scan
                .pieces
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(p, _)| p.clone())
                .collect();
            scan.pieces = if kept.is_empty() {
                // Keep one (empty after filtering) partition so the frame has a schema.
                scan.pieces.into_iter().take(1).collect()
            } else {
                kept
            };
        }
        let schema = Arc::new(schema);
        let n = scan.pieces.len().max(1);
        if scan.pieces.is_empty() {
            scan.pieces.push(Piece {
                file: 0,
                row_groups: vec![],
            });
        }
        let mut df = DataFrame::from_node(Node::new(
            Op::Scan {
                source: Arc::new(scan),
                columns: None,
                predicate: None,
            },
            schema,
            n,
            None,
        ));
        if let Some(pred) = self.filter {
            df = df.filter(pred)?;
        }
        if let Some(cols) = self.columns {
            df = df.select(
                cols.iter()
                    .map(|c| polars::prelude::col(c.as_str()))
                    .collect::<Vec<_>>(),
            )?;
        }
        Ok(df)
    }
}

/// The Arrow schema and metadata in a Parquet file's footer.
fn footer<R: MmapBytesReader>(
    mut reader: ParquetReader<R>,
) -> polars::prelude::PolarsResult<(Arc<ArrowSchema>, Arc<FileMetadata>)> {
    let arrow = reader.schema()?;
    let meta = Arc::clone(reader.get_metadata()?);
    Ok((arrow, meta))
}

/// Read Parquet files named by a path, directory or glob (see [`ReadParquet`] for options).
pub fn read_parquet(pattern: impl Into<String>) -> Result<DataFrame> {
    ReadParquet::new(pattern).finish()
}

/// Write `df` as a Parquet file at `url` (used by `to_parquet`).
pub(crate) fn write_frame(
    df: &mut PlFrame,
    url: &str,
    storage: &Storage,
    options: &crate::io::write::ParquetOptions,
) -> Result<u64> {
    let mut w = source::create(storage, url)?;
    let n = df.height() as u64;
    polars::prelude::ParquetWriter::new(&mut w)
        .with_compression(options.compression.polars_compression()?)
        .with_row_group_size(options.row_group_size)
        .finish(df)
        .map_err(DataFrameError::polars("to_parquet"))?;
    source::finish(url, w)?;
    Ok(n)
}
