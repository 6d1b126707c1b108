//! Hive-partitioned Parquet (`year=2015/month=01/part.0.parquet`): read with keys as columns,
//! typed as Polars' own `scan_parquet` types them (checked against it on the same
//! directories), pruned by filters before any file is opened (a corrupt file in a pruned
//! directory is never touched), written with `partition_by` and read back, and exchanged with
//! pyarrow (`write_to_dataset`, `pyarrow.dataset`) in the test venv. Bad layouts are errors
//! naming the path.

mod common;

use std::path::Path;

use brisk_core::Collection;
use brisk_dataframe::{DataFrame as BriskFrame, DataFrameError, ReadParquet, read_parquet};
use common::{assert_frames_close, init};
use polars::prelude::*;
use polars_utils::pl_path::PlRefPath;

fn write_pq(df: &DataFrame, path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut f = std::fs::File::create(path).expect("create");
    ParquetWriter::new(&mut f)
        .finish(&mut df.clone())
        .expect("write parquet");
}

/// Polars' own hive reader on `dir` (the reference for columns and types).
fn polars_hive(dir: &Path) -> DataFrame {
    let args = ScanArgsParquet {
        hive_options: HiveOptions {
            enabled: Some(true),
            ..HiveOptions::new_enabled()
        },
        ..Default::default()
    };
    LazyFrame::scan_parquet(PlRefPath::new(dir.to_string_lossy().as_ref()), args)
        .expect("polars scan")
        .collect()
        .expect("polars collect")
}

/// `root/year=Y/month=MM/part-0.parquet` for a few (year, month), rows `x` and `s`.
fn year_month(root: &Path, with_corrupt_2016: bool) -> DataFrame {
    let mut all: Vec<DataFrame> = Vec::new();
    for (y, m) in [(2015, "01"), (2015, "02"), (2017, "11")] {
        let base = y * 100 + m.parse::<i64>().unwrap_or(0);
        let df = df!(
            "x" => (0..5).map(|i| base * 10 + i).collect::<Vec<i64>>(),
            "s" => ["a", "b", "c", "d", "e"]
        )
        .expect("frame");
        write_pq(
            &df,
            &root.join(format!("year={y}/month={m}/part-0.parquet")),
        );
        let mut with = df.clone();
        with.with_column(Column::new("year".into(), vec![y; 5]))
            .expect("year");
        with.with_column(Column::new(
            "month".into(),
            vec![m.parse::<i64>().unwrap_or(0); 5],
        ))
        .expect("month");
        all.push(with);
    }
    if with_corrupt_2016 {
        let p = root.join("year=2016/month=03/part-0.parquet");
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, b"this is not a parquet file").expect("corrupt");
    }
    // Hidden entries are skipped, as pyarrow and Polars do.
    std::fs::write(root.join("_SUCCESS"), b"").expect("success marker");
    let mut out = all.remove(0);
    for d in all {
        out.vstack_mut(&d).expect("vstack");
    }
    out
}

#[test]
fn reads_keys_as_columns_typed_like_polars() -> anyhow::Result<()> {
    init();
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("ds");
    let want = year_month(&root, false);
    let df = read_parquet(root.to_string_lossy())?;
    let names: Vec<String> = df.schema().iter_names().map(|n| n.to_string()).collect();
    assert_eq!(
        names,
        ["x", "s", "year", "month"],
        "keys after the file's columns"
    );
    assert_eq!(df.schema().get("month"), Some(&DataType::Int64), "01 is 1");
    let got = df.compute()?;
    assert_frames_close(&got, &want, &["x"], 0.0);
    // Polars' own reader on the same directory: same columns, same types, same rows.
    let reference = polars_hive(&root);
    assert_eq!(
        got.schema(),
        reference.schema(),
        "types as Polars infers them"
    );
    assert_frames_close(&got, &reference, &["x"], 0.0);
    // Only a key: the files' rows are counted, not read.
    let years = df.select([col("year")])?.compute()?;
    assert_eq!(years.height(), 15);
    assert_eq!(
        years.column("year")?.i64()?.sum(),
        Some(5 * (2015 * 2 + 2017))
    );
    // Keys in expressions and group-bys like any column.
    let by = df
        .groupby("year")
        .col("x")
        .count()?
        .compute()?
        .sort(["year"], Default::default())?;
    assert_eq!(by.column("year")?.i64()?.to_vec(), [Some(2015), Some(2017)]);
    // Switched off, a directory is its direct files only (here: none but a hidden one).
    let off = ReadParquet::new(root.to_string_lossy())
        .hive_partitioning(false)
        .finish();
    assert!(off.is_err(), "no direct files: {off:?}");
    // A glob with hive_partitioning keeps the keys below its literal prefix.
    let globbed = ReadParquet::new(format!("{}/year=2015/*/*.parquet", root.display()))
        .hive_partitioning(true)
        .finish()?
        .compute()?;
    assert_eq!(globbed.height(), 10);
    assert!(
        globbed.column("year").is_err(),
        "year= is in the literal prefix"
    );
    assert_eq!(globbed.column("month")?.i64()?.sum(), Some(5 * 3));
    Ok(())
}

