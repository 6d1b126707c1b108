//! Results assembled from several small reductions, such as `describe`: one aggregation pass
//! (count, mean, std, min, max of every numeric column) plus one approximate-quantile pass per
//! column, put together in a final task.

use std::sync::Arc;

use brisk_core::Value;
use polars::prelude::{AnyValue, DataFrame as PlFrame, DataType, NamedFrom, Series};
use serde::{Deserialize, Serialize};

use crate::agg::Agg;
use crate::error::{DataFrameError, Result};
use crate::partition;

/// How an [`crate::node::Op::Assemble`] puts its inputs together.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Assemble {
    /// A `describe` table: input 0 holds the aggregates of [`describe_aggs`], inputs `1..`
    /// the quantiles of each column.
    Describe {
        /// The described columns.
        columns: Vec<String>,
        /// The quantiles, in `(0, 1)`.
        percentiles: Vec<f64>,
    },
}
brisk_core::register_serde_type!(Assemble);

impl Assemble {
    /// The layer label.
    pub fn label(&self) -> &'static str {
        match self {
            Assemble::Describe { .. } => "describe",
        }
    }

    /// The statistic names of a describe table.
    fn statistics(percentiles: &[f64]) -> Vec<String> {
        let mut s: Vec<String> = ["count", "null_count", "mean", "std", "min"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        for p in percentiles {
            s.push(format!("{}%", fmt_pct(*p)));
        }
        s.push("max".to_string());
        s
    }

    /// Put the inputs together.
    pub fn run(&self, inputs: &[Arc<PlFrame>]) -> Result<PlFrame> {
        match self {
            Assemble::Describe {
                columns,
                percentiles,
            } => {
                let stats = inputs
                    .first()
                    .ok_or_else(|| DataFrameError::invalid("describe", "no inputs"))?;
                let get = |name: String| -> Result<Option<f64>> {
                    let c = stats
                        .column(&name)
                        .map_err(DataFrameError::polars("describe"))?;
                    if c.is_empty() {
                        return Ok(None);
                    }
                    let v = c.get(0).map_err(DataFrameError::polars("describe"))?;
                    Ok(any_f64(&v))
                };
                let size = get("__size".into())?;
                let mut out =
                    vec![Series::new("statistic".into(), Self::statistics(percentiles)).into()];
                for (ci, c) in columns.iter().enumerate() {
                    let count = get(format!("__d{ci}_count"))?;
                    let mut vals = vec![
                        count,
                        match (size, count) {
                            (Some(s), Some(n)) => Some(s - n),
                            _ => None,
                        },
                        get(format!("__d{ci}_mean"))?,
                        get(format!("__d{ci}_std"))?,
                        get(format!("__d{ci}_min"))?,
                    ];
                    let q = inputs
                        .get(ci + 1)
                        .ok_or_else(|| DataFrameError::invalid("describe", "missing quantiles"))?;
                    let qv = q
                        .column("value")
                        .map_err(DataFrameError::polars("describe"))?
                        .cast(&DataType::Float64)
                        .map_err(DataFrameError::polars("describe"))?;
                    for i in 0..percentiles.len() {
                        vals.push(qv.f64().ok().filter(|a| i < a.len()).and_then(|a| a.get(i)));
                    }
                    vals.push(get(format!("__d{ci}_max"))?);
                    out.push(Series::new(c.as_str().into(), vals).into());
                }
                PlFrame::new_infer_height(out).map_err(DataFrameError::polars("describe"))
            }
        }
    }
}

fn fmt_pct(p: f64) -> String {
    let v = p * 100.0;
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v}")
    }
}

fn any_f64(v: &AnyValue<'_>) -> Option<f64> {
    if v.is_null() {
        return None;
    }
    v.cast(&DataType::Float64).extract::<f64>()
}

/// The aggregations behind a describe table of `columns`.
pub(crate) fn describe_aggs(columns: &[String]) -> Vec<Agg> {
    let mut aggs = vec![Agg::size().alias("__size")];
    for (ci, c) in columns.iter().enumerate() {
        aggs.push(Agg::count(c).alias(format!("__d{ci}_count")));
        aggs.push(Agg::mean(c).alias(format!("__d{ci}_mean")));
        aggs.push(Agg::std(c).alias(format!("__d{ci}_std")));
        aggs.push(Agg::min(c).alias(format!("__d{ci}_min")));
        aggs.push(Agg::max(c).alias(format!("__d{ci}_max")));
    }
    aggs
}

/// Kernel: assemble one result.
pub(crate) fn assemble(inputs: Vec<Arc<PlFrame>>, how: Arc<Assemble>) -> Result<Value> {
    how.run(&inputs).map(partition::value)
}

brisk_core::register!(assemble as "brisk_dataframe.assemble");
