//! Readers and writers: globs, block splitting, headers, schemas, projection and predicate
//! pushdown, round trips, and the errors for bad input.

mod common;

use brisk_core::Collection;
use brisk_dataframe::{
    DataFrameError, ReadCsv, ReadJson, ReadParquet, SplitRowGroups, read_csv, read_json,
    read_parquet,
};
use common::{assert_frames_close, event_files, init};
use polars::prelude::*;

#[test]
fn csv_blocks_split_at_lines_and_give_the_same_rows() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    let (pattern, all) = event_files(dir.path(), 3, 700, 40);
    let whole = ReadCsv::new(&pattern).blocksize(None).finish()?;
    assert_eq!(whole.npartitions(), 3);
    for bs in [97u64, 1000, 4096, 1 << 20] {
        let df = ReadCsv::new(&pattern).blocksize(Some(bs)).finish()?;
        let got = df.compute()?;
        assert_eq!(got.height(), 2100, "blocksize {bs}");
        assert!(
            got.equals_missing(&all),
            "blocksize {bs}: rows differ or are out of order"
        );
    }
    // A glob over a directory, and a directory itself.
    let by_dir = read_csv(dir.path().to_str().unwrap_or_default())?;
    assert_eq!(by_dir.npartitions(), 3);
    Ok(())
}

#[test]
fn csv_schema_inference_dtypes_and_dates() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    let (pattern, _) = event_files(dir.path(), 2, 50, 10);
    let df = read_csv(&pattern)?;
    assert_eq!(
        df.dtypes(),
        vec![
            ("user_id".to_string(), DataType::Int64),
            ("value".to_string(), DataType::Float64),
            ("name".to_string(), DataType::String),
            ("timestamp".to_string(), DataType::String),
        ]
    );
    let typed = ReadCsv::new(&pattern)
        .dtype("user_id", DataType::Float64)
        .try_parse_dates(true)
        .finish()?;
    assert_eq!(typed.schema().get("user_id"), Some(&DataType::Float64));
    assert!(matches!(
        typed.schema().get("timestamp"),
        Some(DataType::Datetime(_, _))
    ));
    // Datetime basics, partition-wise.
    let hours = typed
        .with_columns([col("timestamp").dt().hour().alias("hour")])?
        .groupby("hour")
        .size()?
        .compute()?;
    assert_eq!(hours.column("size")?.i64()?.sum(), Some(100));
    let err = ReadCsv::new(&pattern)
        .dtype("nope", DataType::Int64)
        .finish()
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    Ok(())
}

#[test]
fn csv_header_mismatch_names_the_file() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.csv"), "x,y\n1,2\n3,4\n")?;
    std::fs::write(dir.path().join("b.csv"), "x,z\n5,6\n")?;
    let df = read_csv(dir.path().join("*.csv").to_str().unwrap_or_default())?;
    let err = df.compute().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("b.csv") && msg.contains("[x, z]"), "{msg}");
    // A value that does not parse as the inferred type names the file and bytes.
    std::fs::write(dir.path().join("b.csv"), "x,y\n5,oops\n")?;
    let df = ReadCsv::new(dir.path().join("*.csv").to_str().unwrap_or_default()).finish()?;
    let msg = df.compute().unwrap_err().to_string();
    assert!(msg.contains("b.csv"), "{msg}");
    // head reads only what it needs: two rows come from a.csv alone, never touching the bad
    // file; a third row needs b.csv, whose error then shows.
    let first = df.head(2)?;
    assert_eq!(
        first
            .column("y")?
            .i64()?
            .into_no_null_iter()
            .collect::<Vec<_>>(),
        [2, 4]
    );
    let msg = df.head(3).unwrap_err().to_string();
    assert!(msg.contains("b.csv"), "{msg}");
    Ok(())
}

#[test]
fn csv_empty_and_header_only_files_are_empty_partitions() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.csv"), "x,y\n1,2\n3,4\n")?;
    std::fs::write(dir.path().join("b.csv"), "x,y\n")?;
    std::fs::write(dir.path().join("c.csv"), "x,y\n5,6\n")?;
    let df = read_csv(dir.path().join("*.csv").to_str().unwrap_or_default())?;
    assert_eq!(df.npartitions(), 3);
    let out = df.compute()?;
    assert_eq!(
        out.column("x")?
            .i64()?
            .into_no_null_iter()
            .collect::<Vec<_>>(),
        [1, 3, 5]
    );
    assert_eq!(df.get_partition(1)?.compute()?.height(), 0);
    assert_eq!(df.len()?, 3);
    Ok(())
}

