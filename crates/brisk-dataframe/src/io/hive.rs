//! Hive-partitioned Parquet datasets: `root/year=2015/month=01/part.0.parquet`.
//!
//! **Reading.** A directory given to `read_parquet` is listed recursively (hidden entries, a
//! path component starting with `.` or `_`, are skipped as pyarrow does), and every
//! `key=value` directory between the root and the file becomes a column. Parsing and typing
//! are Polars' own (`polars_plan::plans::hive`): values are percent-decoded,
//! `__HIVE_DEFAULT_PARTITION__` (and an empty value) is null, and a key's type is inferred
//! over all its values as Polars' `scan_parquet` does (`Int64` when every value is an integer,
//! then `Float64`, `Boolean`, else `String`). What Brisk adds around it, because Polars'
//! function trusts its input:
//!
//! - every file must carry the same keys in the same order (otherwise the columns would be
//!   ragged); a file that differs is [`DataFrameError::HivePartition`] naming it;
//! - a key that is also a column inside the files takes the file's type (as in Polars), and
//!   when that column is read its values are checked against the path: a file whose column
//!   disagrees with its directory is an error naming the file, never a silent choice.
//!
//! **Pruning.** A filter given to the reader (`ReadParquet::filter`) is split into its `&`
//! terms; the elementwise terms that read only partition keys are evaluated by Polars on a
//! small frame of one row per file (the parsed keys), and files where they are false or null
//! are dropped *before any file is opened* (their footers are never read). Because the keys
//! are constant within a file this is exact, not a statistics guess. The same test runs again
//! when the optimizer pushes a later `filter` into the scan (those files' footers were read
//! when the frame was built, but no task reads them).
//!
//! The types used for pruning before any file is opened are the ones inferred from the paths;
//! a key that turns out to be stored in the files too is retyped from the file's schema
//! afterwards (for the values the frame returns and for later pruning).
//!
//! **Writing** (`WriteParquet::partition_by`): each partition is split by the key columns
//! (Polars' `partition_by_stable`), and each group is written without its key columns to
//! `root/k1=v1/k2=v2/part.{i}.parquet`, `i` being the partition number, so partitions never
//! overwrite each other. Directory names are made by Polars' `HivePathFormatter` (values cast
//! to text, percent-encoded, null as `__HIVE_DEFAULT_PARTITION__`), the layout pyarrow's
//! `write_to_dataset` and Polars write.

use std::collections::BTreeSet;

use polars::io::hive::HivePathFormatter;
use polars::prelude::{
    ChunkCompareEq, Column, DataFrame as PlFrame, DataType, Expr, IntoLazy, Operator, Scalar,
    Schema, lit,
};
use polars_plan::plans::hive::{get_hive_parts_iter, hive_partitions_from_paths};
use polars_utils::pl_path::PlRefPath;
use serde::{Deserialize, Serialize};

use crate::columns::{ColumnSet, expr_columns};
use crate::error::{DataFrameError, Result};
use crate::source::{self, FileInfo, Storage};

/// The files of a dataset and, for a hive layout, the partition values of each.
pub(crate) struct Layout {
    /// The files, in natural order.
    pub files: Vec<FileInfo>,
    /// Each file's path below the dataset's root (what the keys are parsed from).
    rel: Vec<String>,
    /// The root (for messages).
    root: String,
    /// One row per file with the partition keys as columns (`None`: no keys).
    pub values: Option<PlFrame>,
}

fn hive_error(path: impl Into<String>, reason: impl Into<String>) -> DataFrameError {
    DataFrameError::HivePartition {
        path: path.into(),
        reason: reason.into(),
    }
}

/// Whether a path below the root holds a hidden component (`.x`, `_SUCCESS`, `_tmp/`).
fn hidden(rel: &str) -> bool {
    rel.split(['/', '\\'])
        .any(|c| c.starts_with('.') || c.starts_with('_'))
}

/// The `key=value` pairs of a path below the root (values percent-decoded; the file name
/// never counts).
fn parts(rel: &str) -> Vec<(String, String)> {
    if rel.is_empty() {
        return Vec::new();
    }
    let p = PlRefPath::new(rel);
    get_hive_parts_iter(&p)
        .map(|(k, v)| (k.to_string(), v.into_owned()))
        .collect()
}

