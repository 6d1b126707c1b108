//! The kernels of `unique`: per-chunk sorted distinct values with their counts, merged in a
//! tree of sorted runs, and the final split into values or counts.

use std::cmp::Ordering;

use brisk_core::{TaskFailure, Value};
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::dtype::{DType, Element, with_dtype};
use crate::sorting::{fail, is_nan, np_cmp};

/// Sorted distinct values and how often each occurs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct UniquePart<T> {
    values: Vec<T>,
    counts: Vec<i64>,
}
brisk_core::data!(UniquePart<bool>, serde);
brisk_core::data!(UniquePart<u8>, serde);
brisk_core::data!(UniquePart<i32>, serde);
brisk_core::data!(UniquePart<i64>, serde);
brisk_core::data!(UniquePart<u64>, serde);
brisk_core::data!(UniquePart<f32>, serde);
brisk_core::data!(UniquePart<f64>, serde);

fn same<T: PartialOrd>(a: &T, b: &T) -> bool {
    np_cmp(a, b) == Ordering::Equal
}

fn unique_t<T: Element>(inputs: &[Value]) -> Result<Value, TaskFailure>
where
    UniquePart<T>: Send + Sync,
{
    let mut pairs: Vec<(T, i64)> = Vec::new();
    for v in inputs {
        if let Ok(a) = v.downcast_ref::<ArrayD<T>>() {
            pairs.extend(a.iter().map(|&x| (x, 1)));
        } else if let Ok(p) = v.downcast_ref::<UniquePart<T>>() {
            pairs.extend(p.values.iter().copied().zip(p.counts.iter().copied()));
        } else {
            return Err(fail(format!("unique: {} is not a chunk", v.type_name())));
        }
    }
    pairs.sort_by(|a, b| np_cmp(&a.0, &b.0));
    let mut out = UniquePart::<T> {
        values: Vec::new(),
        counts: Vec::new(),
    };
    for (v, c) in pairs {
        match (out.values.last(), out.counts.last_mut()) {
            (Some(last), Some(n)) if same(last, &v) || (is_nan(last) && is_nan(&v)) => *n += c,
            _ => {
                out.values.push(v);
                out.counts.push(c);
            }
        }
    }
    Ok(Value::new(out))
}

pub(crate) fn unique_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, inputs @ ..] = args else {
        return Err(fail("unique: expected a dtype and inputs"));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| fail(format!("unique: {e}")))?;
    with_dtype!(dt, T => unique_t::<T>(inputs))
}

pub(crate) fn unique_out_kernel(args: &[Value]) -> Result<Value, TaskFailure> {
    let [dt, which, part] = args else {
        return Err(fail("unique_out: expected a dtype, a choice and a part"));
    };
    let dt = *dt
        .downcast_ref::<DType>()
        .map_err(|e| fail(format!("unique_out: {e}")))?;
    let counts = *which
        .downcast_ref::<u64>()
        .map_err(|e| fail(format!("unique_out: {e}")))?
        == 1;
    with_dtype!(dt, T => {
        let p = part
            .downcast_ref::<UniquePart<T>>()
            .map_err(|e| fail(format!("unique_out: {e}")))?;
        Ok(if counts {
            Value::new(ndarray::Array1::from(p.counts.clone()).into_dyn())
        } else {
            Value::new(ndarray::Array1::from(p.values.clone()).into_dyn())
        })
    })
}
