//! [`Series`]: one lazy column, partitioned like the frame it came from.

use std::sync::Arc;

use brisk_core::{Collection, Key, Layer, Value};
use polars::prelude::{DataFrame as PlFrame, DataType, Expr, Series as PlSeries, col, lit};

use crate::agg::{Agg, AggFunc};
use crate::error::{DataFrameError, Result};
use crate::frame::DataFrame;
use crate::scalar::{FromAnyValue, Scalar};
use crate::steps::Step;

/// One lazy column (like `dask.dataframe.Series`); its partitions are one-column frames.
///
/// ```
/// # let _ = brisk_local::LocalScheduler::threaded();
/// use brisk_core::Collection;
/// use polars::prelude::*;
/// let ddf = brisk_dataframe::DataFrame::from_polars(df!("x" => [1.0, 2.0, 4.0, 9.0])?, 2)?;
/// let x = ddf.column("x")?;
/// let mean: f64 = x.mean()?.compute()?;
/// assert_eq!(mean, 4.0);
/// let doubled = (&x * 2.0)?.compute()?;
/// assert_eq!(doubled.f64()?.get(3), Some(18.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Series {
    frame: DataFrame,
}

impl Series {
    pub(crate) fn from_frame(frame: DataFrame) -> Series {
        Series { frame }
    }

    /// The column's name.
    pub fn name(&self) -> String {
        self.frame.columns().into_iter().next().unwrap_or_default()
    }

    /// The column's type.
    pub fn dtype(&self) -> DataType {
        self.frame
            .dtypes()
            .into_iter()
            .next()
            .map(|(_, d)| d)
            .unwrap_or(DataType::Null)
    }

    /// The number of partitions.
    pub fn npartitions(&self) -> usize {
        self.frame.npartitions()
    }

    /// As a one-column lazy frame.
    pub fn to_frame(&self) -> DataFrame {
        self.frame.clone()
    }

    /// A new series from an expression of this one: `s.map(|c| c.abs())`.
    pub fn map(&self, f: impl FnOnce(Expr) -> Expr) -> Result<Series> {
        let name = self.name();
        let e = f(col(name.as_str())).alias(name.as_str());
        Ok(Series::from_frame(self.frame.select([e])?))
    }

    /// Keep the values where `predicate` (an expression over this column, by its name) holds.
    pub fn filter(&self, predicate: Expr) -> Result<Series> {
        Ok(Series::from_frame(self.frame.filter(predicate)?))
    }

    fn reduce<T>(&self, func: AggFunc) -> Result<Scalar<T>> {
        let name = self.name();
        let out = self.frame.agg([Agg::new(name.clone(), func)])?;
        Ok(Scalar::new(out, &name))
    }

    /// The sum of the non-null values.
    pub fn sum<T: FromAnyValue>(&self) -> Result<Scalar<T>> {
        self.reduce(AggFunc::Sum)
    }
    /// The mean of the non-null values (compute as `Option<f64>` when it may be null).
    pub fn mean<T: FromAnyValue>(&self) -> Result<Scalar<T>> {
        self.reduce(AggFunc::Mean)
    }
    /// The smallest value.
    pub fn min<T: FromAnyValue>(&self) -> Result<Scalar<T>> {
        self.reduce(AggFunc::Min)
    }
    /// The largest value.
    pub fn max<T: FromAnyValue>(&self) -> Result<Scalar<T>> {
        self.reduce(AggFunc::Max)
    }
    /// The number of non-null values.
    pub fn count<T: FromAnyValue>(&self) -> Result<Scalar<T>> {
        self.reduce(AggFunc::Count)
    }
    /// The sample standard deviation (ddof 1).
    pub fn std<T: FromAnyValue>(&self) -> Result<Scalar<T>> {
        self.reduce(AggFunc::Std(1))
    }
    /// The sample variance (ddof 1).
    pub fn var<T: FromAnyValue>(&self) -> Result<Scalar<T>> {
        self.reduce(AggFunc::Var(1))
    }
    /// The number of distinct non-null values.
    pub fn nunique<T: FromAnyValue>(&self) -> Result<Scalar<T>> {
        self.reduce(AggFunc::NUnique)
    }

    /// How often each distinct non-null value occurs: a frame with the column and `count`,
    /// most frequent first (ties by value).
    pub fn value_counts(&self) -> Result<DataFrame> {
        let name = self.name();
        let mut spec = crate::agg::build(
            "value-counts",
            &self.frame.schema(),
            std::slice::from_ref(&name),
            &[Agg::size().alias("count")],
            true,
            false,
        )?;
        spec.post.push(Step::Sort {
            by: vec!["count".into(), name.clone()],
            descending: vec![true, false],
            nulls_last: true,
        });
        self.frame.reduce(
            crate::reduce::Reducer::Agg(spec),
            crate::groupby::DEFAULT_SPLIT_EVERY,
            1,
        )
    }

    /// The distinct values (in order of first appearance).
    pub fn unique(&self) -> Result<Series> {
        Ok(Series::from_frame(self.frame.unique()?))
    }

    /// count, null_count, mean, std, min, quartiles and max.
    pub fn describe(&self) -> Result<DataFrame> {
        self.frame.describe()
    }

    /// The first `n` values (computes only the partitions it needs).
    pub fn head(&self, n: usize) -> Result<PlSeries> {
        first_column(self.frame.head(n)?)
    }

    /// Compute, with this crate's error type.
    pub fn collect(&self) -> Result<PlSeries> {
        Ok(self.compute()?)
    }

    /// Keep the partitions in memory (see [`DataFrame::persist`]).
    pub fn persist(&self) -> Result<Series> {
        Ok(Series::from_frame(self.frame.persist()?))
    }
}

fn first_column(df: PlFrame) -> Result<PlSeries> {
    df.columns()
        .first()
        .map(|c| c.as_materialized_series().clone())
        .ok_or_else(|| DataFrameError::invalid("series", "the frame has no column"))
}

impl Collection for Series {
    type Output = PlSeries;

    fn layers(&self) -> Vec<Arc<Layer>> {
        self.frame.layers()
    }

    fn output_keys(&self) -> Vec<Key> {
        self.frame.output_keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<PlSeries, brisk_core::Error> {
        let df = self.frame.finalize(values)?;
        first_column(df).map_err(|e| brisk_core::Error::TaskFailed {
            key: self
                .frame
                .output_keys()
                .into_iter()
                .next()
                .unwrap_or_else(|| Key::from("series")),
            failure: Box::new(brisk_core::TaskFailure::from_error(Box::new(e))),
        })
    }
}

macro_rules! arith {
    ($($tr:ident $m:ident $t:ty),+ $(,)?) => {$(
        impl std::ops::$tr<$t> for &Series {
            type Output = Result<Series>;
            fn $m(self, rhs: $t) -> Result<Series> {
                self.map(|c| std::ops::$tr::$m(c, lit(rhs)))
            }
        }
    )+};
}
arith!(
    Add add f64, Sub sub f64, Mul mul f64, Div div f64,
    Add add i64, Sub sub i64, Mul mul i64, Div div i64,
);
