//! JSON lines: parsing text bags into JSON documents or your own serde types, a direct reader,
//! and `pluck` for fields.
//!
//! A malformed line fails the computation with [`BagError::Json`] naming the file and line
//! number, unless [`OnError::Skip`] is asked for, in which case it is dropped (and counted in
//! a warning in the log). Blank lines are ignored.

use std::ops::ControlFlow;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::bag::{Bag, Record};
use crate::error::BagError;
use crate::stream::{current_origin, push};
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
    pub fn parse_json_with<T: Record + DeserializeOwned>(&self, on_error: OnError) -> Bag<T> {
        self.stage("parse-json", move |s| {
            Box::new(move |sink| {
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
                        Err(_) if on_error == OnError::Skip => {
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
            })
        })
    }
}

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

fn get<'a>(v: &'a serde_json::Value, field: &Field) -> Option<&'a serde_json::Value> {
    match field {
        Field::Name(n) => v.get(n.as_str()),
        Field::Index(i) => v.get(*i),
    }
}

impl Bag<serde_json::Value> {
    /// The value of `field` in every record (an object's field or an array's element); a
    /// record without it fails the computation naming the field.
    pub fn pluck(&self, field: impl Into<Field>) -> Bag<serde_json::Value> {
        let field = Arc::new(field.into());
        self.stage("pluck", move |s| {
            let field = Arc::clone(&field);
            Box::new(move |sink| {
                let mut err = None;
                s(&mut |v| match v.as_ref().map(|v| get(v, &field)) {
                    None => ControlFlow::Continue(()),
                    Some(Some(x)) => push(sink, x.clone()),
                    Some(None) => {
                        err = Some(BagError::MissingField {
                            field: field.to_string(),
                            origin: current_origin(),
                        });
                        ControlFlow::Break(())
                    }
                })?;
                err.map_or(Ok(()), Err)
            })
        })
    }

    /// The value of `field` in every record, or `default` where it is missing.
    pub fn pluck_or(
        &self,
        field: impl Into<Field>,
        default: serde_json::Value,
    ) -> Bag<serde_json::Value> {
        let field = Arc::new(field.into());
        self.map(move |v| get(&v, &field).cloned().unwrap_or_else(|| default.clone()))
    }
}
