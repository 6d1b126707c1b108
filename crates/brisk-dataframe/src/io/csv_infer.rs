//! What real CSV files contain: column types inferred across the files of a glob, common
//! null tokens, and errors that name the file, the line and the `ReadCsv` option that fixes
//! them.
//!
//! - **Types.** The first file's sample used to decide every column, so a glob whose first
//!   file holds only a header read every column as text. Now the samples of the first
//!   [`VOTERS`] files that have at least one record each vote (a file with only a header, or
//!   nothing, does not; nor does one with another header, reported when read), and the votes
//!   widen: Int64 and Float64 make Float64, a null-only column takes the others' type. Types
//!   that do not widen (text in an integer column) keep the first vote, and the value that
//!   does not fit is reported when its block is read (below), as Dask and Polars do, but
//!   with the file, line and the option to use.
//! - **Nulls.** Empty fields and, unless `ReadCsv::null_values` says otherwise,
//!   [`DEFAULT_NULL_VALUES`] (pandas' missing-value tokens, less the spellings of NaN: NaN is
//!   a float value in Polars) are null.
//! - **Errors.** When Polars cannot parse a block, the block is read again as text and the
//!   first value that does not fit its column's type is found: the error names the file, the
//!   line, the column and the value, and says which `ReadCsv` option to use.

use std::io::Cursor;

use polars::prelude::{
    CsvReadOptions, DataFrame as PlFrame, DataType, NullValues, Schema, SerReader,
};

use crate::error::{DataFrameError, Result};
use crate::source::{self, FileInfo, Storage, Version};

/// How many files with records vote on the column types.
pub(crate) const VOTERS: usize = 4;

/// Tokens read as null unless `ReadCsv::null_values` is given.
pub const DEFAULT_NULL_VALUES: &[&str] = &[
    "NA", "N/A", "n/a", "NULL", "null", "None", "<NA>", "#N/A", "#NA",
];

/// How a sample is parsed for inference.
pub(crate) struct Sampling<'a> {
    pub separator: u8,
    pub quote: Option<u8>,
    pub has_header: bool,
    pub null_values: &'a [String],
    pub try_parse_dates: bool,
    pub sample: u64,
    pub comment_prefix: Option<&'a str>,
    pub ignore_errors: bool,
    pub truncate_ragged_lines: bool,
    /// Lines skipped at the start of every file (`first_sample` has them skipped already).
    pub skip_rows: usize,
}

impl Sampling<'_> {
    fn parse(&self, bytes: &[u8], url: &str) -> Result<PlFrame> {
        let nulls = self.null_values.to_vec();
        CsvReadOptions::default()
            .with_has_header(self.has_header)
            .with_infer_schema_length(None)
            .with_raise_if_empty(false)
            .with_ignore_errors(self.ignore_errors)
            .map_parse_options(|p| {
                let p = p
                    .with_separator(self.separator)
                    .with_quote_char(self.quote)
                    .with_comment_prefix(self.comment_prefix)
                    .with_truncate_ragged_lines(self.truncate_ragged_lines)
                    .with_try_parse_dates(self.try_parse_dates);
                if nulls.is_empty() {
                    p
                } else {
                    p.with_null_values(Some(NullValues::AllColumns(
                        nulls.iter().map(|s| s.as_str().into()).collect(),
                    )))
                }
            })
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
            .map_err(|source| DataFrameError::Parse {
                path: url.to_string(),
                start: 0,
                end: bytes.len() as u64,
                source: brisk_advice(source),
            })
    }
}

