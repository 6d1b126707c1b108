//! Results compared with pandas on the same generated CSV files (nulls in keys and values),
//! with one partition, a partition per file, and many small partitions.

mod common;

use brisk_core::Collection;
use brisk_dataframe::{Agg, DataFrame as BriskFrame, How, JoinOptions, ReadCsv, ShuffleMethod};
use common::{assert_frames_close, event_files, init, python, read_parquet_file, run_python};
use polars::prelude::*;

const PANDAS: &str = r#"
import sys, glob
import pandas as pd
src, out = sys.argv[1], sys.argv[2]
df = pd.concat([pd.read_csv(f) for f in sorted(glob.glob(src))], ignore_index=True)
g = df.groupby("user_id")
pd.DataFrame({
    "mean": g.value.mean(), "sum": g.value.sum(), "count": g.value.count(), "size": g.size(),
    "min": g.value.min(), "max": g.value.max(), "std": g.value.std(), "var": g.value.var(),
    "first": g.value.first(), "last": g.value.last(), "nunique": g.name.nunique(),
    "name_min": g.name.min(),
}).reset_index().to_parquet(out + "/groupby.parquet")
df.groupby("user_id").value.mean().reset_index().to_parquet(out + "/talk.parquet")
(df.groupby(["name", "user_id"]).agg(total=("value", "sum"), n=("value", "size"))
   .reset_index().to_parquet(out + "/multikey.parquet"))
f = df[df.value > 10].assign(v2=lambda d: d.value * 2 + 1, upper=lambda d: d.name.str.upper())
f[["user_id", "v2", "upper"]].to_parquet(out + "/pipeline.parquet")
df.name.value_counts().reset_index().to_parquet(out + "/value_counts.parquet")
pd.DataFrame({c: [df[c].nunique()] for c in ["user_id", "value", "name"]}).to_parquet(out + "/nunique.parquet")
pd.DataFrame({c: [df[c].sum()] for c in ["user_id", "value"]}).to_parquet(out + "/sum.parquet")
df[["user_id", "value"]].describe().reset_index().to_parquet(out + "/describe.parquet")
df[["user_id", "name"]].drop_duplicates().to_parquet(out + "/dedup.parquet")
pd.DataFrame({"n": [len(df)]}).to_parquet(out + "/len.parquet")
"#;

fn configs(pattern: &str) -> Vec<(&'static str, BriskFrame)> {
    vec![
        (
            "one partition per file",
            ReadCsv::new(pattern)
                .blocksize(None)
                .finish()
                .expect("read"),
        ),
        (
            "many small partitions",
            ReadCsv::new(pattern)
                .blocksize(Some(2500))
                .finish()
                .expect("read"),
        ),
    ]
}

#[test]
fn aggregations_match_pandas() -> anyhow::Result<()> {
    init();
    let Some(py) = python() else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let out = tempfile::tempdir()?;
    let (pattern, _) = event_files(dir.path(), 5, 1500, 60);
    run_python(
        &py,
        PANDAS,
        &[&pattern, out.path().to_str().unwrap_or_default()],
    );
    let reference = |name: &str| read_parquet_file(&out.path().join(format!("{name}.parquet")));

    for (label, df) in configs(&pattern) {
        eprintln!("{label}: {} partitions", df.npartitions());
        assert!(df.npartitions() >= 5);
        for (split_out, split_every) in [(1, 8), (3, 2)] {
            let g = df
                .groupby("user_id")
                .split_out(split_out)
                .split_every(split_every)
                .agg([
                    Agg::mean("value"),
                    Agg::sum("value").alias("sum"),
                    Agg::count("value").alias("count"),
                    Agg::size(),
                    Agg::min("value").alias("min"),
                    Agg::max("value").alias("max"),
                    Agg::std("value").alias("std"),
                    Agg::var("value").alias("var"),
                    Agg::first("value").alias("first"),
                    Agg::last("value").alias("last"),
                    Agg::nunique("name").alias("nunique"),
                    Agg::min("name").alias("name_min"),
                ])?
                .rename(["value"], ["mean"])?
                .compute()?;
            assert_frames_close(&g, &reference("groupby"), &["user_id"], 1e-9);
        }

        // The talk's example.
        let talk = df.groupby("user_id").col("value").mean()?.compute()?;
        assert_frames_close(&talk, &reference("talk"), &["user_id"], 1e-9);
        let keys: Vec<i64> = talk.column("user_id")?.i64()?.into_no_null_iter().collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted by key");

        let mk = df
            .groupby(["name", "user_id"])
            .agg([Agg::sum("value").alias("total"), Agg::size().alias("n")])?
            .compute()?;
        assert_frames_close(&mk, &reference("multikey"), &["name", "user_id"], 1e-9);

        let pipe = df
            .filter(col("value").gt(lit(10.0)))?
            .with_columns([
                (col("value") * lit(2.0) + lit(1.0)).alias("v2"),
                col("name").str().to_uppercase().alias("upper"),
            ])?
            .select([col("user_id"), col("v2"), col("upper")])?
            .compute()?;
        assert_frames_close(
            &pipe,
            &reference("pipeline"),
            &["user_id", "v2", "upper"],
            1e-12,
        );

        let vc = df.column("name")?.value_counts()?.compute()?;
        assert_frames_close(&vc, &reference("value_counts"), &["name"], 0.0);

        let nu = df
            .select([col("user_id"), col("value"), col("name")])?
            .nunique()?
            .compute()?;
        assert_frames_close(&nu, &reference("nunique"), &[], 0.0);

        let sums = df
            .select([col("user_id"), col("value")])?
            .sum()?
            .compute()?;
        assert_frames_close(&sums, &reference("sum"), &[], 1e-9);

        let dd = df
            .select([col("user_id"), col("name")])?
            .unique()?
            .compute()?;
        assert_frames_close(&dd, &reference("dedup"), &["user_id", "name"], 0.0);

        let n = reference("len").column("n")?.i64()?.get(0);
        assert_eq!(Some(df.len()? as i64), n);

        // describe: exact moments, approximate quartiles.
        let d = df
            .select([col("user_id"), col("value")])?
            .describe()?
            .compute()?;
        let r = reference("describe");
        let stat_names: Vec<String> = r
            .column("index")?
            .str()?
            .iter()
            .flatten()
            .map(String::from)
            .collect();
        for c in ["user_id", "value"] {
            let ours = d.column(c)?.f64()?.clone();
            let theirs = r.column(c)?.f64()?.clone();
            for (i, s) in stat_names.iter().enumerate() {
                let j = d
                    .column("statistic")?
                    .str()?
                    .iter()
                    .flatten()
                    .position(|x| x == s)
                    .unwrap_or_else(|| panic!("statistic {s} missing"));
                let (a, b) = (
                    ours.get(j).unwrap_or(f64::NAN),
                    theirs.get(i).unwrap_or(f64::NAN),
                );
                let tol = if s.ends_with('%') {
                    1.0
                } else {
                    1e-9 * b.abs().max(1.0)
                };
                assert!((a - b).abs() <= tol, "describe {c} {s}: {a} vs {b}");
            }
        }
    }
    Ok(())
}

