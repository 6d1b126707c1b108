//! Frames whose partitions are vectors of records computed by another collection's graph
//! (`brisk::BagToDataFrame` builds on this; dask's `Bag.to_dataframe`).
//!
//! Each partition (a `Vec<T>`, the value of one key) becomes one dataframe partition,
//! converted in the task that follows it (nothing is computed until the dataframe is, except
//! the first partition when the schema is inferred). Records are anything `serde` serializes
//! to a JSON object (structs, `serde_json::Value` objects, maps with string keys) or to a JSON
//! array (tuples; columns `"0"`, `"1"`, …). Their fields are read through `serde_json::Value`.
//!
//! - **Schema.** `meta`, when given: only its columns are kept, a field a record lacks is
//!   null, and a value that does not fit its column is an error naming the partition, the
//!   record and the field. Without it, it is inferred as Dask does, by computing the first
//!   partition: columns in the order fields first appear, integers `Int64` (`UInt64` above its
//!   range), numbers with a fraction or mixed with integers `Float64`, `Boolean`, `String`; a
//!   field that is always null is `String`; an empty first partition, or a field that is a
//!   string in one record and a number in another, is an error asking for `meta`.
//! - **Types.** Integer columns take integers in range; float columns take any number;
//!   `String` columns take strings, and nested arrays and objects as their JSON text; other
//!   types (`Date`, `Datetime`, …) take strings cast strictly by Polars (`"2024-01-31"`).

use std::sync::Arc;

use brisk_core::{Arg, ComputeOptions, Func, Key, Layer, Node as GNode, Task, TaskFailure, Value};
use polars::prelude::{
    Column, DataFrame as PlFrame, DataType, NamedFrom, PlSmallStr, Schema, Series,
};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::error::DataFrameError;
use crate::frame::DataFrame;