/// The schema of a sample, with text columns whose every value is a float spelling Polars'
/// inference leaves as text (`nan`, `NaN`, `inf`, `-inf` among numbers) read as Float64: NaN
/// is a float value in Polars, and a numeric column holding one should stay numeric.
fn floats_with_nan(df: &PlFrame) -> Schema {
    df.schema()
        .iter()
        .map(|(name, dtype)| {
            if dtype != &DataType::String {
                return (name.clone(), dtype.clone());
            }
            let Ok(c) = df.column(name) else {
                return (name.clone(), dtype.clone());
            };
            let floats = c
                .as_materialized_series()
                .strict_cast(&DataType::Float64)
                .is_ok_and(|f| f.null_count() == c.null_count() && c.null_count() < c.len());
            let t = if floats {
                DataType::Float64
            } else {
                dtype.clone()
            };
            (name.clone(), t)
        })
        .collect()
}

/// Polars' error with its advice about its own (Python) options replaced by the `ReadCsv`
/// option that does the same.
pub(crate) fn brisk_advice(e: polars::prelude::PolarsError) -> polars::prelude::PolarsError {
    let text = e.to_string();
    let advice: &[(&str, &str)] = &[
        (
            "truncate_ragged_lines",
            "use ReadCsv::truncate_ragged_lines(true) to drop the extra fields",
        ),
        (
            "infer_schema_length",
            "give the column's type with ReadCsv::dtype, or sample more with ReadCsv::sample",
        ),
        (
            "ignore_errors",
            "use ReadCsv::ignore_errors(true) to read such values as null",
        ),
    ];
    let Some((_, say)) = advice.iter().find(|(k, _)| text.contains(k)) else {
        return e;
    };
    // Keep Polars' description (its first line), drop its suggestions.
    let first = text.lines().next().unwrap_or_default();
    polars::prelude::PolarsError::ComputeError(format!("{first}; {say}").into())
}

/// The type both `a` (the earlier votes) and `b` fit in (see the module docs); for types
/// that do not widen into each other the earlier votes' type stays, and a value of the later
/// file that does not fit is reported when it is read (`BadValue`: file, line, option).
fn merge(a: &DataType, b: &DataType) -> DataType {
    match (a, b) {
        (x, y) if x == y => x.clone(),
        (DataType::Null, x) | (x, DataType::Null) => x.clone(),
        (x, y) if x.is_primitive_numeric() && y.is_primitive_numeric() => {
            if x.is_float() || y.is_float() {
                DataType::Float64
            } else {
                DataType::Int64
            }
        }
        (x, _) => x.clone(),
    }
}

/// The schema of `files`: the first file's sample (`first_sample`) and, while fewer than
/// [`VOTERS`] files with records have voted, the samples of the next files.
pub(crate) fn infer_schema(
    storage: &Storage,
    files: &[FileInfo],
    first_sample: &[u8],
    how: &Sampling<'_>,
) -> Result<Schema> {
    let mut fallback: Option<Schema> = None;
    let mut voted: Option<Schema> = None;
    let mut votes = 0;
    for (i, file) in files.iter().enumerate() {
        if votes >= VOTERS {
            break;
        }
        let owned;
        let bytes: &[u8] = if i == 0 {
            first_sample
        } else {
            owned = super::sample_lines(storage, file, how.sample)?;
            &owned[super::csv::skip_lines(&owned, how.skip_rows)..]
        };
        let df = how.parse(bytes, &file.url)?;
        let schema = floats_with_nan(&df);
        if df.height() == 0 {
            // A header alone (or nothing) does not vote.
            fallback.get_or_insert(schema);
            continue;
        }
        votes += 1;
        voted = Some(match voted {
            None => schema,
            Some(prev) => {
                if prev.len() != schema.len()
                    || prev
                        .iter_names()
                        .zip(schema.iter_names())
                        .any(|(a, b)| a != b)
                {
                    // Another header: this file does not vote; reading it reports the
                    // mismatch (`SchemaMismatch`, naming both files).
                    votes -= 1;
                    voted = Some(prev);
                    continue;
                }
                prev.iter()
                    .zip(schema.iter())
                    .map(|((n, a), (_, b))| (n.clone(), merge(a, b)))
                    .collect()
            }
        });
    }
    Ok(voted.or(fallback).unwrap_or_default())
}

