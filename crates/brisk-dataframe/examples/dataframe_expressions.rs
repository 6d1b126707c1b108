//! Polars expressions on a partitioned frame: the answers are the ones Polars gives on the
//! whole frame, whatever the partitions (the guide's "Dataframes" chapter runs through this).
//!
//! ```text
//! cargo run -p brisk-dataframe --example dataframe_expressions
//! ```

use brisk_core::Collection;
use brisk_dataframe::polars::prelude::*;
use brisk_dataframe::{DataFrame, DataFrameError, How};

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let sales = df!(
        "store" => ["a", "b", "a", "c", "b", "a", "c", "a"],
        "day" => [1i64, 1, 2, 2, 3, 3, 4, 4],
        "amount" => [10.0, 20.0, 30.0, 5.0, 15.0, 25.0, 35.0, 40.0],
    )?;
    // Four partitions of two rows: nothing below depends on that.
    let df = DataFrame::from_polars(sales.clone(), 4)?;

    // A global aggregate inside an expression: one reduction, broadcast back.
    let centered = df.with_columns([(col("amount") - col("amount").mean()).alias("centered")])?;
    let c = centered.compute()?;
    println!("{c}");
    assert_eq!(c.column("centered")?.f64()?.sum(), Some(0.0));

    // An aggregate over a window: a group-by joined back, rows in their order.
    let share = df.with_columns([(col("amount")
        / col("amount").sum().over([col("store")]).expect("a window"))
    .alias("share_of_store")])?;
    println!("{}", share.compute()?);

    // Order-dependent functions see the rows of the neighbouring partitions.
    let running = df.with_columns([
        col("amount").cum_sum(false).alias("running_total"),
        col("amount").shift(lit(1)).alias("previous"),
    ])?;
    let r = running.compute()?;
    println!("{r}");
    assert_eq!(r.column("running_total")?.f64()?.get(7), Some(180.0));
    assert_eq!(r.column("previous")?.f64()?.get(2), Some(20.0));

    // Polars expressions in group-bys, string keys; semi joins; sort then head.
    let per_store = df.groupby("store").agg([
        col("amount").sum().alias("total"),
        col("amount")
            .filter(col("day").gt(lit(2)))
            .mean()
            .alias("late_mean"),
        col("amount").median().alias("median"),
        len().alias("days"),
    ])?;
    println!("{}", per_store.compute()?);
    let big_stores = per_store.filter(col("total").gt(lit(50.0)))?;
    let top = df
        .join(&big_stores, "store", "store", How::Semi)?
        .sort_head(["amount"], vec![true], true, 3)?
        .compute()?;
    println!("{top}");
    assert_eq!(top.column("amount")?.f64()?.get(0), Some(40.0));

    // What cannot be planned across partitions is refused by name, never run per partition.
    match df.with_columns([col("amount").rank(RankOptions::default(), None)]) {
        Err(e @ DataFrameError::NotPartitionable { .. }) => println!("refused: {e}"),
        Err(e) => return Err(e.into()),
        Ok(_) => anyhow::bail!("rank was accepted"),
    }
    Ok(())
}