/// What went wrong turning partitions of records into a dataframe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// A record's field does not fit its column's type.
    #[error(
        "record {record} of partition {partition}: field {field:?} is {found}, which does not \
         fit the column's type {dtype}"
    )]
    Field {
        /// The partition.
        partition: usize,
        /// The record's position in the partition.
        record: usize,
        /// The field (column).
        field: String,
        /// The column's type.
        dtype: String,
        /// The value found (shortened).
        found: String,
    },
    /// A record is not an object (struct, map) or array (tuple).
    #[error(
        "record {record} of partition {partition} is {found}, not a record with fields (a \
         struct, map or tuple)"
    )]
    NotARecord {
        /// The partition.
        partition: usize,
        /// The record's position in the partition.
        record: usize,
        /// The value found (shortened).
        found: String,
    },
    /// A record could not be serialized.
    #[error("record {record} of partition {partition} cannot be serialized: {source}")]
    Serialize {
        /// The partition.
        partition: usize,
        /// The record's position in the partition.
        record: usize,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The schema cannot be inferred from the first partition.
    #[error("cannot infer the dataframe's schema from partition 0: {reason}; pass meta")]
    Infer {
        /// Why.
        reason: String,
    },
    /// Polars could not build a column.
    #[error("partition {partition}: column {field:?}: {source}")]
    Polars {
        /// The partition.
        partition: usize,
        /// The column.
        field: String,
        /// What Polars said.
        source: polars::prelude::PolarsError,
    },
    /// Building the dataframe failed.
    #[error(transparent)]
    DataFrame(#[from] DataFrameError),
    /// Computing the first partition failed.
    #[error(transparent)]
    Compute(#[from] brisk_core::Error),
}

impl DataFrame {
    /// A lazy frame whose partition `i` is built from the records of `keys[i]`, a `Vec<T>`
    /// computed by `layers` and what they depend on (see the design note `docs/design/dataframe.md`). With
    /// `meta` the schema is given and nothing is computed now; without it the first
    /// partition is computed now and its records' schema inferred.
    ///
    /// ```
    /// # let _ = brisk_local::LocalScheduler::threaded();
    /// use brisk_core::{Collection, Key, Layer, Node, Value};
    /// use brisk_dataframe::{DataFrame, polars::prelude::ChunkAgg};
    /// #[derive(serde::Serialize)]
    /// struct Visit { user: String, pages: i64 }
    /// let keys: Vec<Key> = (0..2u32).map(|i| Key::new("visits", &[i])).collect();
    /// let part = |n: i64| Vec::from_iter((0..n).map(|i| Visit { user: format!("u{i}"), pages: i }));
    /// let nodes = vec![
    ///     (keys[0].clone(), Node::Literal(Value::new(part(3)))),
    ///     (keys[1].clone(), Node::Literal(Value::new(part(2)))),
    /// ];
    /// let layer = Layer::from_nodes("visits", nodes, vec![]);
    /// let df = DataFrame::from_records::<Visit>(vec![layer], keys, None)?;
    /// assert_eq!(df.columns(), ["user", "pages"]);
    /// assert_eq!(df.compute()?.column("pages")?.i64()?.sum(), Some(4));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_records<T: Serialize + Send + Sync + 'static>(
        layers: Vec<Arc<Layer>>,
        keys: Vec<Key>,
        meta: Option<Schema>,
    ) -> Result<DataFrame, RecordsError> {
        let meta = match meta {
            Some(m) => m,
            None => {
                let Some(first) = keys.first() else {
                    return Err(RecordsError::Infer {
                        reason: "there are no partitions".into(),
                    });
                };
                let refs: Vec<&Arc<Layer>> = layers.iter().collect();
                let graph = brisk_core::layer::materialize(&refs);
                let values = brisk_core::default_scheduler()?.get(
                    &graph,
                    std::slice::from_ref(first),
                    &ComputeOptions::optimized(),
                )?;
                let records = values
                    .first()
                    .and_then(|v| v.downcast_ref::<Vec<T>>().ok())
                    .ok_or_else(|| RecordsError::Infer {
                        reason: "internal: partition 0 is not a vector of records".into(),
                    })?;
                infer_schema(records)?
            }
        };
        let schema = Arc::new(meta);
        let s = Arc::clone(&schema);
        let func = Func::raw("records-to-dataframe", move |args: &[Value]| {
            let records = args
                .first()
                .and_then(|v| v.downcast_ref::<Vec<T>>().ok())
                .ok_or_else(|| TaskFailure::msg("internal: a partition of records is not a Vec"))?;
            let i = args
                .get(1)
                .and_then(|v| v.get::<u64>().ok())
                .unwrap_or_default() as usize;
            records_to_frame(records, &s, i)
                .map(Value::new)
                .map_err(|e| TaskFailure::from_error(Box::new(e)))
        });
        let name = brisk_core::tokenize("records-to-dataframe");
        let out: Vec<Key> = (0..keys.len())
            .map(|i| Key::with_shared_name(&name, &[i as u32]))
            .collect();
        let nodes = out
            .iter()
            .zip(&keys)
            .enumerate()
            .map(|(i, (k, b))| {
                let task = Task {
                    func: func.clone(),
                    args: vec![Arg::Key(b.clone()), Arg::Literal(Value::new(i as u64))],
                };
                (k.clone(), GNode::Task(task))
            })
            .collect();
        let layer = Layer::from_nodes(name, nodes, layers);
        Ok(DataFrame::from_graph(
            vec![layer],
            out,
            Some(Arc::unwrap_or_clone(schema)),
        )?)
    }
}

/// A short description of a JSON value for messages.
fn describe(v: &Json) -> String {
    let kind = match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_f64() => "a float",
        Json::Number(_) => "an integer",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    };
    let mut text = v.to_string();
    if text.len() > 40 {
        let cut = (0..=40)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    format!("{kind} ({text})")
}

/// A record's fields, with a tuple's elements named `"0"`, `"1"`, ….
fn fields(record: Json, partition: usize, index: usize) -> Result<Map<String, Json>, RecordsError> {
    match record {
        Json::Object(m) => Ok(m),
        Json::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect()),
        other => Err(RecordsError::NotARecord {
            partition,
            record: index,
            found: describe(&other),
        }),
    }
}

fn to_json<T: Serialize>(r: &T, partition: usize, record: usize) -> Result<Json, RecordsError> {
    serde_json::to_value(r).map_err(|source| RecordsError::Serialize {
        partition,
        record,
        source,
    })
}

