//! JSON lines: parsing text bags into JSON documents or your own serde types, a direct reader,
//! and `pluck` for fields.
//!
//! A malformed line fails the computation with [`BagError::Json`] naming the file and line
//! number, unless [`OnError::Skip`] is asked for, in which case it is dropped (and counted in
//! a warning in the log). Blank lines are ignored.

use std::ops::ControlFlow;

use brisk_core::{Func, TaskFailure, TaskResult, Value};
use serde::de::DeserializeOwned;

use crate::bag::{Bag, Record};
use crate::error::BagError;
use crate::stream::{Stream, arg_stream, current_origin, push};
use crate::text::TextSource;

/// What to do with a record that cannot be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Fail the computation, naming the file and line (the default).
    #[default]
    Raise,
    /// Drop the record and go on.
    Skip,
}

impl Bag<String> {
    /// Parse every line as JSON into a `T` (blank lines are ignored). A malformed line fails
    /// the computation naming its file and line number.
    pub fn parse_json<T: Record + DeserializeOwned>(&self) -> Bag<T> {
        self.parse_json_with(OnError::Raise)
    }

    /// [`Bag::parse_json`], raising or skipping malformed lines.
    ///
    /// A named kernel (a cluster's workers run it) for `T` among [`crate::NAMED_RECORDS`]
    /// (`serde_json::Value` included); the same function wrapped in a closure otherwise.
    pub fn parse_json_with<T: Record + DeserializeOwned>(&self, on_error: OnError) -> Bag<T> {
        let kernel = crate::named_reduce::kernel_or_to::<String, T>(
            "parse_json",
            "parse-json",
            parse_json_kernel::<T>,
        );
        let skip = Value::from(on_error == OnError::Skip);
        self.kernel_stage("parse-json", kernel, vec![skip])
    }
}

/// `brisk_bag::parse_json<T>`: every non-blank line parsed as JSON into a `T`. Arguments: the
/// stream of lines, whether to skip malformed lines (else the first one fails the task, naming
/// its file and line).
fn parse_json_kernel<T: Record + DeserializeOwned>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<String>(args, 0)?;
    let skip = args
        .get(1)
        .ok_or_else(|| TaskFailure::msg("internal: missing on_error"))?
        .get::<bool>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
    Ok(Value::new(Stream::new("parse-json", move |sink| {
        let mut err = None;
        let mut skipped = 0u64;
        s(&mut |line| {
            let Some(line) = line.as_deref() else {
                return ControlFlow::Continue(());
            };
            if line.trim().is_empty() {
                return ControlFlow::Continue(());
            }
            match serde_json::from_str::<T>(line) {
                Ok(v) => push(sink, v),
                Err(_) if skip => {
                    skipped += 1;
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    err = Some(BagError::Json {
                        origin: current_origin(),
                        message: e.to_string(),
                    });
                    ControlFlow::Break(())
                }
            }
        })?;
        if skipped > 0 {
            tracing::warn!(skipped, "parse_json skipped malformed lines");
        }
        err.map_or(Ok(()), Err)
    })))
}

macro_rules! parse_json_kernels {
    ($($t:ty => $tag:literal),+ $(,)?) => {$(
        register_stage!(concat!("brisk_bag::parse_json<", $tag, ">"), "parse-json", "parse_json", parse_json_kernel::<$t>, String => $t);
    )+};
}

parse_json_kernels!(
    String => "String",
    i64 => "i64",
    u64 => "u64",
    f64 => "f64",
    serde_json::Value => "serde_json::Value",
);

impl TextSource {
    /// A bag of the JSON documents, one per line, of the files.
    pub fn json(&self) -> Result<Bag<serde_json::Value>, BagError> {
        Ok(self.lines()?.parse_json())
    }

    /// A bag of `T`s, one per JSON line, raising or skipping malformed lines.
    pub fn json_as<T: Record + DeserializeOwned>(
        &self,
        on_error: OnError,
    ) -> Result<Bag<T>, BagError> {
        Ok(self.lines()?.parse_json_with(on_error))
    }
}

/// A bag of the JSON documents, one per line, of the files matching `url_or_glob`.
pub fn read_json(url_or_glob: &str) -> Result<Bag<serde_json::Value>, BagError> {
    TextSource::new(url_or_glob).json()
}

/// A field name or an array index, for [`Bag::pluck`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// An object's field.
    Name(String),
    /// An array's element.
    Index(usize),
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Field::Name(s.to_string())
    }
}

