use brisk_core::Collection;
use brisk_dataframe::{Agg, DataFrame};
use polars::prelude::{col, df, lit};

#[test]
fn smoke() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let pdf = df!("k" => [Some(1i64), Some(2), None, Some(1), Some(2), Some(3)],
                  "v" => [Some(1.0), None, Some(3.0), Some(4.0), Some(5.0), Some(6.0)],
                  "s" => ["a", "b", "c", "a", "b", "c"])?;
    let ddf = DataFrame::from_polars(pdf.clone(), 3)?;
    println!("{ddf}");
    let out = ddf
        .filter(col("v").gt(lit(1.5)))?
        .with_columns([(col("v") * lit(2.0)).alias("w")])?;
    println!("{}", out.compute()?);
    let g = ddf.groupby("k").agg([
        Agg::mean("v"),
        Agg::sum("v").alias("total"),
        Agg::size(),
        Agg::std("v").alias("sd"),
        Agg::nunique("s"),
        Agg::first("v").alias("f"),
        Agg::count("v").alias("n"),
    ])?;
    println!("{g}");
    println!("{}", g.compute()?);
    let g2 = ddf
        .groupby("k")
        .split_out(2)
        .agg([Agg::mean("v"), Agg::nunique("s")])?;
    println!("{}", g2.compute()?);
    println!("{}", ddf.describe()?.compute()?);
    println!("{}", ddf.nunique()?.compute()?);
    println!("len = {}", ddf.len()?);
    println!("head = {}", ddf.head(2)?);
    let s: f64 = ddf.column("v")?.sum()?.compute()?;
    println!("sum = {s}");
    println!("{}", ddf.column("s")?.value_counts()?.compute()?);
    Ok(())
}

#[test]
fn smoke_join_sort() -> anyhow::Result<()> {
    use brisk_dataframe::{How, JoinOptions, ShuffleMethod};
    let _ = brisk_local::LocalScheduler::threaded();
    let a = df!("id" => (0..100i64).collect::<Vec<_>>(), "x" => (0..100i64).map(|i| i * 2).collect::<Vec<_>>())?;
    let b = df!("id" => (0..100i64).rev().step_by(3).collect::<Vec<_>>(), "y" => (0..34i64).collect::<Vec<_>>())?;
    let da = DataFrame::from_polars(a, 4)?;
    let db = DataFrame::from_polars(b, 3)?;
    for m in [ShuffleMethod::Disk, ShuffleMethod::Tasks] {
        let j = da.join_with(
            &db,
            JoinOptions::new("id", "id", How::Inner).shuffle_method(m),
        )?;
        println!("{j}");
        let r = j.compute()?;
        println!("{}", r.sort(["id"], Default::default())?.head(Some(5)));
        assert_eq!(r.height(), 34);
    }
    let s = da.sort_values("x", true)?;
    let r = s.compute()?;
    println!("{}", r.head(Some(3)));
    let si = db.set_index("id")?;
    println!("{si}");
    let r = si.compute()?;
    println!("{}", r.head(Some(3)));
    Ok(())
}
