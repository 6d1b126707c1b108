//! Operations compared with one in-memory Polars run on the same data, over one and many
//! partitions (some empty), plus the errors for bad input.

mod common;

use brisk_core::Collection;
use brisk_dataframe::{
    Agg, CustomAgg, DataFrame as BriskFrame, DataFrameError, How, JoinOptions, ShuffleMethod,
    concat,
};
use common::{assert_frames_close, events, init};
use polars::prelude::*;

/// The same rows as 1, 4 and 13 partitions, and as partitions where some are empty.
fn layouts(df: &DataFrame) -> Vec<(String, BriskFrame)> {
    let mut v: Vec<(String, BriskFrame)> = [1usize, 4, 13]
        .iter()
        .map(|&n| {
            (
                format!("{n} partitions"),
                BriskFrame::from_polars(df.clone(), n).expect("split"),
            )
        })
        .collect();
    let h = df.height();
    let parts = vec![
        df.slice(0, 0),
        df.slice(0, h / 3),
        df.slice(0, 0),
        df.slice((h / 3) as i64, h - h / 3),
        df.slice(0, 0),
    ];
    v.push((
        "with empty partitions".into(),
        BriskFrame::from_partitions(parts).expect("parts"),
    ));
    v
}

fn reference(df: &DataFrame, f: impl FnOnce(LazyFrame) -> LazyFrame) -> DataFrame {
    f(df.clone().lazy()).collect().expect("polars reference")
}

#[test]
fn partition_wise_steps_match_polars() -> anyhow::Result<()> {
    init();
    let data = events(3000, 50, 7);
    let want = reference(&data, |lf| {
        lf.filter(col("value").gt(lit(0.0)).and(col("name").is_not_null()))
            .with_columns([
                (col("value") * lit(3.0) - lit(1.0)).alias("v3"),
                col("name").str().len_chars().alias("len"),
                col("name").str().to_uppercase().alias("upper"),
                col("timestamp").str().slice(lit(11), lit(2)).alias("hh"),
            ])
            .select([
                col("user_id"),
                col("v3"),
                col("len"),
                col("upper"),
                col("hh"),
            ])
            .drop_nulls(None)
    });
    for (label, df) in layouts(&data) {
        let out = df
            .filter(col("value").gt(lit(0.0)).and(col("name").is_not_null()))?
            .with_columns([
                (col("value") * lit(3.0) - lit(1.0)).alias("v3"),
                col("name").str().len_chars().alias("len"),
                col("name").str().to_uppercase().alias("upper"),
                col("timestamp").str().slice(lit(11), lit(2)).alias("hh"),
            ])?
            .select([
                col("user_id"),
                col("v3"),
                col("len"),
                col("upper"),
                col("hh"),
            ])?
            .drop_nulls(None)?;
        assert_eq!(out.schema(), want.schema().clone(), "{label}");
        let got = out.compute()?;
        assert!(got.equals_missing(&want), "{label}: rows differ");
    }
    Ok(())
}