#[test]
fn missing_paths_and_bad_patterns_are_clear_errors() {
    let err = read_csv("/definitely/not/here.csv").expect_err("an error");
    assert!(
        matches!(
            err,
            DataFrameError::Storage(brisk_io::IoError::NotFound { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("/definitely/not/here.csv"));
    let err = read_csv("/tmp/[unclosed*.csv").expect_err("an error");
    assert!(err.to_string().contains("[unclosed"), "{err}");
    let err = ReadCsv::new("/tmp").blocksize(Some(0)).finish().err();
    assert!(err.is_some());
}

#[test]
fn readers_read_only_the_columns_used() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    let (pattern, all) = event_files(dir.path(), 2, 300, 20);
    let df = read_csv(&pattern)?;
    let means = df.groupby("user_id").col("value").mean()?;
    let plan = means.explain();
    assert!(
        plan.contains("read-csv [2 partitions, columns [user_id, value]]"),
        "{plan}"
    );
    // Two results over the same columns share their reads.
    let sum = df.column("value")?.sum::<f64>()?;
    let count = df.column("value")?.count::<u64>()?;
    let (s, c) = brisk_core::compute((&sum, &count))?;
    let reads = |g: &brisk_core::Graph| {
        g.iter()
            .filter(|(k, _)| k.name().starts_with("read-csv"))
            .count()
    };
    let mut g = sum.graph();
    g.extend(count.graph());
    assert_eq!(reads(&g), 2, "one read per block, shared");
    let expect = all.column("value")?.f64()?;
    assert!((s - expect.sum().unwrap_or(0.0)).abs() < 1e-6);
    assert_eq!(c, expect.len() as u64 - expect.null_count() as u64);
    // A filter on a column that is then dropped still reads it, and the answer is right.
    let filtered = df
        .filter(col("name").eq(lit("bob")))?
        .select([col("value")])?;
    let plan = filtered.explain();
    assert!(plan.contains("columns [value, name]"), "{plan}");
    let got = filtered.compute()?;
    let want = all
        .clone()
        .lazy()
        .filter(col("name").eq(lit("bob")))
        .select([col("value")])
        .collect()?;
    assert!(got.equals_missing(&want));
    Ok(())
}

#[test]
fn parquet_round_trip_projection_and_predicate_pushdown() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("pq");
    let (pattern, all) = event_files(dir.path(), 3, 1000, 30);
    let df = ReadCsv::new(&pattern).blocksize(Some(8000)).finish()?;
    let files = df.to_parquet(out.to_str().unwrap_or_default())?;
    assert_eq!(files.len(), df.npartitions());
    let back = read_parquet(out.to_str().unwrap_or_default())?;
    assert_eq!(back.npartitions(), files.len());
    assert!(back.compute()?.equals_missing(&all));

    // One sorted file with small row groups: statistics can rule most of them out.
    let sorted = all.sort(
        ["value"],
        SortMultipleOptions::default().with_nulls_last(true),
    )?;
    let single = dir.path().join("sorted.parquet");
    let mut f = std::fs::File::create(&single)?;
    ParquetWriter::new(&mut f)
        .with_row_group_size(Some(200))
        .finish(&mut sorted.clone())?;
    let p = ReadParquet::new(single.to_str().unwrap_or_default())
        .split_row_groups(SplitRowGroups::PerRowGroup)
        .finish()?;
    assert_eq!(p.npartitions(), 15);
    let q = p
        .filter(col("value").lt(lit(-80.0)))?
        .select([col("user_id"), col("value")])?;
    let plan = q.explain();
    assert!(plan.contains("predicate"), "{plan}");
    assert!(plan.contains("columns [user_id, value]"), "{plan}");
    let g = q.graph();
    let reads = g
        .iter()
        .filter(|(k, n)| {
            k.name().starts_with("read-parquet") && matches!(n, brisk_core::Node::Task(_))
        })
        .count();
    assert!(reads <= 3, "{reads} row groups read of 15");
    let got = q.compute()?;
    let want = all
        .clone()
        .lazy()
        .filter(col("value").lt(lit(-80.0)))
        .select([col("user_id"), col("value")])
        .collect()?;
    assert_frames_close(&got, &want, &["value", "user_id"], 0.0);

    // Filters given to the reader drop partitions at once.
    let r = ReadParquet::new(single.to_str().unwrap_or_default())
        .split_row_groups(SplitRowGroups::PerRowGroup)
        .filter(col("value").lt_eq(lit(-90.0)))
        .columns(["value"])
        .finish()?;
    assert!(r.npartitions() <= 3, "{}", r.npartitions());
    let got = r.compute()?;
    assert!(
        got.column("value")?
            .f64()?
            .into_no_null_iter()
            .all(|v| v <= -90.0)
    );
    assert_eq!(
        got.height(),
        all.column("value")?
            .f64()?
            .into_no_null_iter()
            .filter(|&v| v <= -90.0)
            .count()
    );

    // Files with different schemas are an error naming the file.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other)?;
    let mut a = df!("x" => [1i64])?;
    let mut b = df!("x" => ["s"])?;
    ParquetWriter::new(std::fs::File::create(other.join("a.parquet"))?).finish(&mut a)?;
    ParquetWriter::new(std::fs::File::create(other.join("b.parquet"))?).finish(&mut b)?;
    let err = read_parquet(other.join("*.parquet").to_str().unwrap_or_default()).expect_err("err");
    assert!(err.to_string().contains("b.parquet"), "{err}");
    Ok(())
}

#[test]
fn csv_and_json_writers_and_readers() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    let (pattern, all) = event_files(dir.path(), 2, 400, 20);
    let df = read_csv(&pattern)?;
    let target = dir.path().join("out/part-*.csv");
    let files = df.to_csv(target.to_str().unwrap_or_default())?;
    assert_eq!(files.len(), 2);
    assert!(files[1].ends_with("part-1.csv"));
    let back = read_csv(dir.path().join("out/*.csv").to_str().unwrap_or_default())?.compute()?;
    assert!(back.equals_missing(&all));

    let jpath = dir.path().join("events.jsonl");
    let mut f = std::fs::File::create(&jpath)?;
    JsonWriter::new(&mut f)
        .with_json_format(JsonFormat::JsonLines)
        .finish(&mut all.clone())?;
    let j = ReadJson::new(jpath.to_str().unwrap_or_default())
        .blocksize(Some(5000))
        .finish()?;
    assert!(j.npartitions() > 3);
    let got = j.compute()?;
    assert_frames_close(&got, &all, &[], 0.0);
    let means = read_json(jpath.to_str().unwrap_or_default())?
        .groupby("name")
        .col("value")
        .mean()?;
    assert!(means.explain().contains("columns [value, name]"));
    assert_eq!(means.compute()?.height(), 6);

    // Compressed by extension: a gzip CSV and a zstd JSON file read like plain ones (one
    // partition each, whatever the block size).
    let gz = dir.path().join("packed/part-*.csv.gz");
    df.to_csv(gz.to_str().unwrap_or_default())?;
    let packed = ReadCsv::new(
        dir.path()
            .join("packed/*.csv.gz")
            .to_str()
            .unwrap_or_default(),
    )
    .blocksize(Some(1000))
    .finish()?;
    assert_eq!(packed.npartitions(), 2);
    assert!(packed.compute()?.equals_missing(&all));
    let text = std::fs::read(&jpath)?;
    brisk_io::write_all(
        dir.path()
            .join("events.jsonl.zst")
            .to_str()
            .unwrap_or_default(),
        &text,
    )?;
    let z = ReadJson::new(dir.path().join("*.jsonl.zst").to_str().unwrap_or_default())
        .blocksize(Some(5000))
        .finish()?;
    assert_eq!(z.npartitions(), 1);
    assert_frames_close(&z.compute()?, &all, &[], 0.0);

    // JSON files whose records have fields the first file lacks are an error naming the file.
    let jdir = dir.path().join("json");
    std::fs::create_dir_all(&jdir)?;
    std::fs::write(jdir.join("a.jsonl"), "{\"x\": 1}\n{\"x\": 2}\n")?;
    std::fs::write(jdir.join("b.jsonl"), "{\"x\": 3, \"extra\": \"s\"}\n")?;
    let err = read_json(jdir.join("*.jsonl").to_str().unwrap_or_default())?
        .compute()
        .unwrap_err();
    assert!(
        err.to_string().contains("b.jsonl") && err.to_string().contains("extra"),
        "{err}"
    );
    Ok(())
}

