//! Partitions: Polars `DataFrame`s held in [`brisk_core::Value`]s, their encoding for crossing a
//! process boundary (Arrow IPC, via Polars' own IPC writer), and small helpers every kernel
//! uses.

use std::any::TypeId;
use std::io::Cursor;
use std::sync::Arc;

use brisk_core::codec::TypeEntry;
use brisk_core::{CodecError, TaskFailure, Value};
use polars::prelude::{
    DataFrame as PlFrame, IpcReader, IpcWriter, Schema, SchemaRef, SerReader, SerWriter,
};

use crate::error::{DataFrameError, Result};

/// The wire tag of a partition.
pub(crate) const TAG: &str = "polars::DataFrame";

fn encode(value: &Value) -> Result<Vec<u8>, CodecError> {
    let df = value
        .downcast_ref::<PlFrame>()
        .map_err(|m| CodecError::Encode {
            type_name: m.found,
            message: m.to_string(),
        })?;
    let mut out = Vec::with_capacity(df.estimated_size() + 1024);
    let mut df = df.clone();
    IpcWriter::new(&mut out)
        .finish(&mut df)
        .map_err(|e| CodecError::Encode {
            type_name: "polars DataFrame",
            message: e.to_string(),
        })?;
    Ok(out)
}

fn decode(bytes: &[u8]) -> Result<Value, CodecError> {
    IpcReader::new(Cursor::new(bytes))
        .finish()
        .map(Value::new)
        .map_err(|e| CodecError::Decode {
            tag: TAG.to_string(),
            message: e.to_string(),
        })
}

fn nbytes(value: &Value) -> usize {
    value
        .downcast_ref::<PlFrame>()
        .map(PlFrame::estimated_size)
        .unwrap_or(0)
}

fn debug(value: &Value, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match value.downcast_ref::<PlFrame>() {
        Ok(df) => write!(f, "<DataFrame {}×{}>", df.height(), df.width()),
        Err(_) => write!(f, "<{}>", value.type_name()),
    }
}

brisk_core::__private::inventory::submit! {
    TypeEntry::new(|| TAG, TypeId::of::<PlFrame>, encode, decode)
        .with_nbytes(nbytes)
        .with_debug(debug)
}

/// Wrap a frame as a task value.
pub(crate) fn value(df: PlFrame) -> Value {
    Value::new(df)
}

/// Read a task value as a frame (a clone: columns are shared, not copied).
pub(crate) fn frame(v: &Value) -> Result<PlFrame, TaskFailure> {
    v.downcast_ref::<PlFrame>()
        .cloned()
        .map_err(|m| TaskFailure::bad_argument(m.to_string()))
}

/// An empty frame with `schema`.
pub(crate) fn empty(schema: &Schema) -> PlFrame {
    PlFrame::empty_with_schema(schema)
}

/// Concatenate frames vertically; an empty list gives an empty frame of `schema`.
pub(crate) fn concat(frames: Vec<PlFrame>, schema: Option<&Schema>) -> Result<PlFrame> {
    let mut nonempty = frames.into_iter();
    let Some(mut acc) = nonempty.next() else {
        return Ok(schema.map(empty).unwrap_or_default());
    };
    for df in nonempty {
        if df.height() == 0 && acc.height() > 0 {
            continue;
        }
        if acc.height() == 0 && df.height() > 0 && acc.schema() == df.schema() {
            acc = df;
            continue;
        }
        acc.vstack_mut_owned(df)
            .map_err(DataFrameError::polars("concatenate partitions"))?;
    }
    if acc.first_col_n_chunks() > 64 {
        acc.rechunk_mut_par();
    }
    Ok(acc)
}

/// `df` with one chunk per column. A shuffle's output is made of one piece per input; Polars
/// gathers (sorts, joins, takes) from several chunks element by element, several times slower
/// than from one, so the pieces are merged once.
pub(crate) fn single_chunk(mut df: PlFrame) -> PlFrame {
    df.rechunk_mut_par();
    df
}

/// Concatenate shared frames.
pub(crate) fn concat_arcs(frames: &[Arc<PlFrame>], schema: Option<&Schema>) -> Result<PlFrame> {
    concat(frames.iter().map(|f| (**f).clone()).collect(), schema)
}

/// The schema of a frame as a shared reference.
pub(crate) fn schema_of(df: &PlFrame) -> SchemaRef {
    df.schema().clone()
}

/// A short text for a schema: `[a: i64, b: str]`.
pub(crate) fn schema_text(schema: &Schema) -> String {
    let cols: Vec<String> = schema.iter().map(|(n, dt)| format!("{n}: {dt}")).collect();
    format!("[{}]", cols.join(", "))
}

/// A short text for a list of names: `[a, b]`.
pub(crate) fn names_text<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    let v: Vec<String> = names.into_iter().map(|s| s.as_ref().to_string()).collect();
    format!("[{}]", v.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{DataType, Field, df};

    #[test]
    fn frames_round_trip_through_the_codec() {
        let df = df!("a" => [Some(1i64), None, Some(3)], "b" => ["x", "y", "z"]).unwrap();
        let v = value(df.clone());
        let (tag, bytes) = brisk_core::codec::encode(&v).unwrap();
        assert_eq!(tag, TAG);
        let back = brisk_core::codec::decode(tag, &bytes).unwrap();
        assert!(back.downcast_ref::<PlFrame>().unwrap().equals_missing(&df));
        assert!(v.nbytes() > 0);
        assert_eq!(format!("{v:?}"), "<DataFrame 3×2>");
        assert!(brisk_core::codec::decode(TAG, b"garbage").is_err());
    }

    #[test]
    fn concat_skips_empty_and_checks_schemas() {
        let a = df!("a" => [1i64, 2]).unwrap();
        let e = a.clear();
        let out = concat(vec![e.clone(), a.clone(), e, a.clone()], None).unwrap();
        assert_eq!(out.height(), 4);
        let bad = df!("a" => ["x"]).unwrap();
        assert!(concat(vec![a, bad], None).is_err());
        let s = Schema::from_iter([Field::new("z".into(), DataType::Float64)]);
        assert_eq!(concat(vec![], Some(&s)).unwrap().width(), 1);
    }
}
