//! Brisk's own parse of a CSV block into Polars columns, for the common case: the read
//! columns are Int64, Float64 or String, and every value is plainly written. The fields are
//! found by the SIMD tokenizer ([`super::csv_tokenize`]), so only the read columns are
//! looked at; Polars' stable-Rust reader counts lines and splits every field byte by byte
//! (two thirds of the CPU time of `read_csv` + a group-by).
//!
//! Anything out of the ordinary — a ragged or empty line, a stray quote (one that neither
//! opens nor closes a field, or one left open), a quoted number, a number that is
//! not plain decimal, `inf`/`nan`, invalid UTF-8, another column type — gives up
//! ([`Unusual`]) and the block is read by Polars instead, so results and errors stay
//! Polars' own. What is accepted parses as Polars parses it: integers of up to 18 digits
//! with an optional minus sign, floats with `fast-float2` (the parser Polars uses), empty
//! fields and the `null_values` as null, quoted strings unquoted (`""` is an empty string).

use polars::prelude::{
    ChunkedArray, Column, DataFrame as PlFrame, DataType, Float64Type, Int64Type, IntoColumn,
    PlSmallStr, PolarsNumericType, StringChunkedBuilder,
};
use polars_arrow::bitmap::Bitmap;

use super::csv_tokenize::{Sink, Tokenizer, unquote};

/// The block holds something this parser leaves to Polars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unusual;

/// How one read column is parsed.
enum Builder {
    Int(Vec<i64>, Vec<u32>),
    Float(Vec<f64>, Vec<u32>),
    Str(StringChunkedBuilder),
}

/// One read column: its position in the file, name and type.
pub(crate) struct Wanted<'a> {
    pub index: usize,
    pub name: &'a str,
    pub dtype: &'a DataType,
}

/// Whether every column in `wanted` has a type this parser builds.
pub(crate) fn supports(wanted: &[Wanted<'_>], n_columns: usize) -> bool {
    n_columns > 1
        && !wanted.is_empty()
        && wanted.iter().all(|w| {
            matches!(
                w.dtype,
                DataType::Int64 | DataType::Float64 | DataType::String
            )
        })
}

/// Parse the records in `bytes` (no header), reading the `wanted` columns of a file with
/// `n_columns` columns (returned in file order). `Err(Unusual)`: let Polars read this block.
pub(crate) fn parse(
    bytes: &[u8],
    separator: u8,
    quote: Option<u8>,
    null_values: &[String],
    n_columns: usize,
    wanted: &[Wanted<'_>],
) -> Result<PlFrame, Unusual> {
    // Polars returns projected columns in file order, whatever the projection's order.
    let mut wanted: Vec<&Wanted<'_>> = wanted.iter().collect();
    wanted.sort_by_key(|w| w.index);
    let rows_hint = bytes.len() / (8 * n_columns).max(16);
    let mut sink = Columns {
        builders: wanted
            .iter()
            .map(|w| match w.dtype {
                DataType::Int64 => Builder::Int(Vec::with_capacity(rows_hint), Vec::new()),
                DataType::Float64 => Builder::Float(Vec::with_capacity(rows_hint), Vec::new()),
                _ => Builder::Str(StringChunkedBuilder::new(w.name.into(), rows_hint)),
            })
            .collect(),
        seen: 0,
        rows: 0,
        n_columns,
        quote: quote.unwrap_or(b'"'),
        null_values,
        longest_null: null_values.iter().map(String::len).max().unwrap_or(0),
    };
    let indices: Vec<usize> = wanted.iter().map(|w| w.index).collect();
    Tokenizer::new(separator, quote, &indices).run(bytes, &mut sink)?;
    let rows = sink.rows;
    if rows == 0 {
        // Polars decides what an empty block is.
        return Err(Unusual);
    }
    let columns: Vec<Column> = sink
        .builders
        .into_iter()
        .zip(&wanted)
        .map(|(b, w)| match b {
            Builder::Int(v, nulls) => numeric::<Int64Type>(w.name, v, &nulls),
            Builder::Float(v, nulls) => numeric::<Float64Type>(w.name, v, &nulls),
            Builder::Str(b) => b.finish().into_column(),
        })
        .collect();
    PlFrame::new(rows, columns).map_err(|_| Unusual)
}

/// A column from its values and the rows that are null.
fn numeric<T>(name: &str, values: Vec<T::Native>, nulls: &[u32]) -> Column
where
    T: PolarsNumericType,
    ChunkedArray<T>: IntoColumn,
{
    let name = PlSmallStr::from(name);
    if nulls.is_empty() {
        return ChunkedArray::<T>::from_vec(name, values).into_column();
    }
    let mut valid = vec![true; values.len()];
    for &r in nulls {
        valid[r as usize] = false;
    }
    let validity = Bitmap::from_iter(valid);
    ChunkedArray::<T>::from_vec_validity(name, values, Some(validity)).into_column()
}

/// The sink that fills the builders.
struct Columns<'a> {
    builders: Vec<Builder>,
    /// Wanted fields seen in the current record.
    seen: usize,
    rows: usize,
    n_columns: usize,
    quote: u8,
    null_values: &'a [String],
    /// The longest null token: longer fields are compared with none of them.
    longest_null: usize,
}

impl Columns<'_> {
    fn is_null(&self, raw: &[u8]) -> bool {
        raw.is_empty()
            || (raw.len() <= self.longest_null
                && self.null_values.iter().any(|n| n.as_bytes() == raw))
    }
}