#[test]
fn mixed_and_null_values_are_typed_like_polars() -> anyhow::Result<()> {
    init();
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("ds");
    let part = |v: i64| df!("v" => [v, v + 1]).expect("frame");
    // `k` holds an integer, text and null; `f` only floats; `n` integers and null.
    write_pq(
        &part(1),
        &root.join("k=1/f=1.5/n=__HIVE_DEFAULT_PARTITION__/a.parquet"),
    );
    write_pq(&part(3), &root.join("k=abc/f=2.25/n=7/a.parquet"));
    write_pq(
        &part(5),
        &root.join("k=__HIVE_DEFAULT_PARTITION__/f=-3/n=8/a.parquet"),
    );
    write_pq(&part(7), &root.join("k=a%2Fb%20c/f=0/n=9/a.parquet"));
    let got = read_parquet(root.to_string_lossy())?.compute()?;
    let reference = polars_hive(&root);
    assert_eq!(got.schema(), reference.schema());
    assert_eq!(got.schema().get("k"), Some(&DataType::String));
    assert_eq!(got.schema().get("n"), Some(&DataType::Int64));
    assert_frames_close(&got, &reference, &["v"], 0.0);
    let k: Vec<Option<String>> = got
        .sort(["v"], Default::default())?
        .column("k")?
        .str()?
        .iter()
        .map(|s| s.map(str::to_string))
        .collect();
    assert_eq!(
        k,
        [
            Some("1".into()),
            Some("1".into()),
            Some("abc".into()),
            Some("abc".into()),
            None,
            None,
            Some("a/b c".into()),
            Some("a/b c".into())
        ],
        "percent-decoded, default partition null"
    );
    Ok(())
}

#[test]
fn filters_on_keys_prune_files_before_opening_them() -> anyhow::Result<()> {
    init();
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("ds");
    let all = year_month(&root, true);
    // The corrupt file is really read when not pruned: building the frame fails naming it.
    let err = read_parquet(root.to_string_lossy()).expect_err("corrupt file");
    assert!(
        err.to_string().contains("year=2016"),
        "names the corrupt file: {err}"
    );
    // Pruned away by the keys: never opened, so no error, and the right rows.
    for (pred, n) in [
        (col("year").eq(lit(2015)), 10),
        (col("year").neq(lit(2016)).and(col("x").gt(lit(0))), 15),
        (
            col("year")
                .gt_eq(lit(2017))
                .or(col("month").eq(lit(1)))
                .and(col("year").is_in(
                    lit(Series::new("".into(), [2015i64, 2017])).implode(false),
                    false,
                )),
            10,
        ),
        (col("s").eq(lit("b")).and(col("month").lt(lit(3))), 2),
    ] {
        let df = ReadParquet::new(root.to_string_lossy())
            .filter(pred.clone())
            .finish()?;
        let got = df.compute()?;
        let want = all.clone().lazy().filter(pred.clone()).collect()?;
        assert_eq!(got.height(), n, "{pred:?}");
        assert_frames_close(&got, &want, &["x"], 0.0);
    }
    // Files whose keys cannot match are left out of the graph (fewer partitions).
    let clean = tmp.path().join("clean");
    year_month(&clean, false);
    let pruned = ReadParquet::new(clean.to_string_lossy())
        .filter(col("month").eq(lit(11)))
        .finish()?;
    assert_eq!(pruned.npartitions(), 1);
    // A filter added later is pushed into the scan and prunes the same files.
    let later = read_parquet(clean.to_string_lossy())?.filter(col("year").eq(lit(2017)))?;
    assert_eq!(later.compute()?.height(), 5);
    // Nothing left: one empty partition with the full schema.
    let none = ReadParquet::new(clean.to_string_lossy())
        .filter(col("year").eq(lit(1999)))
        .finish()?
        .compute()?;
    assert_eq!(none.height(), 0);
    assert_eq!(none.width(), 4);
    Ok(())
}

