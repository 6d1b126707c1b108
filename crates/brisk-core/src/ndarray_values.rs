//! `ndarray` arrays as task arguments and results (feature `ndarray`), so that a user's
//! function over blocks (`fn f(block: &ArrayD<f64>) -> ArrayD<f64>`, registered with
//! `#[brisk::func]`) can be a task's function like any other. The impls live here because of
//! the orphan rule: neither `FromValue` nor `ndarray::Array` belongs to brisk-array. Reading
//! a block by value clones it (arguments by reference, as `#[brisk::func]` allows, still read
//! one copy); crossing processes uses brisk-array's codecs of the same types.

use std::any::Any;

use crate::value::clone_exact;
use crate::{FromValue, IntoValue, TypeMismatch, Value};

impl<T, D> FromValue for ndarray::Array<T, D>
where
    T: Any + Clone + Send + Sync,
    D: ndarray::Dimension + Any + Send + Sync,
{
    fn from_value(value: &Value) -> Result<Self, TypeMismatch> {
        clone_exact::<Self>(value)
    }
}

impl<T, D> IntoValue for ndarray::Array<T, D>
where
    T: Any + Send + Sync,
    D: ndarray::Dimension + Any + Send + Sync,
{
    fn into_value(self) -> Value {
        Value::new(self)
    }
}