/// Where a block that Polars could not parse goes wrong: the block's records are read again
/// as text and each column that is not text is cast strictly; the first value that does not
/// cast is reported with its line (counted from the file's start).
pub(crate) struct Locate<'a> {
    pub storage: &'a Storage,
    pub path: &'a str,
    pub version: &'a Version,
    pub start: u64,
    pub end: u64,
    pub schema: &'a Schema,
    pub separator: u8,
    pub quote: Option<u8>,
    pub has_header: bool,
    pub null_values: &'a [String],
    pub skip_rows: usize,
    pub comment_prefix: Option<&'a str>,
}

impl Locate<'_> {
    /// The error naming the first value that does not fit, or `None` if none is found (then
    /// the caller keeps Polars' error).
    pub fn bad_value(&self) -> Option<DataFrameError> {
        let bytes =
            source::read_block(self.storage, self.path, self.version, self.start, self.end).ok()?;
        let lead = if self.start == 0 {
            super::csv::skip_lines(&bytes, self.skip_rows)
        } else {
            0
        };
        let skip = if self.start == 0 && self.has_header {
            bytes[lead..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(bytes.len(), |p| lead + p + 1)
        } else {
            lead
        };
        let text_schema: Schema = self
            .schema
            .iter_names()
            .map(|n| (n.clone(), DataType::String))
            .collect();
        let nulls = self.null_values.to_vec();
        let text = CsvReadOptions::default()
            .with_has_header(false)
            .with_schema(Some(std::sync::Arc::new(text_schema)))
            .map_parse_options(|p| {
                let p = p
                    .with_separator(self.separator)
                    .with_quote_char(self.quote)
                    .with_comment_prefix(self.comment_prefix)
                    .with_truncate_ragged_lines(true);
                if nulls.is_empty() {
                    p
                } else {
                    p.with_null_values(Some(NullValues::AllColumns(
                        nulls.iter().map(|s| s.as_str().into()).collect(),
                    )))
                }
            })
            .into_reader_with_file_handle(Cursor::new(&bytes[skip..]))
            .finish()
            .ok()?;
        let mut first: Option<(usize, String, String, DataType)> = None;
        for (name, dtype) in self.schema.iter() {
            if dtype == &DataType::String {
                continue;
            }
            let col = text.column(name).ok()?.as_materialized_series();
            let cast = col.cast(dtype).ok()?;
            let before = col.is_null();
            let after = cast.is_null();
            let bad = after
                .iter()
                .zip(before.iter())
                .position(|(a, b)| a == Some(true) && b == Some(false));
            if let Some(row) = bad
                && first.as_ref().is_none_or(|f| row < f.0)
            {
                let value = col.str().ok()?.get(row).unwrap_or_default().to_string();
                first = Some((row, name.to_string(), value, dtype.clone()));
            }
        }
        let (row, column, value, dtype) = first?;
        // Lines before the block, plus the header line of a first block, plus the row.
        let before = if self.start == 0 {
            0
        } else {
            source::read_head(self.storage, self.path, self.version, self.start)
                .ok()?
                .iter()
                .filter(|&&c| c == b'\n')
                .count()
        };
        let header = if self.start == 0 {
            self.skip_rows + usize::from(self.has_header)
        } else {
            0
        };
        Some(DataFrameError::BadValue {
            path: self.path.to_string(),
            line: before + header + row + 1,
            column,
            value,
            dtype: dtype.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn votes_merge_to_the_type_all_fit_in() {
        assert_eq!(
            merge(&DataType::Int64, &DataType::Float64),
            DataType::Float64
        );
        assert_eq!(merge(&DataType::Null, &DataType::Int64), DataType::Int64);
        assert_eq!(merge(&DataType::Int64, &DataType::String), DataType::Int64);
        assert_eq!(merge(&DataType::String, &DataType::Int64), DataType::String);
    }
}