#[test]
fn bad_layouts_are_errors_naming_the_path() -> anyhow::Result<()> {
    init();
    let tmp = tempfile::tempdir()?;
    let part = df!("v" => [1i64, 2])?;
    // Different keys in different directories.
    let ragged = tmp.path().join("ragged");
    write_pq(&part, &ragged.join("year=2015/a.parquet"));
    write_pq(&part, &ragged.join("month=01/b.parquet"));
    let err = read_parquet(ragged.to_string_lossy()).expect_err("ragged keys");
    assert!(
        matches!(&err, DataFrameError::HivePartition { path, .. } if path.contains("ragged/")),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("month=01/b.parquet") && text.contains("year=2015/a.parquet"),
        "names both files: {text}"
    );
    // A key also stored in the file: the file's type, and its values must agree.
    let both = tmp.path().join("both");
    write_pq(
        &df!("v" => [1i64, 2], "year" => [2015i32, 2015])?,
        &both.join("year=2015/a.parquet"),
    );
    write_pq(
        &df!("v" => [3i64, 4], "year" => [2016i32, 2099])?,
        &both.join("year=2016/b.parquet"),
    );
    let df = read_parquet(both.to_string_lossy())?;
    assert_eq!(df.schema().get("year"), Some(&DataType::Int32));
    assert_eq!(df.schema().len(), 2);
    let ok = ReadParquet::new(both.to_string_lossy())
        .filter(col("year").eq(lit(2015)))
        .finish()?
        .compute()?;
    assert_eq!(ok.height(), 2);
    let err = df.compute().expect_err("2099 in year=2016");
    let text = err.to_string();
    assert!(
        text.contains("year=2016") && text.contains("2099"),
        "names the file and the value: {text}"
    );
    // Writing: unknown key, nested key, every column a key, a pattern target.
    let frame = BriskFrame::from_polars(df!("a" => [1i64], "b" => ["x"])?, 1)?;
    let out = tmp.path().join("out");
    let out = out.to_string_lossy();
    let unknown = frame.write_parquet(&out).partition_by(["zz"]).finish();
    assert!(
        matches!(unknown, Err(DataFrameError::ColumnNotFound { ref column, .. }) if column == "zz"),
        "{unknown:?}"
    );
    let everything = frame.write_parquet(&out).partition_by(["a", "b"]).finish();
    assert!(everything.is_err(), "{everything:?}");
    let pattern = frame
        .write_parquet(&format!("{out}/part-*.parquet"))
        .partition_by(["a"])
        .finish();
    assert!(pattern.is_err(), "{pattern:?}");
    let empty: [&str; 0] = [];
    assert!(
        frame
            .write_parquet(&out)
            .partition_by(empty)
            .finish()
            .is_err()
    );
    let nested = BriskFrame::from_polars(
        df!("a" => [1i64])?
            .lazy()
            .with_column(concat_list([col("a")])?.alias("l"))
            .collect()?,
        1,
    )?;
    let err = nested.write_parquet(&out).partition_by(["l"]).finish();
    assert!(
        matches!(err, Err(DataFrameError::UnsupportedDtype { .. })),
        "{err:?}"
    );
    assert!(
        !Path::new(out.as_ref()).exists(),
        "nothing written on bad input"
    );
    Ok(())
}

/// Rows for write tests: int, text (with nulls, a slash and a space) and a float value.
fn sample(rows: usize) -> DataFrame {
    let cities = ["oslo", "new york", "a/b", "zürich"];
    df!(
        "year" => (0..rows).map(|i| 2015 + (i % 3) as i64).collect::<Vec<_>>(),
        "city" => (0..rows).map(|i| (i % 7 != 0).then(|| cities[i % 4])).collect::<Vec<_>>(),
        "v" => (0..rows).map(|i| i as f64 * 0.5).collect::<Vec<_>>(),
        "id" => (0..rows as i64).collect::<Vec<_>>()
    )
    .expect("sample")
}

