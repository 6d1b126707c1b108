//! Approximate quantiles of one column as a tree reduction: each partition contributes a
//! weighted sample of its sorted values (evenly spaced, always including its minimum and
//! maximum), merges keep `size + 1` evenly spaced points of the combined weighted sample, and
//! the answer reads quantiles off it (the nearest sample point at or above the rank).
//!
//! With at most `size + 1` non-null values in total the answer is exact ("lower" quantiles).
//! Used by `describe` and to pick the boundaries of `sort_values` / `set_index`.

use polars::prelude::{
    DataFrame as PlFrame, IdxCa, IdxSize, NamedFrom, PolarsResult, Series, SortOptions, df,
};
use serde::{Deserialize, Serialize};

/// The column and the quantiles wanted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct QuantileSpec {
    /// The column.
    pub column: String,
    /// Quantiles in `[0, 1]`, increasing.
    pub probs: Vec<f64>,
    /// Points kept per partial result.
    pub size: usize,
}

const VALUE: &str = "value";
const WEIGHT: &str = "weight";

fn sample(sorted: &Series, weights: &[f64], size: usize) -> PolarsResult<PlFrame> {
    let n = sorted.len();
    let total: f64 = weights.iter().sum();
    if n <= size + 1 {
        return df!(VALUE => sorted.clone(), WEIGHT => weights.to_vec());
    }
    // Cumulative weights; pick the first index whose cumulative weight reaches each target.
    let mut cum = Vec::with_capacity(n);
    let mut acc = 0.0;
    for w in weights {
        acc += w;
        cum.push(acc);
    }
    let mut idx: Vec<IdxSize> = Vec::with_capacity(size + 1);
    for k in 0..=size {
        let target = total * k as f64 / size as f64;
        let i = if k == 0 {
            0
        } else if k == size {
            n - 1
        } else {
            cum.partition_point(|&c| c < target).min(n - 1)
        };
        idx.push(i as IdxSize);
    }
    let picked = sorted.take(&IdxCa::new("idx".into(), idx))?;
    let w = total / (size + 1) as f64;
    df!(VALUE => picked, WEIGHT => vec![w; size + 1])
}

fn sorted_frame(df: &PlFrame) -> PolarsResult<(Series, Vec<f64>)> {
    let df = df.sort([VALUE], Default::default())?;
    let v = df.column(VALUE)?.as_materialized_series().clone();
    let w: Vec<f64> = df
        .column(WEIGHT)?
        .f64()?
        .iter()
        .map(|x| x.unwrap_or(0.0))
        .collect();
    Ok((v, w))
}

impl QuantileSpec {
    /// The weighted sample of one partition.
    pub fn chunk(&self, df: PlFrame) -> PolarsResult<PlFrame> {
        let s = df
            .column(&self.column)?
            .as_materialized_series()
            .drop_nulls()
            .sort(SortOptions::default())?
            .with_name(VALUE.into());
        let n = s.len();
        sample(&s, &vec![1.0; n], self.size)
    }

    /// Merge weighted samples.
    pub fn combine(&self, df: PlFrame) -> PolarsResult<PlFrame> {
        let (v, w) = sorted_frame(&df)?;
        sample(&v, &w, self.size)
    }

    /// The quantiles: a frame with `quantile` (f64) and `value` (the column's type).
    pub fn finalize(&self, df: PlFrame) -> PolarsResult<PlFrame> {
        let (v, w) = sorted_frame(&df)?;
        let n = v.len();
        let total: f64 = w.iter().sum();
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0.0;
        for x in &w {
            acc += x;
            cum.push(acc);
        }
        let idx: Vec<Option<IdxSize>> = self
            .probs
            .iter()
            .map(|&p| {
                if n == 0 {
                    return None;
                }
                let target = p.clamp(0.0, 1.0) * total;
                let i = if p <= 0.0 {
                    0
                } else {
                    cum.partition_point(|&c| c < target - 1e-9 * total)
                        .min(n - 1)
                };
                Some(i as IdxSize)
            })
            .collect();
        let values = if n == 0 {
            Series::full_null(VALUE.into(), self.probs.len(), v.dtype())
        } else {
            v.take(&IdxCa::new(
                "idx".into(),
                idx.iter().map(|x| x.unwrap_or(0)).collect::<Vec<_>>(),
            ))?
        };
        df!("quantile" => self.probs.clone(), VALUE => values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_for_small_inputs_and_close_for_large() {
        let spec = QuantileSpec {
            column: "x".into(),
            probs: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            size: 64,
        };
        let small = df!("x" => [Some(5i64), None, Some(1), Some(3), Some(2), Some(4)]).unwrap();
        let c = spec.chunk(small).unwrap();
        let q = spec.finalize(spec.combine(c).unwrap()).unwrap();
        let vals: Vec<i64> = q
            .column("value")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(vals, vec![1, 2, 3, 4, 5]);

        // 4 partitions of 10_000 values each: quantiles within 2% of the rank.
        let parts: Vec<PlFrame> = (0..4)
            .map(|p| {
                let v: Vec<f64> = (0..10_000).map(|i| (i * 4 + p) as f64).collect();
                spec.chunk(df!("x" => v).unwrap()).unwrap()
            })
            .collect();
        let merged = crate::partition::concat(parts, None).unwrap();
        let q = spec.finalize(spec.combine(merged).unwrap()).unwrap();
        let vals: Vec<f64> = q
            .column("value")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(vals[0], 0.0);
        assert_eq!(vals[4], 39_999.0);
        for (p, v) in [0.25, 0.5, 0.75].iter().zip(&vals[1..4]) {
            assert!((v / 40_000.0 - p).abs() < 0.02, "q{p} = {v}");
        }
    }
}