/// Files of 1 MiB or more that are read whole go to Polars memory-mapped: the same rows as
/// reading them by blocks through brisk-io, projection included, and a header that differs
/// from the first file's is still an error naming the file.
#[test]
fn large_whole_csv_files_read_like_blocks() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    let (pattern, all) = event_files(dir.path(), 3, 40_000, 500);
    let size = std::fs::metadata(dir.path().join("2015-01-01.csv"))?.len();
    assert!(
        size >= 1 << 20,
        "the files must be large enough: {size} bytes"
    );
    let whole = ReadCsv::new(&pattern).blocksize(None).finish()?;
    assert_eq!(whole.npartitions(), 3);
    assert!(whole.compute()?.equals_missing(&all), "whole files");
    let blocks = ReadCsv::new(&pattern).blocksize(Some(300_000)).finish()?;
    assert!(blocks.npartitions() > 3);
    assert!(blocks.compute()?.equals_missing(&all), "blocks");
    let projected = whole.select([col("value"), col("user_id")])?.compute()?;
    assert!(projected.equals_missing(&all.select(["value", "user_id"])?));

    let mut other = common::events(40_000, 500, 9);
    other.rename("value", "amount".into())?;
    let bad = dir.path().join("2015-01-04.csv");
    common::write_csv(&other, &bad);
    let err = ReadCsv::new(&pattern)
        .blocksize(None)
        .finish()?
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2015-01-04.csv") && err.contains("amount"),
        "{err}"
    );
    Ok(())
}
