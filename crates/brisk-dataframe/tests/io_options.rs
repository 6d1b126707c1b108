//! Reader and writer options people reach for: CSV `skip_rows`, `comment_prefix`,
//! `ignore_errors`, `truncate_ragged_lines` (each compared with Polars' reader given the same
//! option on the same bytes, over several blocks), and Parquet compression and row-group size
//! (checked in the written files' metadata, and read back).

mod common;

use brisk_core::Collection;
use brisk_dataframe::{Compression, DataFrameError, ReadCsv, read_parquet};
use common::{assert_frames_close, init};
use polars::prelude::*;

fn polars_csv(bytes: &[u8], f: impl FnOnce(CsvReadOptions) -> CsvReadOptions) -> DataFrame {
    f(CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None))
    .into_reader_with_file_handle(std::io::Cursor::new(bytes.to_vec()))
    .finish()
    .expect("polars reads the file")
}

/// `n` data lines `i,i*0.5,name{i%7}`.
fn rows(n: usize) -> String {
    (0..n)
        .map(|i| format!("{i},{},name{}\n", i as f64 * 0.5, i % 7))
        .collect()
}

#[test]
fn csv_options_match_polars_across_blocks() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    // Title lines before the header, and comment lines among the rows.
    let mut text = String::from("exported by a tool\nversion 3\nid,x,name\n");
    for (i, line) in rows(3000).lines().enumerate() {
        if i % 97 == 0 {
            text.push_str("# a comment, with, commas\n");
        }
        text.push_str(line);
        text.push('\n');
    }
    let path = dir.path().join("notes.csv");
    std::fs::write(&path, &text)?;
    let want = polars_csv(text.as_bytes(), |o| {
        o.with_skip_rows(2)
            .map_parse_options(|p| p.with_comment_prefix(Some("#")))
    });
    for blocksize in [None, Some(4096u64)] {
        let df = ReadCsv::new(path.to_string_lossy().into_owned())
            .skip_rows(2)
            .comment_prefix("#")
            .blocksize(blocksize)
            .finish()?;
        assert_eq!(df.columns(), ["id", "x", "name"]);
        let got = df.compute()?;
        assert_frames_close(&got, &want, &[], 0.0);
    }

    // Bad values and ragged rows: errors by default, nulls and truncation when asked.
    let mut bad = String::from("id,x\n");
    for i in 0..500 {
        match i {
            123 => bad.push_str("123,oops\n"),
            321 => bad.push_str("321,1.5,extra\n"),
            _ => bad.push_str(&format!("{i},{}\n", i as f64)),
        }
    }
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, &bad)?;
    // Without the options: an error (when sampling, here) that names Brisk's option.
    let strict = ReadCsv::new(path.to_string_lossy().into_owned())
        .dtype("x", DataType::Float64)
        .blocksize(Some(1024))
        .finish()
        .and_then(|d| Ok(d.compute()?));
    let msg = strict.unwrap_err().to_string();
    assert!(
        msg.contains("ReadCsv::truncate_ragged_lines(true)"),
        "{msg}"
    );
    let lenient = ReadCsv::new(path.to_string_lossy().into_owned())
        .dtype("x", DataType::Float64)
        .blocksize(Some(1024))
        .ignore_errors(true)
        .truncate_ragged_lines(true)
        .finish()?
        .compute()?;
    let want = polars_csv(bad.as_bytes(), |o| {
        o.with_schema_overwrite(Some(std::sync::Arc::new(Schema::from_iter([(
            "x".into(),
            DataType::Float64,
        )]))))
        .with_ignore_errors(true)
        .map_parse_options(|p| p.with_truncate_ragged_lines(true))
    });
    assert_frames_close(&lenient, &want, &[], 0.0);
    assert_eq!(lenient.column("x")?.null_count(), 1);
    Ok(())
}

#[test]
fn parquet_writer_compression_and_row_groups() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    let data = df!(
        "k" => (0..5000i64).collect::<Vec<_>>(),
        "v" => (0..5000).map(|i| format!("value {}", i % 13)).collect::<Vec<_>>(),
    )?;
    let ddf = brisk_dataframe::DataFrame::from_polars(data.clone(), 2)?;
    for (c, name) in [
        (Compression::Snappy, "SNAPPY"),
        (Compression::Zstd(9), "ZSTD"),
        (Compression::Gzip(Some(4)), "GZIP"),
        (Compression::Uncompressed, "UNCOMPRESSED"),
    ] {
        let out = dir.path().join(name);
        let files = ddf
            .write_parquet(&out.to_string_lossy())
            .compression(c)
            .row_group_size(1000)
            .finish()?;
        assert_eq!(files.len(), 2);
        for f in &files {
            let mut reader = ParquetReader::new(std::fs::File::open(f)?);
            let meta = reader.get_metadata()?.clone();
            // 2500 rows per file: without the option they would be one row group.
            assert!(meta.row_groups.len() >= 2, "{f}");
            assert!(meta.row_groups.iter().all(|g| g.num_rows() <= 1500), "{f}");
            let codec = format!(
                "{:?}",
                meta.row_groups[0].parquet_columns()[0].compression()
            );
            assert_eq!(codec.to_uppercase(), name, "{f}");
        }
        let back = read_parquet(format!("{}/*.parquet", out.to_string_lossy()))?.compute()?;
        assert_frames_close(&back, &data, &[], 0.0);
    }
    // Levels out of range and empty row groups are errors before anything is written.
    let e = ddf
        .write_parquet(&dir.path().join("x").to_string_lossy())
        .compression(Compression::Zstd(99))
        .finish()
        .unwrap_err();
    assert!(
        matches!(
            e,
            DataFrameError::InvalidArgument {
                argument: "compression",
                ..
            }
        ),
        "{e}"
    );
    let e = ddf
        .write_parquet(&dir.path().join("y").to_string_lossy())
        .row_group_size(0)
        .finish()
        .unwrap_err();
    assert!(e.to_string().contains("row_group_size"), "{e}");
    assert!(!dir.path().join("x").exists() && !dir.path().join("y").exists());
    Ok(())
}