impl Layout {
    /// The files `pattern` names. With `hive` (`None`: only when `pattern` is a directory,
    /// as in Polars), a directory is listed recursively and `key=value` directories become
    /// partition values; a glob's keys are those below its literal prefix.
    pub fn discover(storage: &Storage, pattern: &str, hive: Option<bool>) -> Result<Layout> {
        let glob = brisk_io::is_glob(pattern);
        let flat = |files: Vec<FileInfo>| Layout {
            rel: Vec::new(),
            root: pattern.to_string(),
            files,
            values: None,
        };
        if hive == Some(false) || (glob && hive.is_none()) {
            return Ok(flat(source::expand(storage, pattern)?));
        }
        let (root, files) = if glob {
            let literal = pattern
                .find(['*', '?', '['])
                .map_or(pattern, |i| &pattern[..i]);
            let root = literal.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            (root, source::expand(storage, pattern)?)
        } else if let Some(files) = list_dir(storage, pattern)? {
            (pattern.trim_end_matches('/').to_string(), files)
        } else {
            // One file: keys only when asked for, from the directories above it.
            let files = source::expand(storage, pattern)?;
            if hive != Some(true) {
                return Ok(flat(files));
            }
            let root = pattern.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            (root, files)
        };
        let rel: Vec<String> = files
            .iter()
            .map(|f| rel_of(&root, &f.url).to_string())
            .collect();
        let mut layout = Layout {
            files,
            rel,
            root,
            values: None,
        };
        layout.values = layout.parse(&Schema::default())?;
        Ok(layout)
    }