impl From<String> for Field {
    fn from(s: String) -> Self {
        Field::Name(s)
    }
}

impl From<usize> for Field {
    fn from(i: usize) -> Self {
        Field::Index(i)
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Name(n) => write!(f, "{n:?}"),
            Field::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// The field's value in `v`, if `v` has it (an object's field, an array's element).
fn get_mut<'a>(v: &'a mut serde_json::Value, field: &Field) -> Option<&'a mut serde_json::Value> {
    match field {
        Field::Name(n) => v.get_mut(n.as_str()),
        Field::Index(i) => v.get_mut(*i),
    }
}

/// A record for an error message: its kind and its first characters.
fn describe(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    let kind = match v {
        J::Null => "null",
        J::Bool(_) => "a bool",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "an array",
        J::Object(_) => "an object",
    };
    const MAX: usize = 80;
    let text = v.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{kind} {}…", &text[..cut]),
        None => format!("{kind} {text}"),
    }
}

impl Bag<serde_json::Value> {
    /// The value of `field` in every record (an object's field or an array's element); a
    /// record without it (or that is not an object or array) fails the computation naming the
    /// field, the record and, when the bag reads text, its file and line.
    ///
    /// A built-in named stage (the field is a literal argument), so it runs on any worker,
    /// the stock `brisk worker` included.
    pub fn pluck(&self, field: impl Into<Field>) -> Bag<serde_json::Value> {
        self.kernel_stage("pluck", pluck_func(), vec![field_value(field.into())])
    }

    /// The value of `field` in every record, or `default` where it is missing (also for a
    /// record that is not an object or array, as dask's `pluck(key, default)`). A built-in
    /// named stage, as [`Bag::pluck`].
    pub fn pluck_or(
        &self,
        field: impl Into<Field>,
        default: serde_json::Value,
    ) -> Bag<serde_json::Value> {
        self.kernel_stage(
            "pluck",
            pluck_func(),
            vec![field_value(field.into()), Value::new(default)],
        )
    }
}

/// A field as a task's literal: a name as a `String`, an index as a `u64`.
fn field_value(field: Field) -> Value {
    match field {
        Field::Name(n) => Value::new(n),
        Field::Index(i) => Value::from(i as u64),
    }
}

/// The field a task's literal names (see [`field_value`]).
fn field_of(v: &Value) -> Result<Field, TaskFailure> {
    if let Ok(n) = v.downcast_ref::<String>() {
        return Ok(Field::Name(n.clone()));
    }
    let i = v
        .get::<u64>()
        .map_err(|m| TaskFailure::msg(format!("internal: a pluck field: {m}")))?;
    usize::try_from(i)
        .map(Field::Index)
        .map_err(|_| TaskFailure::msg(format!("internal: the pluck index {i} is too large")))
}

const PLUCK: &str = "brisk_bag::pluck";
register_kernel!(PLUCK, "pluck", pluck_kernel);

fn pluck_func() -> Func {
    crate::named::named_kernel(PLUCK, "pluck", pluck_kernel)
}

/// `brisk_bag::pluck`: the value of a field in every record. Arguments: the stream, the field
/// (a `String` name or a `u64` index), and for `pluck_or` the default.
fn pluck_kernel(args: &[Value]) -> TaskResult {
    let s = arg_stream::<serde_json::Value>(args, 0)?;
    let field = field_of(
        args.get(1)
            .ok_or_else(|| TaskFailure::msg("internal: missing pluck field"))?,
    )?;
    let default = match args.get(2) {
        Some(d) => Some(
            d.downcast_ref::<serde_json::Value>()
                .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?
                .clone(),
        ),
        None => None,
    };
    Ok(Value::new(Stream::new("pluck", move |sink| {
        let mut err = None;
        s(&mut |x| {
            let Some(v) = x.as_mut() else {
                return ControlFlow::Continue(());
            };
            // The field is moved out of the record (which this stage owns now), not cloned.
            if let Some(found) = get_mut(v, &field) {
                return push(sink, found.take());
            }
            match &default {
                Some(d) => push(sink, d.clone()),
                None => {
                    err = Some(BagError::MissingField {
                        field: field.to_string(),
                        origin: current_origin(),
                        record: describe(v),
                    });
                    ControlFlow::Break(())
                }
            }
        })?;
        err.map_or(Ok(()), Err)
    })))
}