/// The field names of `record` in the order it serializes them (a JSON object's map sorts
/// its keys; the serialized text keeps a struct's declaration order).
fn field_order<T: Serialize>(record: &T) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a record")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(k) = m.next_key::<String>()? {
                        m.next_value::<serde::de::IgnoredAny>()?;
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut s: A,
                ) -> Result<Keys, A::Error> {
                    let mut n = 0usize;
                    while s.next_element::<serde::de::IgnoredAny>()?.is_some() {
                        n += 1;
                    }
                    Ok(Keys((0..n).map(|i| i.to_string()).collect()))
                }
            }
            d.deserialize_any(V)
        }
    }
    serde_json::to_string(record)
        .ok()
        .and_then(|t| serde_json::from_str::<Keys>(&t).ok())
        .map(|k| k.0)
        .unwrap_or_default()
}

/// What a column's values so far say about its type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Null,
    Bool,
    Int,
    UInt,
    Float,
    Str,
}

fn kind_of(v: &Json) -> Kind {
    match v {
        Json::Null => Kind::Null,
        Json::Bool(_) => Kind::Bool,
        Json::Number(n) if n.is_i64() => Kind::Int,
        Json::Number(n) if n.is_u64() => Kind::UInt,
        Json::Number(_) => Kind::Float,
        Json::String(_) | Json::Array(_) | Json::Object(_) => Kind::Str,
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Null => "null",
        Kind::Bool => "a boolean",
        Kind::Int | Kind::UInt => "an integer",
        Kind::Float => "a number",
        Kind::Str => "a string (or nested value)",
    }
}

fn merge(a: Kind, b: Kind) -> Option<Kind> {
    use Kind::*;
    Some(match (a, b) {
        (x, y) if x == y => x,
        (Null, x) | (x, Null) => x,
        (Int, UInt) | (UInt, Int) => UInt,
        (Int | UInt | Float, Int | UInt | Float) => Float,
        _ => return None,
    })
}

/// The schema of the first partition's records (see the module docs).
fn infer_schema<T: Serialize>(records: &[T]) -> Result<Schema, RecordsError> {
    let Some(first) = records.first() else {
        return Err(RecordsError::Infer {
            reason: "it is empty".into(),
        });
    };
    let mut order: Vec<String> = field_order(first);
    let mut kinds: std::collections::HashMap<String, (Kind, usize)> = Default::default();
    for (i, r) in records.iter().enumerate() {
        for (name, v) in fields(to_json(r, 0, i)?, 0, i)? {
            let k = kind_of(&v);
            match kinds.get_mut(&name) {
                None => {
                    if !order.contains(&name) {
                        order.push(name.clone());
                    }
                    kinds.insert(name, (k, i));
                }
                Some((known, at)) => {
                    *known = merge(*known, k).ok_or_else(|| RecordsError::Infer {
                        reason: format!(
                            "field {name:?} is {} in record {at} and {} in record {i}",
                            kind_name(*known),
                            describe(&v)
                        ),
                    })?;
                    if *known == Kind::Null {
                        *at = i;
                    }
                }
            }
        }
    }
    Ok(order
        .into_iter()
        .map(|name| {
            let dtype = match kinds.get(&name).map(|k| k.0) {
                Some(Kind::Bool) => DataType::Boolean,
                Some(Kind::Int) => DataType::Int64,
                Some(Kind::UInt) => DataType::UInt64,
                Some(Kind::Float) => DataType::Float64,
                Some(Kind::Str | Kind::Null) | None => DataType::String,
            };
            (PlSmallStr::from(name), dtype)
        })
        .collect())
}