#[test]
fn groupby_and_reductions_match_polars() -> anyhow::Result<()> {
    init();
    let data = events(4000, 300, 11);
    let want = reference(&data, |lf| {
        lf.filter(col("user_id").is_not_null())
            .group_by([col("user_id")])
            .agg([
                col("value").mean().alias("mean"),
                col("value").sum().alias("sum"),
                col("value").std(1).alias("std"),
                col("value").min().alias("min"),
                col("value").max().alias("max"),
                col("name").drop_nulls().n_unique().alias("names"),
                len().alias("size"),
                (col("value") * col("value")).sum().alias("sumsq"),
            ])
    });
    let sumsq = CustomAgg::new(
        "sumsq",
        [(col("value") * col("value")).sum().alias("ss")],
        [col("ss").sum().alias("ss")],
        col("ss"),
    );
    for (label, df) in layouts(&data) {
        for split_out in [1, 5] {
            let got = df
                .groupby("user_id")
                .split_out(split_out)
                .split_every(3)
                .agg([
                    Agg::mean("value").alias("mean"),
                    Agg::sum("value").alias("sum"),
                    Agg::std("value").alias("std"),
                    Agg::min("value").alias("min"),
                    Agg::max("value").alias("max"),
                    Agg::nunique("name").alias("names"),
                    Agg::size(),
                    Agg::custom(sumsq.clone()),
                ])?;
            assert_eq!(got.npartitions(), split_out);
            let got = got.compute()?;
            assert_frames_close(&got, &want, &["user_id"], 1e-9);
            let _ = label;
        }
    }
    // Keeping null keys.
    let df = BriskFrame::from_polars(data.clone(), 6)?;
    let with_null = df.groupby("user_id").dropna(false).size()?.compute()?;
    let want = reference(&data, |lf| {
        lf.group_by([col("user_id")])
            .agg([len().cast(DataType::Int64).alias("size")])
    });
    assert_frames_close(&with_null, &want, &["user_id"], 0.0);
    // Scalars.
    let v = df.column("value")?;
    let total: f64 = v.sum()?.compute()?;
    let mean: Option<f64> = v.mean()?.compute()?;
    let n: u64 = v.count()?.compute()?;
    let values = data.column("value")?.f64()?;
    assert!((total - values.sum().unwrap_or(0.0)).abs() < 1e-6);
    assert!((mean.unwrap_or(0.0) - values.mean().unwrap_or(0.0)).abs() < 1e-9);
    assert_eq!(n as usize, values.len() - values.null_count());
    let (a, b) = brisk_core::compute((&v.max::<f64>()?, &v.min::<f64>()?))?;
    assert_eq!(Some(a), values.max());
    assert_eq!(Some(b), values.min());
    // All-null and empty inputs.
    let empty = BriskFrame::from_polars(data.clear(), 3)?;
    let m: Option<f64> = empty.column("value")?.mean()?.compute()?;
    assert_eq!(m, None);
    assert_eq!(empty.len()?, 0);
    assert_eq!(empty.groupby("name").size()?.compute()?.height(), 0);
    Ok(())
}

#[test]
fn drop_duplicates_value_counts_and_describe_match_polars() -> anyhow::Result<()> {
    init();
    let data = events(2000, 40, 3);
    let want_unique = reference(&data, |lf| {
        lf.select([col("user_id"), col("name")])
            .unique_stable(None, UniqueKeepStrategy::First)
    });
    for (label, df) in layouts(&data) {
        let pairs = df.select([col("user_id"), col("name")])?;
        let got = pairs
            .drop_duplicates(None, UniqueKeepStrategy::First, 1)?
            .compute()?;
        assert!(
            got.equals_missing(&want_unique),
            "{label}: first occurrences in order"
        );
        let spread = pairs.drop_duplicates(Some(&["user_id"]), UniqueKeepStrategy::Any, 3)?;
        assert_eq!(spread.npartitions(), 3);
        assert_eq!(spread.compute()?.height(), 41, "{label}: 40 users and null");
    }
    let df = BriskFrame::from_polars(data.clone(), 7)?;
    let vc = df.column("name")?.value_counts()?.compute()?;
    let counts: Vec<i64> = vc.column("count")?.i64()?.into_no_null_iter().collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "most frequent first"
    );
    assert_eq!(
        counts.iter().sum::<i64>() as usize,
        data.height() - data.column("name")?.null_count()
    );
    let d = df.describe()?.compute()?;
    let stats: Vec<&str> = d.column("statistic")?.str()?.iter().flatten().collect();
    assert_eq!(
        stats,
        [
            "count",
            "null_count",
            "mean",
            "std",
            "min",
            "25%",
            "50%",
            "75%",
            "max"
        ]
    );
    let values = data.column("value")?.f64()?;
    let col_v = d.column("value")?.f64()?;
    assert_eq!(
        col_v.get(0),
        Some((values.len() - values.null_count()) as f64)
    );
    assert!((col_v.get(2).unwrap_or(0.0) - values.mean().unwrap_or(0.0)).abs() < 1e-9);
    assert!((col_v.get(3).unwrap_or(0.0) - values.std(1).unwrap_or(0.0)).abs() < 1e-9);
    let median = values
        .quantile(0.5, QuantileMethod::Nearest)?
        .unwrap_or(0.0);
    assert!((col_v.get(6).unwrap_or(0.0) - median).abs() < 1.0);
    Ok(())
}

