//! What real CSV files contain, read as a new user would: a glob whose first file holds only a
//! header, null tokens in numeric columns, a type that changes in a later file. Compared with
//! Polars reading the same rows in one piece (with the same null tokens), and errors that name
//! the file, the line and the option to use.

mod common;

use brisk_core::Collection;
use brisk_dataframe::{DEFAULT_NULL_VALUES, DataFrameError, ReadCsv, read_csv};
use common::{assert_frames_close, init};
use polars::prelude::*;

/// Polars' reading of `text` (one header, all rows), nulls as Brisk's defaults.
fn polars_reference(text: &str) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .map_parse_options(|p| {
            p.with_null_values(Some(NullValues::AllColumns(
                DEFAULT_NULL_VALUES.iter().map(|s| (*s).into()).collect(),
            )))
        })
        .into_reader_with_file_handle(std::io::Cursor::new(text.as_bytes().to_vec()))
        .finish()
        .expect("polars reads the rows")
}

#[test]
fn header_only_files_do_not_vote_and_null_tokens_are_null() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    let header = "id,score,name\n";
    let files = [
        String::new(),
        "1,2.5,a\n2,NA,b\n3,,N/A\n".to_string(),
        "4,null,d\n5,7,e\n".to_string(),
        String::new(),
        "6,1e3,f\n7,N/A,None\n".to_string(),
    ];
    for (i, rows) in files.iter().enumerate() {
        std::fs::write(
            dir.path().join(format!("part-{i}.csv")),
            format!("{header}{rows}"),
        )?;
    }
    let df = read_csv(dir.path().join("part-*.csv").to_string_lossy().into_owned())?;
    let all: String = files.concat();
    let want = polars_reference(&format!("{header}{all}"));
    assert_eq!(df.schema().as_ref(), want.schema().as_ref());
    assert_eq!(df.schema().get("id"), Some(&DataType::Int64));
    assert_eq!(df.schema().get("score"), Some(&DataType::Float64));
    let got = df.compute()?;
    assert_frames_close(&got, &want, &[], 0.0);
    assert_eq!(got.column("score")?.null_count(), 4);
    // An explicit list replaces the defaults: NA is text again.
    let text = ReadCsv::new(dir.path().join("part-1.csv").to_string_lossy().into_owned())
        .null_values(Vec::<String>::new())
        .finish()?;
    assert_eq!(text.schema().get("score"), Some(&DataType::String));
    // Only headers: every column is text, no rows.
    let empty = tempfile::tempdir()?;
    for i in 0..2 {
        std::fs::write(empty.path().join(format!("e-{i}.csv")), header)?;
    }
    let e = read_csv(empty.path().join("e-*.csv").to_string_lossy().into_owned())?;
    assert_eq!(e.columns(), ["id", "score", "name"]);
    assert_eq!(e.compute()?.height(), 0);
    Ok(())
}

#[test]
fn a_value_that_does_not_fit_names_file_line_column_and_option() -> anyhow::Result<()> {
    init();
    let dir = tempfile::tempdir()?;
    // Five files vote Int64; the sixth has text on its fourth line.
    for i in 0..5 {
        std::fs::write(
            dir.path().join(format!("f-{i}.csv")),
            format!("k,v\n{i},1\n{i},2\n"),
        )?;
    }
    std::fs::write(dir.path().join("f-5.csv"), "k,v\n5,1\n5,2\n5,oops\n5,4\n")?;
    let df = read_csv(dir.path().join("f-*.csv").to_string_lossy().into_owned())?;
    assert_eq!(df.schema().get("v"), Some(&DataType::Int64));
    let err = df.compute().unwrap_err();
    let bad = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
        .find_map(|e| e.downcast_ref::<DataFrameError>())
        .map(|e| matches!(e, DataFrameError::BadValue { line: 4, .. }));
    let msg = err.to_string();
    assert!(
        bad == Some(true)
            || (msg.contains("f-5.csv") && msg.contains("line 4") && msg.contains("\"oops\"")),
        "{msg}"
    );
    assert!(
        msg.contains("ReadCsv::dtype(\"v\", DataType::String)"),
        "{msg}"
    );
    // The fix the message names works.
    let fixed = ReadCsv::new(dir.path().join("f-*.csv").to_string_lossy().into_owned())
        .dtype("v", DataType::String)
        .finish()?
        .compute()?;
    assert_eq!(fixed.height(), 14);
    Ok(())
}