/// One partition's records as a frame of `schema`.
fn records_to_frame<T: Serialize>(
    records: &[T],
    schema: &Schema,
    partition: usize,
) -> Result<PlFrame, RecordsError> {
    let mut rows = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        rows.push(fields(to_json(r, partition, i)?, partition, i)?);
    }
    let mut cols = Vec::with_capacity(schema.len());
    for (name, dtype) in schema.iter() {
        let values = rows
            .iter()
            .map(|r| r.get(name.as_str()).unwrap_or(&Json::Null));
        let col = ColumnBuilder {
            partition,
            name: name.as_str(),
            dtype,
        }
        .build(values)?;
        cols.push(col);
    }
    PlFrame::new(rows.len(), cols).map_err(|source| RecordsError::Polars {
        partition,
        field: String::new(),
        source,
    })
}

struct ColumnBuilder<'a> {
    partition: usize,
    name: &'a str,
    dtype: &'a DataType,
}

impl ColumnBuilder<'_> {
    fn bad(&self, record: usize, v: &Json) -> RecordsError {
        RecordsError::Field {
            partition: self.partition,
            record,
            field: self.name.to_string(),
            dtype: self.dtype.to_string(),
            found: describe(v),
        }
    }

    /// Values of one Rust type, each converted by `get` (`None` for a value that does not
    /// fit; JSON null is null).
    fn collect<'j, X>(
        &self,
        values: impl Iterator<Item = &'j Json>,
        get: impl Fn(&Json) -> Option<X>,
    ) -> Result<Vec<Option<X>>, RecordsError> {
        values
            .enumerate()
            .map(|(i, v)| match v {
                Json::Null => Ok(None),
                v => get(v).map(Some).ok_or_else(|| self.bad(i, v)),
            })
            .collect()
    }

    fn int<'j, X: TryFrom<i64> + TryFrom<u64>>(
        &self,
        values: impl Iterator<Item = &'j Json>,
    ) -> Result<Vec<Option<X>>, RecordsError> {
        self.collect(values, |v| match v {
            Json::Number(n) => n
                .as_i64()
                .and_then(|x| X::try_from(x).ok())
                .or_else(|| n.as_u64().and_then(|x| X::try_from(x).ok())),
            _ => None,
        })
    }

    fn build<'j>(&self, values: impl Iterator<Item = &'j Json>) -> Result<Column, RecordsError> {
        let name = PlSmallStr::from(self.name);
        let s = match self.dtype {
            DataType::Boolean => Series::new(name, self.collect(values, Json::as_bool)?),
            DataType::Int8 => Series::new(name, self.int::<i8>(values)?),
            DataType::Int16 => Series::new(name, self.int::<i16>(values)?),
            DataType::Int32 => Series::new(name, self.int::<i32>(values)?),
            DataType::Int64 => Series::new(name, self.int::<i64>(values)?),
            DataType::UInt8 => Series::new(name, self.int::<u8>(values)?),
            DataType::UInt16 => Series::new(name, self.int::<u16>(values)?),
            DataType::UInt32 => Series::new(name, self.int::<u32>(values)?),
            DataType::UInt64 => Series::new(name, self.int::<u64>(values)?),
            DataType::Float32 => Series::new(
                name,
                self.collect(values, |v| v.as_f64().map(|x| x as f32))?,
            ),
            DataType::Float64 => Series::new(name, self.collect(values, Json::as_f64)?),
            DataType::String => Series::new(
                name,
                self.collect(values, |v| match v {
                    Json::String(s) => Some(s.clone()),
                    Json::Array(_) | Json::Object(_) => Some(v.to_string()),
                    _ => None,
                })?,
            ),
            other => {
                // Dates, times, …: from strings, cast strictly by Polars.
                let vals: Vec<&Json> = values.collect();
                let text =
                    self.collect(vals.iter().copied(), |v| v.as_str().map(str::to_string))?;
                let s = Series::new(name, text);
                match s.strict_cast(other) {
                    Ok(c) => c,
                    Err(source) => {
                        // Name the first value that does not cast.
                        for (i, v) in vals.iter().enumerate() {
                            let one = Series::new(PlSmallStr::EMPTY, [v.as_str()]);
                            if !v.is_null() && one.strict_cast(other).is_err() {
                                return Err(self.bad(i, v));
                            }
                        }
                        return Err(RecordsError::Polars {
                            partition: self.partition,
                            field: self.name.to_string(),
                            source,
                        });
                    }
                }
            }
        };
        Ok(Column::from(s))
    }
}