#[test]
fn joins_and_sorts_match_polars() -> anyhow::Result<()> {
    init();
    let left = events(3000, 80, 5);
    let right = df!(
        "user_id" => (10i64..100).collect::<Vec<_>>(),
        "score" => (10..100).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
        "value" => (10..100).map(|i| -(i as f64)).collect::<Vec<_>>()
    )?;
    for (how, jt) in [
        (How::Inner, JoinType::Inner),
        (How::Left, JoinType::Left),
        (How::Outer, JoinType::Full),
        (How::Semi, JoinType::Semi),
        (How::Anti, JoinType::Anti),
    ] {
        let mut args = JoinArgs::new(jt);
        if how == How::Outer {
            args = args.with_coalesce(JoinCoalesce::CoalesceColumns);
        }
        let want = left
            .clone()
            .lazy()
            .join(
                right.clone().lazy(),
                [col("user_id")],
                [col("user_id")],
                args,
            )
            .collect()?;
        for (nl, nr, method) in [
            (1, 1, ShuffleMethod::Tasks),
            (5, 1, ShuffleMethod::Disk),
            (6, 4, ShuffleMethod::Disk),
            (3, 7, ShuffleMethod::Tasks),
        ] {
            let l = BriskFrame::from_polars(left.clone(), nl)?;
            let r = BriskFrame::from_polars(right.clone(), nr)?;
            let j = l.join_with(
                &r,
                JoinOptions::new("user_id", "user_id", how).shuffle_method(method),
            )?;
            assert_eq!(j.schema(), want.schema().clone());
            let got = j.compute()?;
            assert_frames_close(&got, &want, &["user_id", "value", "timestamp", "name"], 0.0);
        }
    }
    // Keys of different integer types are cast to a common type before hashing.
    let r32 = right
        .clone()
        .lazy()
        .with_columns([col("user_id").cast(DataType::Int32)])
        .collect()?;
    let j = BriskFrame::from_polars(left.clone(), 4)?
        .join_with(
            &BriskFrame::from_polars(r32, 3)?,
            JoinOptions::new("user_id", "user_id", How::Inner).broadcast(Some(false)),
        )?
        .compute()?;
    let want = left
        .clone()
        .lazy()
        .join(
            right.clone().lazy(),
            [col("user_id")],
            [col("user_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .collect()?;
    assert_eq!(j.height(), want.height());

    // Sorting: ascending, descending, multi-column, with nulls last.
    let data = events(2500, 1000, 9);
    for (label, df) in layouts(&data) {
        for desc in [false, true] {
            let got = df
                .sort_values_with(
                    vec!["user_id".into(), "value".into()],
                    vec![desc, false],
                    true,
                    ShuffleMethod::Disk,
                )?
                .compute()?;
            let want = data.sort(
                ["user_id", "value"],
                SortMultipleOptions::default()
                    .with_order_descending_multi([desc, false])
                    .with_nulls_last(true)
                    .with_maintain_order(true),
            )?;
            assert_eq!(
                got.select(["user_id", "value"])?,
                want.select(["user_id", "value"])?,
                "{label}, descending {desc}"
            );
        }
    }
    // set_index: sorted, with divisions that bound every partition.
    let df = BriskFrame::from_polars(data.clone(), 6)?;
    let idx = df.set_index("user_id")?;
    let div = idx.divisions().expect("divisions").bounds.clone();
    assert_eq!(div.len(), idx.npartitions() + 1);
    for i in 0..idx.npartitions() {
        let p = idx.get_partition(i)?.compute()?;
        let ids = p.column("user_id")?.i64()?;
        let (lo, hi) = (
            div.i64()?.get(i).unwrap_or(0),
            div.i64()?.get(i + 1).unwrap_or(0),
        );
        for v in ids.iter().flatten() {
            assert!(
                lo <= v && v <= hi,
                "partition {i}: {v} outside [{lo}, {hi}]"
            );
        }
        let v: Vec<Option<i64>> = ids.iter().collect();
        let mut s = v.clone();
        s.sort_by(|a, b| match (a, b) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, _) => std::cmp::Ordering::Greater,
            (_, None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) => x.cmp(y),
        });
        assert_eq!(v, s, "partition {i} sorted");
    }
    assert_eq!(idx.len()?, data.height());
    assert!(
        idx.filter(col("value").gt(lit(0.0)))?.divisions().is_some(),
        "filters keep divisions"
    );
    assert!(
        idx.with_columns([lit(1).alias("user_id")])?
            .divisions()
            .is_none()
    );
    Ok(())
}

/// `set_index(npartitions = n)` on a column with few distinct values gives fewer partitions
/// (duplicate quantiles are dropped, as in Dask), and `npartitions`, the divisions and the
/// computed partitions always agree.
#[test]
fn set_index_with_repeated_values_has_consistent_divisions() -> anyhow::Result<()> {
    init();
    let n = 600;
    let data = df!(
        "k" => (0..n).map(|i| [5i64, 1, 9][i % 3]).collect::<Vec<_>>(),
        "v" => (0..n).map(|i| i as f64).collect::<Vec<_>>()
    )?;
    let df = BriskFrame::from_polars(data.clone(), 7)?;
    for (asked, column) in [(8usize, "k"), (3, "k"), (1, "k"), (8, "v")] {
        let idx = df.set_index_with(column, asked, ShuffleMethod::Disk)?;
        let div = idx.divisions().expect("divisions").bounds.clone();
        assert!(idx.npartitions() <= asked, "{column}: asked {asked}");
        assert_eq!(div.len(), idx.npartitions() + 1, "{column}: asked {asked}");
        assert_eq!(idx.output_keys().len(), idx.npartitions());
        let div = div.cast(&DataType::Float64)?;
        let div = div.f64()?;
        let mut total = 0;
        for i in 0..idx.npartitions() {
            let p = idx.get_partition(i)?.compute()?;
            total += p.height();
            let (lo, hi) = (
                div.get(i).unwrap_or(f64::NAN),
                div.get(i + 1).unwrap_or(f64::NAN),
            );
            let vals = p.column(column)?.cast(&DataType::Float64)?;
            for x in vals.f64()?.into_no_null_iter() {
                assert!(
                    lo <= x && x <= hi,
                    "{column}/{asked}: partition {i}: {x} outside [{lo}, {hi}]"
                );
            }
        }
        assert_eq!(total, n, "{column}: asked {asked}");
        let got = idx.compute()?;
        let want = data.sort(
            [column],
            SortMultipleOptions::default().with_maintain_order(true),
        )?;
        assert!(
            got.column(column)?
                .as_materialized_series()
                .equals_missing(want.column(column)?.as_materialized_series()),
            "{column}: asked {asked}"
        );
    }
    // Three distinct values: at most two partitions (three boundaries), however many were asked.
    let idx = df.set_index_with("k", 8, ShuffleMethod::Disk)?;
    assert_eq!(idx.npartitions(), 2);
    // One distinct value: one partition whose divisions are [v, v].
    let same = BriskFrame::from_polars(df!("k" => vec![4i64; 50])?, 5)?;
    let idx = same.set_index_with("k", 4, ShuffleMethod::Disk)?;
    assert_eq!(idx.npartitions(), 1);
    assert_eq!(idx.divisions().expect("divisions").bounds.len(), 2);
    assert_eq!(idx.compute()?.height(), 50);
    Ok(())
}

#[test]
fn structure_persist_head_repartition_concat_and_map_partitions() -> anyhow::Result<()> {
    init();
    let data = events(1000, 20, 2);
    let df = BriskFrame::from_polars(data.clone(), 5)?;
    let text = df.to_string();
    assert!(
        text.contains("5 partitions") && text.contains("user_id") && text.contains("f64"),
        "{text}"
    );
    assert_eq!(df.head(7)?, data.head(Some(7)));
    assert_eq!(
        df.head(450)?,
        data.head(Some(450)),
        "head across partitions"
    );
    assert_eq!(df.tail(3)?, data.tail(Some(3)));
    let p = df.filter(col("value").gt(lit(0.0)))?.persist()?;
    assert_eq!(p.num_layers(), 1, "persisted frames have no work left");
    assert_eq!(
        p.compute()?,
        data.clone()
            .lazy()
            .filter(col("value").gt(lit(0.0)))
            .collect()?
    );
    for n in [1, 3, 5, 12] {
        let r = df.repartition(n)?;
        assert_eq!(r.npartitions(), n);
        assert!(r.compute()?.equals_missing(&data), "repartition {n}");
    }
    let c = concat(&[df.clone(), df.clone()])?;
    assert_eq!(c.npartitions(), 10);
    assert_eq!(c.len()?, 2000);
    let m = df.map_partitions("add-row-count", |p| {
        let n = p.height() as i64;
        p.lazy()
            .with_columns([lit(n).cast(DataType::Int64).alias("rows")])
            .collect()
    })?;
    assert_eq!(m.columns().last().map(String::as_str), Some("rows"));
    let got = m.compute()?;
    assert_eq!(got.column("rows")?.i64()?.get(0), Some(200));
    // A function whose output disagrees with the declared schema is an error naming it.
    let bad = df.map_partitions_with_schema("liar", df.schema(), |p| {
        p.lazy().select([col("value")]).collect()
    })?;
    let msg = bad.compute().unwrap_err().to_string();
    assert!(msg.contains("liar"), "{msg}");
    // The same graph goes to another process only without closures.
    let plain = df
        .filter(col("value").gt(lit(0.0)))?
        .groupby("name")
        .col("value")
        .sum()?;
    let bytes = brisk_core::wire::encode_graph(&plain.graph())?;
    let back = brisk_core::wire::decode_graph(&bytes)?;
    let values = brisk_local::LocalScheduler::threaded().get_many(&back, &plain.output_keys())?;
    assert_frames_close(
        &plain.finalize(values)?,
        &plain.compute()?,
        &["name"],
        1e-12,
    );
    let err = brisk_core::wire::encode_graph(&m.graph()).unwrap_err();
    assert!(err.to_string().contains("add-row-count"), "{err}");
    // Pictures of the graph.
    let dir = tempfile::tempdir()?;
    let pic = plain.visualize(dir.path().join("g.dot"))?;
    assert!(std::fs::read_to_string(pic)?.contains("groupby-agg"));
    Ok(())
}

#[test]
fn bad_input_is_a_clear_error() -> anyhow::Result<()> {
    init();
    let df = BriskFrame::from_polars(events(100, 5, 1), 2)?;
    let msg = |e: DataFrameError| e.to_string();
    assert!(msg(df.select([col("nope")]).unwrap_err()).contains("nope"));
    assert!(msg(df.filter(col("value") + lit(1.0)).unwrap_err()).contains("Boolean"));
    assert!(msg(df.groupby("nope").size().unwrap_err()).contains("nope"));
    assert!(msg(df.groupby("name").agg([Agg::mean("name")]).unwrap_err()).contains("numeric"));
    assert!(
        msg(df
            .groupby("name")
            .agg([Agg::mean("value"), Agg::sum("value")])
            .unwrap_err())
        .contains("twice")
    );
    assert!(msg(df.groupby("name").split_out(0).size().unwrap_err()).contains("split_out"));
    assert!(msg(df.repartition(0).unwrap_err()).contains("npartitions"));
    assert!(msg(df.get_partition(9).unwrap_err()).contains("out of range"));
    assert!(msg(df.drop(["zzz"]).unwrap_err()).contains("zzz"));
    assert!(
        msg(df
            .join(&df, ["user_id"], ["name", "value"], How::Inner)
            .unwrap_err())
        .contains("keys")
    );
    assert!(msg(df.sort_values("nope", false).unwrap_err()).contains("nope"));
    assert!(msg(BriskFrame::from_partitions(vec![]).unwrap_err()).contains("partition"));
    let other = BriskFrame::from_polars(df!("x" => [1])?, 1)?;
    assert!(concat(&[df.clone(), other]).is_err());
    let err = df
        .join_with(
            &df,
            JoinOptions::new("user_id", "user_id", How::Outer).broadcast(Some(true)),
        )
        .unwrap_err();
    assert!(msg(err).contains("broadcast"));
    Ok(())
}
