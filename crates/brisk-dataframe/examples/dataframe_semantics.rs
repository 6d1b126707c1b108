//! Where Brisk's dataframes follow Polars rather than pandas (the guide's "Coming from Dask"
//! page): each claim there is asserted here, so CI (which runs every example) keeps the page
//! true.
//!
//! ```text
//! cargo run -p brisk-dataframe --example dataframe_semantics
//! ```

use brisk_core::Collection;
use brisk_dataframe::polars::prelude::*;
use brisk_dataframe::{Agg, DataFrame, read_csv};

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();

    // NaN is a value, null is missing: the mean of [1, NaN, null] is NaN (pandas: 1.0).
    let x = df!("x" => [Some(1.0), Some(f64::NAN), None])?;
    let m = DataFrame::from_polars(x, 2)?
        .select([col("x").mean()])?
        .compute()?;
    let mean = m.column("x")?.f64()?.get(0);
    assert!(mean.is_some_and(f64::is_nan), "{mean:?}");
    println!("mean of [1, NaN, null] = {mean:?}");

    // `/` between integer columns is integer division truncating toward zero, as in Rust
    // (pandas: true division). Cast first for a float ratio.
    let ints = DataFrame::from_polars(df!("a" => [7i64, -7], "b" => [2i64, 2])?, 1)?;
    let q = ints
        .select([
            (col("a") / col("b")).alias("int_div"),
            (col("a").cast(DataType::Float64) / col("b")).alias("true_div"),
        ])?
        .compute()?;
    println!("{q}");
    assert_eq!(q.column("int_div")?.dtype(), &DataType::Int64);
    assert_eq!(q.column("true_div")?.f64()?.get(0), Some(3.5));

    // Null keys: Brisk's groupby drops them by default (dropna, as pandas); Polars keeps them.
    let g = df!("k" => [Some("a"), None, Some("a")], "v" => [1i64, 2, 3])?;
    let by = DataFrame::from_polars(g, 2)?.groupby("k");
    assert_eq!(by.clone().agg([Agg::sum("v")])?.compute()?.height(), 1);
    assert_eq!(
        by.dropna(false).agg([Agg::sum("v")])?.compute()?.height(),
        2
    );

    // read_csv: empty fields and common tokens (NA, N/A, NULL, None, …) are null, but `nan`
    // is the float NaN; an explicit null_values list replaces the defaults.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "id,score\n1,2.5\n2,\n3,NA\n4,nan\n")?;
    let scores = read_csv(path.to_string_lossy().into_owned())?.compute()?;
    println!("{scores}");
    let s = scores.column("score")?.f64()?;
    assert_eq!(s.null_count(), 2);
    assert!(s.get(3).is_some_and(f64::is_nan));
    let text = brisk_dataframe::ReadCsv::new(path.to_string_lossy().into_owned())
        .null_values(Vec::<String>::new())
        .finish()?;
    assert_eq!(text.schema().get("score"), Some(&DataType::String));
    Ok(())
}