impl Sink for Columns<'_> {
    type Error = Unusual;

    #[inline]
    fn field(&mut self, slot: usize, raw: &[u8], quoted: bool) -> Result<(), Unusual> {
        self.seen += 1;
        let row = self.rows as u32;
        let null = !quoted && self.is_null(raw);
        match &mut self.builders[slot] {
            Builder::Int(v, nulls) => {
                if null {
                    v.push(0);
                    nulls.push(row);
                } else if quoted {
                    return Err(Unusual);
                } else {
                    v.push(parse_int(raw).ok_or(Unusual)?);
                }
            }
            Builder::Float(v, nulls) => {
                if null {
                    v.push(0.0);
                    nulls.push(row);
                } else if quoted || !plain_float(raw) {
                    return Err(Unusual);
                } else {
                    v.push(fast_float2::parse(raw).map_err(|_| Unusual)?);
                }
            }
            Builder::Str(b) => {
                if null {
                    b.append_null();
                } else if quoted {
                    if !self.null_values.is_empty() {
                        return Err(Unusual);
                    }
                    let value = unquote(raw, self.quote);
                    b.append_value(std::str::from_utf8(&value).map_err(|_| Unusual)?);
                } else {
                    b.append_value(std::str::from_utf8(raw).map_err(|_| Unusual)?);
                }
            }
        }
        Ok(())
    }

    #[inline]
    fn end_row(&mut self, n_fields: usize) -> Result<(), Unusual> {
        if n_fields != self.n_columns || self.seen != self.builders.len() {
            return Err(Unusual);
        }
        self.seen = 0;
        self.rows += 1;
        Ok(())
    }

    /// Polars honours quotes only at field starts: it would split this line differently.
    fn stray_quote(&mut self, _pos: usize) -> Result<(), Unusual> {
        Err(Unusual)
    }
}

/// A plain decimal integer of at most 18 digits, with an optional minus sign.
#[inline]
fn parse_int(raw: &[u8]) -> Option<i64> {
    let (negative, digits) = match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, raw),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if negative { -v } else { v })
}

/// Digits, signs, a point and exponents only (no `inf`, `nan`, spaces or commas).
#[inline]
fn plain_float(raw: &[u8]) -> bool {
    raw.iter()
        .all(|&c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'))
}

#[cfg(test)]
mod tests;
