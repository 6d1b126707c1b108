//! Dataframes from files (the dataframes chapter of the user guide): CSV files read by a glob,
//! a group-by, a join, a sort, a `map_partitions`, Parquet written and read back — locally, and
//! against an S3 bucket when `BRISK_EXAMPLE_S3` names one (`s3://bucket/prefix`, credentials and
//! endpoint from the usual `AWS_*` variables): the same calls take object-store URLs.
//!
//! ```text
//! cargo run -p brisk-dataframe --example dataframe_io
//! ```

use brisk_core::Collection;
use brisk_dataframe::polars::prelude::*;
use brisk_dataframe::{Agg, DataFrame, How, read_csv, read_parquet};

fn run(base: &str) -> anyhow::Result<()> {
    // Twelve CSV files, as a day-by-day export would be.
    for day in 1..=12 {
        let rows: String = (0..500)
            .map(|i| {
                format!(
                    "{},{},{}\n",
                    (i * 7 + day) % 50,
                    i % 9,
                    (i * day) as f64 / 10.0
                )
            })
            .collect();
        brisk_io::write_all(
            &format!("{base}/csv/2015-01-{day:02}.csv"),
            format!("user_id,item,value\n{rows}").as_bytes(),
        )?;
    }
    let df = read_csv(format!("{base}/csv/2015-01-*.csv"))?;
    println!(
        "{} partitions, columns {:?}",
        df.npartitions(),
        df.columns()
    );

    // A tree-reduced group-by, a join with a small frame (broadcast), a sort.
    let per_user = df
        .groupby("user_id")
        .agg([Agg::mean("value"), Agg::size()])?;
    let users = DataFrame::from_polars(
        df!("user_id" => (0..50i64).collect::<Vec<_>>(),
            "team" => (0..50i64).map(|i| format!("team-{}", i % 4)).collect::<Vec<_>>())?,
        1,
    )?;
    let joined = df.join(&users, "user_id", "user_id", How::Inner)?;
    let per_team = joined.groupby("team").agg([Agg::sum("value")])?.compute()?;
    let top = df.sort_values("value", true)?.head(3)?;
    println!(
        "per user: {} rows; per team:\n{per_team}\ntop 3 values:\n{top}",
        per_user.compute()?.height()
    );

    // Your own Polars code on every partition.
    let flagged = df.map_partitions("flag", |p: polars::prelude::DataFrame| {
        p.lazy()
            .with_column((col("value").gt(lit(20.0))).alias("big"))
            .collect()
    })?;
    let big = flagged.filter(col("big"))?.compute()?.height();

    // Parquet: one file per partition, read back with the same answer.
    let written = df.to_parquet(&format!("{base}/parquet"))?;
    let back = read_parquet(format!("{base}/parquet/*.parquet"))?;
    let (a, b) = (df.compute()?.height(), back.compute()?.height());
    anyhow::ensure!(a == b && a == 12 * 500, "{a} rows written, {b} read back");
    println!(
        "{big} rows over 20; wrote {} Parquet files and read {b} rows back",
        written.len()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let dir = std::env::temp_dir().join(format!("brisk-dataframe-io-{}", std::process::id()));
    let result = run(&dir.display().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    if let Ok(url) = std::env::var("BRISK_EXAMPLE_S3") {
        println!("-- the same on {url}");
        run(url.trim_end_matches('/'))?;
    }
    Ok(())
}