const PANDAS_JOIN: &str = r#"
import sys, glob
import pandas as pd
src, users, out = sys.argv[1], sys.argv[2], sys.argv[3]
df = pd.concat([pd.read_csv(f) for f in sorted(glob.glob(src))], ignore_index=True)
u = pd.read_csv(users)
for how in ["inner", "left", "outer"]:
    df.merge(u, on="user_id", how=how, suffixes=("", "_right")).to_parquet(out + f"/{how}.parquet")
s = df.sort_values("value", ascending=False, na_position="last", kind="stable")
s[["value"]].to_parquet(out + "/sorted.parquet")
"#;

#[test]
fn joins_and_sorting_match_pandas() -> anyhow::Result<()> {
    init();
    let Some(py) = python() else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let out = tempfile::tempdir()?;
    let (pattern, _) = event_files(dir.path(), 4, 800, 50);
    // Users 5..=70: some events have no user, some users have no event; `name` clashes.
    let users = df!(
        "user_id" => (5i64..=70).collect::<Vec<_>>(),
        "name" => (5..=70).map(|i| format!("user{i}")).collect::<Vec<_>>(),
        "age" => (5..=70).map(|i| 20 + i % 50).collect::<Vec<i64>>()
    )?;
    let users_path = dir.path().join("users.csv");
    common::write_csv(&users, &users_path);
    run_python(
        &py,
        PANDAS_JOIN,
        &[
            &pattern,
            users_path.to_str().unwrap_or_default(),
            out.path().to_str().unwrap_or_default(),
        ],
    );
    let left = ReadCsv::new(&pattern).blocksize(Some(4000)).finish()?;
    let right_one = ReadCsv::new(users_path.to_str().unwrap_or_default()).finish()?;
    let right_many = right_one.repartition(3)?;
    for (how, name) in [
        (How::Inner, "inner"),
        (How::Left, "left"),
        (How::Outer, "outer"),
    ] {
        let reference = read_parquet_file(&out.path().join(format!("{name}.parquet")));
        for (label, right, method) in [
            ("broadcast", &right_one, ShuffleMethod::Disk),
            ("hash shuffle on disk", &right_many, ShuffleMethod::Disk),
            ("hash shuffle in memory", &right_many, ShuffleMethod::Tasks),
        ] {
            let j = left.join_with(
                right,
                JoinOptions::new("user_id", "user_id", how).shuffle_method(method),
            )?;
            eprintln!("{name} join, {label}:\n{}", j.explain());
            let got = j.compute()?;
            assert_frames_close(
                &got,
                &reference,
                &["user_id", "value", "name", "timestamp", "age"],
                1e-12,
            );
        }
    }
    let sorted = left
        .sort_values_with(vec!["value".into()], vec![true], true, ShuffleMethod::Disk)?
        .compute()?;
    let reference = read_parquet_file(&out.path().join("sorted.parquet"));
    let a: Vec<Option<f64>> = sorted.column("value")?.f64()?.iter().collect();
    let b: Vec<Option<f64>> = reference
        .column("value")?
        .f64()?
        .iter()
        .map(|v| v.filter(|x| !x.is_nan()))
        .collect();
    assert_eq!(a, b);
    Ok(())
}