    /// Check that every file has the same keys, then let Polars type and build the values
    /// (`reader`: the files' schema, whose types win for keys stored in the files too).
    fn parse(&self, reader: &Schema) -> Result<Option<PlFrame>> {
        let mut first: Option<(Vec<String>, usize)> = None;
        for (i, r) in self.rel.iter().enumerate() {
            let names: Vec<String> = parts(r).into_iter().map(|(k, _)| k).collect();
            let url = &self.files[i].url;
            if names.iter().any(String::is_empty) {
                return Err(hive_error(
                    url,
                    "has a partition directory with no key name",
                ));
            }
            let unique: BTreeSet<&String> = names.iter().collect();
            if unique.len() != names.len() {
                return Err(hive_error(
                    url,
                    format!("repeats a partition key ({})", names.join(", ")),
                ));
            }
            match &first {
                None => first = Some((names, i)),
                Some((keys, at)) if *keys != names => {
                    return Err(hive_error(
                        url,
                        format!(
                            "has partition keys [{}] but {} has [{}]; every file of a \
                             hive-partitioned dataset needs the same keys in the same order",
                            names.join(", "),
                            self.files[*at].url,
                            keys.join(", ")
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if first.is_none_or(|(k, _)| k.is_empty()) {
            return Ok(None);
        }
        let paths: Vec<PlRefPath> = self
            .rel
            .iter()
            .map(|r| PlRefPath::new(r.as_str()))
            .collect();
        let df = hive_partitions_from_paths(&paths, 0, None, reader, false).map_err(|e| {
            hive_error(
                &self.root,
                format!("cannot parse the partition values: {e}"),
            )
        })?;
        Ok(df.map(|d| d.df().clone()))
    }

    /// Keep only the files where `keep` is true.
    pub fn retain(&mut self, keep: &[bool]) -> Result<()> {
        let mut i = 0;
        self.files.retain(|_| {
            i += 1;
            keep.get(i - 1).copied().unwrap_or(true)
        });
        let mut i = 0;
        self.rel.retain(|_| {
            i += 1;
            keep.get(i - 1).copied().unwrap_or(true)
        });
        if let Some(v) = &self.values {
            let mask: polars::prelude::BooleanChunked =
                keep.iter()
                    .map(|k| Some(*k))
                    .collect::<polars::prelude::BooleanChunked>();
            self.values = Some(
                v.filter(&mask)
                    .map_err(DataFrameError::polars("read_parquet (hive partitions)"))?,
            );
        }
        Ok(())
    }

    /// Retype the keys that are also columns of the files (`schema`) as Polars does: the
    /// file's type wins.
    pub fn retype(&mut self, schema: &Schema) -> Result<()> {
        let overlaps = self
            .values
            .as_ref()
            .is_some_and(|v| v.get_column_names().iter().any(|n| schema.contains(n)));
        if overlaps {
            self.values = self.parse(schema)?;
        }
        Ok(())
    }

    /// The partition values of file `i`, and whether each is stored in the files too.
    pub fn values_of(&self, i: usize, schema: &Schema) -> Vec<HiveValue> {
        let Some(v) = &self.values else {
            return Vec::new();
        };
        v.columns()
            .iter()
            .filter_map(|c| {
                let av = c.get(i).ok()?.into_static();
                Some(HiveValue {
                    name: c.name().to_string(),
                    value: Scalar::new(c.dtype().clone(), av),
                    in_file: schema.contains(c.name()),
                })
            })
            .collect()
    }
}

/// Every file below the directory (or object prefix) `pattern`, recursively, without hidden
/// entries, in natural order; `None` when `pattern` is not a directory (a file or object).
fn list_dir(storage: &Storage, pattern: &str) -> Result<Option<Vec<FileInfo>>> {
    let local = source::local_path(pattern);
    if local.as_ref().is_some_and(|p| !p.is_dir()) {
        return Ok(None);
    }
    let root = pattern.trim_end_matches('/');
    let mut all = match storage.expand(&format!("{root}/**/*")) {
        Ok(all) => all,
        // An object, not a prefix: nothing below it.
        Err(brisk_io::IoError::NoMatch { .. }) if local.is_none() => return Ok(None),
        Err(brisk_io::IoError::NoMatch { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    all.retain(|f| !hidden(rel_of(root, &f.url)));
    if all.is_empty() {
        if local.is_none() {
            return Ok(None);
        }
        return Err(brisk_io::IoError::NoMatch {
            pattern: pattern.to_string(),
        }
        .into());
    }
    all.sort_by(|a, b| source::natural_cmp(&a.url, &b.url));
    Ok(Some(all))
}

/// The part of `url` below `root` (without a leading separator).
fn rel_of<'a>(root: &str, url: &'a str) -> &'a str {
    url.strip_prefix(root)
        .unwrap_or(url)
        .trim_start_matches(['/', '\\'])
}

/// One partition value of one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HiveValue {
    /// The key.
    pub name: String,
    /// The value (typed).
    pub value: Scalar,
    /// Whether the files hold this column too (then it is read and checked, not added).
    pub in_file: bool,
}

/// The `&` terms of `e`.
fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::BinaryExpr {
            left,
            op: Operator::And | Operator::LogicalAnd,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        _ => out.push(e),
    }
}

/// For each row of `values` (one per file): whether some row of that file may satisfy
/// `pred`. Exact for the elementwise `&` terms of `pred` that read only partition keys; every
/// other term is ignored (it is applied to the rows read). A term Polars cannot evaluate
/// prunes nothing.
pub(crate) fn files_may_match(values: &PlFrame, pred: &Expr) -> Vec<bool> {
    let n = values.height();
    let schema = values.schema();
    let mut terms = Vec::new();
    conjuncts(pred, &mut terms);
    let usable: Vec<Expr> = terms
        .into_iter()
        .filter(|t| match expr_columns(t) {
            ColumnSet::Some(s) => !s.is_empty() && s.iter().all(|c| schema.contains(c)),
            ColumnSet::All => false,
        })
        .filter(|t| {
            crate::exprplan::plan("filter", schema, std::slice::from_ref(*t))
                .is_ok_and(|p| p.is_elementwise())
        })
        .cloned()
        .collect();
    let Some(cond) = usable.into_iter().reduce(|a, b| a.and(b)) else {
        return vec![true; n];
    };
    let out = values
        .clone()
        .lazy()
        .select([cond.fill_null(lit(false)).alias("__brisk_keep")])
        .collect();
    match out
        .as_ref()
        .map(|df| df.column("__brisk_keep").map(|c| c.bool()))
    {
        Ok(Ok(Ok(b))) if b.len() == n => b.iter().map(|x| x.unwrap_or(false)).collect(),
        Ok(Ok(Ok(b))) if b.len() == 1 => vec![b.get(0).unwrap_or(false); n],
        other => {
            tracing::debug!(
                result = ?other.err(),
                "cannot evaluate the filter on hive partition values; pruning no file"
            );
            vec![true; n]
        }
    }
}

/// Add the partition values of `hive` that are not stored in the file to `df` (those in
/// `wanted`, or all), and check those that are stored in it against the file's column.
pub(crate) fn attach(
    mut df: PlFrame,
    hive: &[HiveValue],
    wanted: Option<&[String]>,
    path: &str,
) -> Result<PlFrame> {
    let height = df.height();
    for h in hive {
        if wanted.is_some_and(|w| !w.contains(&h.name)) {
            continue;
        }
        if h.in_file {
            let Ok(c) = df.column(&h.name) else { continue };
            let expected = Column::new_scalar(h.name.as_str().into(), h.value.clone(), height);
            let same = c
                .as_materialized_series()
                .equal_missing(expected.as_materialized_series())
                .map_err(DataFrameError::polars("read_parquet (hive partitions)"))?;
            if let Some(row) = same.iter().position(|x| x != Some(true)) {
                let found = c.get(row).map(|v| v.to_string()).unwrap_or_default();
                return Err(hive_error(
                    path,
                    format!(
                        "column {:?} holds {found} (row {row}) but the path says {}={}",
                        h.name,
                        h.name,
                        h.value.value()
                    ),
                ));
            }
            continue;
        }
        let col = Column::new_scalar(h.name.as_str().into(), h.value.clone(), height);
        df.with_column(col)
            .map_err(DataFrameError::polars("read_parquet (hive partitions)"))?;
    }
    Ok(df)
}

/// Check the key columns of `partition_by` against the frame's `schema`: present, of a type
/// a directory name can hold, and not every column.
pub(crate) fn check_partition_by(schema: &Schema, keys: &[String]) -> Result<()> {
    if keys.is_empty() {
        return Err(DataFrameError::invalid(
            "partition_by",
            "give at least one column",
        ));
    }
    for k in keys {
        let Some(dt) = schema.get(k) else {
            return Err(DataFrameError::ColumnNotFound {
                operation: "write_parquet (partition_by)",
                column: k.clone(),
                available: crate::partition::names_text(schema.iter_names()),
            });
        };
        let ok = dt.is_primitive_numeric()
            || dt.is_bool()
            || dt.is_string()
            || dt.is_temporal()
            || matches!(dt, DataType::Null);
        if !ok {
            return Err(DataFrameError::UnsupportedDtype {
                operation: "write_parquet (partition_by)",
                column: k.clone(),
                dtype: dt.to_string(),
                reason: "cannot name a hive partition directory (use numbers, text, booleans \
                         or dates)",
            });
        }
    }
    let unique: BTreeSet<&String> = keys.iter().collect();
    if unique.len() != keys.len() {
        return Err(DataFrameError::invalid(
            "partition_by",
            format!("a column is named twice ({})", keys.join(", ")),
        ));
    }
    if schema
        .iter_names()
        .all(|n| keys.iter().any(|k| k == n.as_str()))
    {
        return Err(DataFrameError::invalid(
            "partition_by",
            "every column is a partition key, so the files would hold no columns",
        ));
    }
    Ok(())
}

/// Split `df` by `keys`: for each group, its directory below the root (`k1=v1/k2=v2/`) and
/// its rows without the key columns. An empty frame gives no groups.
pub(crate) fn split_by_keys(df: &PlFrame, keys: &[String]) -> Result<Vec<(String, PlFrame)>> {
    if df.height() == 0 {
        return Ok(Vec::new());
    }
    let groups = df
        .partition_by_stable(keys.iter().map(String::as_str), true)
        .map_err(DataFrameError::polars("write_parquet (partition_by)"))?;
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        // The keys as text here, so that the formatter's own cast cannot fail.
        let key_cols = g
            .select(keys.iter().map(String::as_str))
            .map_err(DataFrameError::polars("write_parquet (partition_by)"))?
            .head(Some(1))
            .columns()
            .iter()
            .map(|c| c.cast(&DataType::String))
            .collect::<polars::prelude::PolarsResult<Vec<Column>>>()
            .map_err(DataFrameError::polars("write_parquet (partition_by)"))?;
        let dir = HivePathFormatter::new(&key_cols).to_string();
        let rest = g.drop_many(keys.iter().map(String::as_str));
        out.push((dir, rest));
    }
    Ok(out)
}
