//! `Bag::to_dataframe`: a bag of records as a lazy, partitioned Polars dataframe (dask's
//! `Bag.to_dataframe`). Bags and dataframes are peers, so the glue lives here; the
//! conversion itself is [`DataFrame::from_records`](brisk_dataframe::DataFrame::from_records)
//! (schema inference, types, errors naming the partition, record and field), over the bag's
//! partitions.

use brisk_bag::{Bag, Record};
use brisk_core::Collection;
use brisk_dataframe::DataFrame;
use brisk_dataframe::polars::prelude::Schema;
use serde::Serialize;

/// What went wrong turning a bag into a dataframe.
pub use brisk_dataframe::RecordsError as ToDataFrameError;

/// `to_dataframe` for bags of serializable records (see the [module docs](self)).
///
/// ```
/// # let _ = brisk::LocalScheduler::threaded();
/// use brisk::{BagToDataFrame, Collection, bag::Bag};
/// use brisk::dataframe::polars::prelude::*;
/// #[derive(Clone, serde::Serialize)]
/// struct Visit { user: String, pages: i64, score: Option<f64> }
/// let visits = (0..100).map(|i| Visit {
///     user: format!("u{}", i % 7), pages: i, score: (i % 3 > 0).then_some(i as f64 / 2.0),
/// });
/// let df = Bag::from_sequence(visits.collect(), 4).to_dataframe()?;
/// assert_eq!(df.columns(), ["user", "pages", "score"]);
/// let out = df.compute()?;
/// assert_eq!(out.column("pages")?.i64()?.sum(), Some(4950));
/// assert_eq!(out.column("score")?.null_count(), 34);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait BagToDataFrame {
    /// The bag as a dataframe, its schema inferred from the first partition (computed now).
    fn to_dataframe(&self) -> Result<DataFrame, ToDataFrameError>;

    /// The bag as a dataframe of the schema `meta` (nothing is computed now).
    fn to_dataframe_with(&self, meta: Schema) -> Result<DataFrame, ToDataFrameError>;
}

impl<T: Record + Serialize> BagToDataFrame for Bag<T> {
    fn to_dataframe(&self) -> Result<DataFrame, ToDataFrameError> {
        DataFrame::from_records::<T>(self.layers(), self.output_keys(), None)
    }

    fn to_dataframe_with(&self, meta: Schema) -> Result<DataFrame, ToDataFrameError> {
        DataFrame::from_records::<T>(self.layers(), self.output_keys(), Some(meta))
    }
}