#[test]
fn partition_by_writes_a_hive_layout_and_reads_back() -> anyhow::Result<()> {
    init();
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("out");
    let data = sample(400);
    // An empty partition in the middle writes nothing.
    let parts = vec![data.slice(0, 150), data.slice(0, 0), data.slice(150, 250)];
    let frame = BriskFrame::from_partitions(parts)?;
    let written = frame
        .write_parquet(&root.to_string_lossy())
        .partition_by(["year", "city"])
        .finish()?;
    assert!(
        written
            .iter()
            .any(|w| w.ends_with("year=2016/city=new%20york/part.0.parquet")),
        "{written:?}"
    );
    assert!(
        written.iter().any(|w| w.contains("city=a%2Fb/")),
        "{written:?}"
    );
    assert!(
        written
            .iter()
            .any(|w| w.contains("city=__HIVE_DEFAULT_PARTITION__/")),
        "{written:?}"
    );
    assert!(
        !written.iter().any(|w| w.contains("part.1.parquet")),
        "empty partition"
    );
    assert_eq!(written.len(), 2 * 3 * 5);
    for w in &written {
        let f = common::read_parquet_file(Path::new(w));
        let names: Vec<&str> = f.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["v", "id"], "keys are not repeated inside {w}");
    }
    let back = read_parquet(root.to_string_lossy())?.compute()?;
    assert_frames_close(&back, &data, &["id"], 0.0);
    assert_eq!(back.schema().get("city"), Some(&DataType::String));
    // Polars' own reader agrees with Brisk's on Brisk's layout.
    assert_frames_close(&polars_hive(&root), &data, &["id"], 0.0);
    Ok(())
}

#[test]
fn exchanges_hive_datasets_with_pyarrow() -> anyhow::Result<()> {
    init();
    let Some(py) = common::python() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let data = sample(300);
    // pyarrow writes, Brisk reads.
    let src = tmp.path().join("src.parquet");
    write_pq(&data, &src);
    let by_arrow = tmp.path().join("by_arrow");
    common::run_python(
        &py,
        "import sys, pyarrow.parquet as pq\n\
         t = pq.read_table(sys.argv[1])\n\
         pq.write_to_dataset(t, sys.argv[2], partition_cols=['year', 'city'])\n",
        &[&src.to_string_lossy(), &by_arrow.to_string_lossy()],
    );
    let back = read_parquet(by_arrow.to_string_lossy())?;
    assert_eq!(back.schema().get("year"), Some(&DataType::Int64));
    assert_frames_close(&back.compute()?, &data, &["id"], 0.0);
    let pruned = ReadParquet::new(by_arrow.to_string_lossy())
        .filter(col("city").eq(lit("new york")))
        .finish()?;
    assert_eq!(pruned.npartitions(), 3, "one file per year");
    let want = data
        .clone()
        .lazy()
        .filter(col("city").eq(lit("new york")))
        .collect()?;
    assert_frames_close(&pruned.compute()?, &want, &["id"], 0.0);

    // Brisk writes, pyarrow reads (its hive discovery), and writes one file for comparison.
    let by_brisk = tmp.path().join("by_brisk");
    BriskFrame::from_polars(data.clone(), 3)?
        .write_parquet(&by_brisk.to_string_lossy())
        .partition_by(["year", "city"])
        .finish()?;
    let flat = tmp.path().join("flat.parquet");
    common::run_python(
        &py,
        "import sys, pyarrow.dataset as ds, pyarrow.parquet as pq\n\
         t = ds.dataset(sys.argv[1], format='parquet', partitioning='hive').to_table()\n\
         assert t.num_rows == int(sys.argv[3]), t.num_rows\n\
         assert set(t.column_names) == {'year', 'city', 'v', 'id'}, t.column_names\n\
         pq.write_table(t, sys.argv[2])\n",
        &[
            &by_brisk.to_string_lossy(),
            &flat.to_string_lossy(),
            &data.height().to_string(),
        ],
    );
    let theirs = common::read_parquet_file(&flat);
    assert_frames_close(&theirs, &data, &["id"], 0.0);
    // Python Polars, when the venv has it, reads Brisk's layout the same way.
    let has_polars = std::process::Command::new(&py)
        .args(["-c", "import polars"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_polars {
        let flat = tmp.path().join("flat_polars.parquet");
        common::run_python(
            &py,
            "import sys, polars as pl\n\
             pl.read_parquet(sys.argv[1], hive_partitioning=True).write_parquet(sys.argv[2])\n",
            &[&by_brisk.to_string_lossy(), &flat.to_string_lossy()],
        );
        assert_frames_close(&common::read_parquet_file(&flat), &data, &["id"], 0.0);
    } else {
        eprintln!(
            "note: no Python Polars in the test venv; checked against pyarrow and Rust Polars only"
        );
    }
    Ok(())
}
