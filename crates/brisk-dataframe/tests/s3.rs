//! Readers and writers against a real S3-compatible server (moto, started on 127.0.0.1 by the
//! test): Parquet, CSV (plain and gzip) and JSON written to a bucket, read back with globs and
//! compared with in-memory Polars; missing objects, buckets and bad credentials are errors that
//! name the URL. One test function shares one server.

mod common;

use brisk_core::Collection;
use brisk_dataframe::{
    DataFrame as BriskFrame, DataFrameError, ReadCsv, ReadJson, ReadParquet, SplitRowGroups,
};
use brisk_io::{IoError, Storage, StorageOptions};
use brisk_test_utils::s3::MotoServer;
use common::{assert_frames_close, events, init};
use polars::prelude::*;

fn options(server: &MotoServer) -> StorageOptions {
    StorageOptions::new()
        .s3_endpoint(&server.endpoint)
        .s3_credentials(&server.key_id, &server.secret)
}

fn sorted(df: &DataFrame) -> DataFrame {
    df.sort(
        ["user_id", "value", "name", "timestamp"],
        SortMultipleOptions::default().with_nulls_last(true),
    )
    .expect("sort")
}

#[test]
fn s3_round_trips_globs_and_errors() -> anyhow::Result<()> {
    init();
    let Some(server) = MotoServer::start(&["frames"]) else {
        return Ok(());
    };
    let opts = options(&server);
    let data = events(3000, 40, 5);
    let df = BriskFrame::from_polars(data.clone(), 4)?;

    // Parquet: one object per partition, read back with a glob, whole and projected+filtered.
    let written = df.to_parquet_with("s3://frames/pq", opts.clone())?;
    assert_eq!(written.len(), 4);
    assert_eq!(written[0], "s3://frames/pq/part.0.parquet");
    let back = ReadParquet::new("s3://frames/pq/part.*.parquet")
        .storage_options(opts.clone())
        .finish()?;
    assert_eq!(back.npartitions(), 4);
    assert_eq!(back.schema(), data.schema().clone());
    assert!(back.compute()?.equals_missing(&data), "parquet round trip");
    let q = ReadParquet::new("s3://frames/pq")
        .storage_options(opts.clone())
        .split_row_groups(SplitRowGroups::PerRowGroup)
        .finish()?
        .filter(col("value").gt(lit(50.0)))?
        .select([col("user_id"), col("value")])?;
    let want = data
        .clone()
        .lazy()
        .filter(col("value").gt(lit(50.0)))
        .select([col("user_id"), col("value")])
        .collect()?;
    assert!(q.compute()?.equals_missing(&want), "projected + filtered");
    let means = ReadParquet::new("s3://frames/pq/*.parquet")
        .storage_options(opts.clone())
        .finish()?
        .groupby("user_id")
        .col("value")
        .mean()?
        .compute()?;
    let want = data
        .clone()
        .lazy()
        .filter(col("user_id").is_not_null())
        .group_by([col("user_id")])
        .agg([col("value").mean()])
        .collect()?;
    assert_frames_close(&means, &want, &["user_id"], 1e-9);

    // CSV, plain and gzip-compressed (by extension), with small blocks over the plain ones.
    df.to_csv_with("s3://frames/csv/2015-01-*.csv", opts.clone())?;
    df.to_csv_with("s3://frames/gz/part-*.csv.gz", opts.clone())?;
    let storage = Storage::new(opts.clone());
    let gz = storage.read_raw("s3://frames/gz/part-0.csv.gz")?;
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
    let plain = ReadCsv::new("s3://frames/csv/2015-*-*.csv")
        .storage_options(opts.clone())
        .blocksize(Some(10_000))
        .finish()?;
    assert!(plain.npartitions() > 4, "blocks split the objects");
    assert!(sorted(&plain.compute()?).equals_missing(&sorted(&data)));
    let packed = ReadCsv::new("s3://frames/gz/*.csv.gz")
        .storage_options(opts.clone())
        .blocksize(Some(10_000))
        .finish()?;
    assert_eq!(
        packed.npartitions(),
        4,
        "compressed objects are never split"
    );
    assert!(sorted(&packed.compute()?).equals_missing(&sorted(&data)));
    assert!(packed.head(5)?.equals_missing(&data.head(Some(5))));

    // Newline-delimited JSON (zstd) uploaded directly.
    let mut text = Vec::new();
    JsonWriter::new(&mut text)
        .with_json_format(JsonFormat::JsonLines)
        .finish(&mut data.clone())?;
    storage.write_all("s3://frames/json/events.jsonl.zst", &text)?;
    let j = ReadJson::new("s3://frames/json/*.jsonl.zst")
        .storage_options(opts.clone())
        .finish()?;
    let got = j.compute()?;
    assert_eq!(got.height(), data.height());
    assert!(got.column("value")?.equals_missing(data.column("value")?));

    // Errors name the URL: a missing object, a missing bucket, a glob matching nothing, bad
    // credentials, and a schema that disagrees with the first file's.
    let err = ReadParquet::new("s3://frames/pq/nope.parquet")
        .storage_options(opts.clone())
        .finish()
        .expect_err("missing object");
    assert!(
        matches!(err, DataFrameError::Storage(IoError::NotFound { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("s3://frames/pq/nope.parquet"),
        "{err}"
    );
    let err = ReadCsv::new("s3://no-such-bucket/x/*.csv")
        .storage_options(opts.clone())
        .finish()
        .expect_err("missing bucket");
    assert!(
        matches!(err, DataFrameError::Storage(IoError::BucketNotFound { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("no-such-bucket"), "{err}");
    let err = ReadCsv::new("s3://frames/csv/1999-*.csv")
        .storage_options(opts.clone())
        .finish()
        .expect_err("no match");
    assert!(
        err.to_string().contains("s3://frames/csv/1999-*.csv"),
        "{err}"
    );
    let err = ReadParquet::new("s3://frames/pq/*.parquet")
        .storage_options(
            StorageOptions::new()
                .s3_endpoint(&server.endpoint)
                .s3_credentials("wrong", "wrong"),
        )
        .finish()
        .expect_err("bad credentials");
    assert!(
        matches!(err, DataFrameError::Storage(IoError::BadCredentials { .. })),
        "{err:?}"
    );
    let other = BriskFrame::from_polars(data.select(["user_id", "name"])?, 1)?;
    other.to_parquet_with("s3://frames/pq/zz-*.parquet", opts.clone())?;
    let err = ReadParquet::new("s3://frames/pq/*.parquet")
        .storage_options(opts.clone())
        .finish()
        .expect_err("schema mismatch");
    assert!(
        err.to_string().contains("s3://frames/pq/zz-0.parquet"),
        "{err}"
    );

    // Text readers read the version they listed: an object replaced after the frame was
    // built is an error naming it (never a mix of two versions); built again, it reads the new one.
    let url = "s3://frames/csv/2015-01-1.csv";
    let csv = ReadCsv::new("s3://frames/csv/2015-*-*.csv")
        .storage_options(opts.clone())
        .blocksize(Some(10_000))
        .finish()?;
    let json = ReadJson::new("s3://frames/json/*.jsonl.zst")
        .storage_options(opts.clone())
        .finish()?;
    let mut bytes = Vec::new();
    CsvWriter::new(&mut bytes).finish(&mut data.head(Some(10)))?;
    storage.write_all(url, &bytes)?;
    storage.write_all("s3://frames/json/events.jsonl.zst", &text[..text.len() / 2])?;
    for (what, err, name) in [
        ("csv", csv.compute().expect_err("replaced csv"), url),
        (
            "json",
            json.compute().expect_err("replaced json"),
            "s3://frames/json/events.jsonl.zst",
        ),
    ] {
        let cause = err
            .task_failure()
            .and_then(|f| f.downcast_ref::<DataFrameError>());
        assert!(
            matches!(
                cause,
                Some(DataFrameError::Storage(IoError::Changed { .. }))
            ),
            "{what}: {err:?}"
        );
        assert!(err.to_string().contains(name), "{what}: {err}");
    }
    let again = ReadCsv::new(url).storage_options(opts.clone()).finish()?;
    assert_eq!(again.compute()?.height(), 10);
    Ok(())
}

#[test]
fn s3_hive_partitions_round_trip_and_prune() -> anyhow::Result<()> {
    init();
    let Some(server) = MotoServer::start(&["hive"]) else {
        return Ok(());
    };
    let opts = options(&server);
    let data = events(2000, 30, 9)
        .lazy()
        .with_column((col("user_id") % lit(3)).alias("bucket"))
        .collect()?;
    let written = BriskFrame::from_polars(data.clone(), 2)?
        .write_parquet("s3://hive/ev")
        .partition_by(["bucket", "name"])
        .storage_options(opts.clone())
        .finish()?;
    assert!(
        written
            .iter()
            .any(|w| w.starts_with("s3://hive/ev/bucket=0/name=alice/part.")),
        "{written:?}"
    );
    // The prefix is listed recursively and the keys come back as columns.
    let back = ReadParquet::new("s3://hive/ev")
        .storage_options(opts.clone())
        .finish()?;
    assert_eq!(back.schema().get("bucket"), Some(&DataType::Int64));
    let want = data
        .clone()
        .lazy()
        .with_column(col("bucket").cast(DataType::Int64))
        .collect()?;
    assert_frames_close(
        &back.compute()?,
        &want,
        &["user_id", "value", "timestamp", "name"],
        0.0,
    );
    // A filter on the keys keeps only the matching objects (one per name, per partition).
    let pruned = ReadParquet::new("s3://hive/ev/")
        .storage_options(opts.clone())
        .filter(col("bucket").eq(lit(1)).and(col("name").eq(lit("bob"))))
        .finish()?;
    assert!(pruned.npartitions() <= 2, "{}", pruned.npartitions());
    let want = want
        .lazy()
        .filter(col("bucket").eq(lit(1)).and(col("name").eq(lit("bob"))))
        .collect()?;
    assert_frames_close(
        &pruned.compute()?,
        &want,
        &["user_id", "value", "timestamp"],
        0.0,
    );
    Ok(())
}
