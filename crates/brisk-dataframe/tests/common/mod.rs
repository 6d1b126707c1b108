//! Shared helpers of the integration tests: generated data, the pandas reference, and frame
//! comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::*;

/// Make sure the local scheduler is linked in.
pub fn init() {
    let _ = brisk_local::LocalScheduler::threaded();
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(state: &mut u64) -> f64 {
    (splitmix(state) >> 11) as f64 / (1u64 << 53) as f64
}

/// Events like the talk's: `user_id` (1..=users, some null), `value` (f64, some null),
/// `name` (a few strings, some null), `timestamp` (text).
pub fn events(rows: usize, users: i64, seed: u64) -> DataFrame {
    let mut s = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0xdead_beef;
    let names = ["alice", "bob", "carol", "dave", "eve", "frank"];
    let mut uid = Vec::with_capacity(rows);
    let mut val = Vec::with_capacity(rows);
    let mut name = Vec::with_capacity(rows);
    let mut ts = Vec::with_capacity(rows);
    for i in 0..rows {
        uid.push((unit(&mut s) >= 0.02).then(|| 1 + (splitmix(&mut s) % users as u64) as i64));
        val.push(
            (unit(&mut s) >= 0.05)
                .then(|| ((unit(&mut s) * 200.0 - 100.0) * 1000.0).round() / 1000.0),
        );
        name.push((unit(&mut s) >= 0.03).then(|| names[(splitmix(&mut s) % 6) as usize]));
        let sec = (seed as usize * 7919 + i * 37) % 86_400;
        ts.push(format!(
            "2015-01-{:02} {:02}:{:02}:{:02}",
            1 + (seed % 28),
            sec / 3600,
            (sec / 60) % 60,
            sec % 60
        ));
    }
    df!("user_id" => uid, "value" => val, "name" => name, "timestamp" => ts).expect("events")
}

/// Write `df` as CSV to `path`.
pub fn write_csv(df: &DataFrame, path: &Path) {
    let mut f = std::fs::File::create(path).expect("create csv");
    CsvWriter::new(&mut f)
        .include_header(true)
        .finish(&mut df.clone())
        .expect("write csv");
}

/// Write `n` files `2015-01-DD.csv` of `rows` generated events each into `dir`; returns the
/// glob pattern and the concatenation of all rows.
pub fn event_files(dir: &Path, n: usize, rows: usize, users: i64) -> (String, DataFrame) {
    let mut all: Option<DataFrame> = None;
    for d in 0..n {
        let df = events(rows, users, d as u64 + 1);
        write_csv(&df, &dir.join(format!("2015-01-{:02}.csv", d + 1)));
        match &mut all {
            None => all = Some(df),
            Some(a) => {
                a.vstack_mut(&df).expect("vstack");
            }
        }
    }
    (
        dir.join("2015-*-*.csv").to_string_lossy().into_owned(),
        all.expect("at least one file"),
    )
}

/// The Python interpreter with pandas, or `None` (with a note) when it is missing and not
/// required. With `BRISK_REQUIRE_PYTHON=1`, a missing reference fails the test.
pub fn python() -> Option<PathBuf> {
    let required = std::env::var("BRISK_REQUIRE_PYTHON").is_ok_and(|v| v == "1");
    let candidate = std::env::var_os("BRISK_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/brisk-test-venv/bin/python"))
        });
    let ok = candidate.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import pandas, pyarrow"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if ok {
        return candidate;
    }
    if required {
        panic!(
            "BRISK_REQUIRE_PYTHON=1 but no Python with pandas and pyarrow (BRISK_PYTHON={candidate:?})"
        );
    }
    eprintln!(
        "note: skipping the pandas comparison: no Python with pandas (source .ci/python-venv.sh)"
    );
    None
}

/// Run a Python script with arguments; panics with its output on failure.
pub fn run_python(py: &Path, script: &str, args: &[&str]) {
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Read a Parquet file written by pandas.
pub fn read_parquet_file(path: &Path) -> DataFrame {
    let f = std::fs::File::open(path).expect("open parquet");
    ParquetReader::new(f).finish().expect("read parquet")
}

fn as_f64(c: &Column) -> Option<Vec<Option<f64>>> {
    let dt = c.dtype();
    if !(dt.is_primitive_numeric() || dt.is_bool() || dt.is_null()) {
        return None;
    }
    let f = c.cast(&DataType::Float64).ok()?;
    Some(
        f.f64()
            .ok()?
            .iter()
            .map(|v| v.filter(|x| !x.is_nan()))
            .collect(),
    )
}

fn as_text(c: &Column) -> Vec<Option<String>> {
    let s = c.cast(&DataType::String).expect("cast to string");
    s.str()
        .expect("str")
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

/// Sort by `by` (numbers compared as f64, nulls last) for comparison.
fn sorted(df: &DataFrame, by: &[&str]) -> DataFrame {
    if by.is_empty() {
        return df.clone();
    }
    let mut df = df.clone();
    for b in by {
        let c = df.column(b).expect("sort column").clone();
        let c = if c.dtype().is_primitive_numeric() {
            c.cast(&DataType::Float64).expect("cast key")
        } else {
            c.cast(&DataType::String).expect("cast key")
        };
        df.with_column(c).expect("replace key");
    }
    df.sort(
        by.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        SortMultipleOptions::default()
            .with_nulls_last(true)
            .with_maintain_order(true),
    )
    .expect("sort")
}

/// Assert two frames hold the same values: columns of `ours` (by name) in `theirs`, same
/// height, rows matched after sorting by `by`, numbers within `rtol` (relative) or 1e-9.
pub fn assert_frames_close(ours: &DataFrame, theirs: &DataFrame, by: &[&str], rtol: f64) {
    assert_eq!(
        ours.height(),
        theirs.height(),
        "row counts differ\nours:\n{ours}\ntheirs:\n{theirs}"
    );
    let a = sorted(ours, by);
    let b = sorted(theirs, by);
    for name in a.get_column_names() {
        let ca = a.column(name).expect("ours");
        let cb = b
            .column(name)
            .unwrap_or_else(|_| panic!("column {name} missing from the reference:\n{theirs}"));
        match (as_f64(ca), as_f64(cb)) {
            (Some(x), Some(y)) => {
                for (i, (u, v)) in x.iter().zip(&y).enumerate() {
                    let same = match (u, v) {
                        (None, None) => true,
                        (Some(u), Some(v)) => (u - v).abs() <= 1e-9 + rtol * u.abs().max(v.abs()),
                        _ => false,
                    };
                    assert!(
                        same,
                        "column {name}, row {i}: {u:?} vs {v:?}\nours:\n{a}\ntheirs:\n{b}"
                    );
                }
            }
            _ => assert_eq!(
                as_text(ca),
                as_text(cb),
                "column {name}\nours:\n{a}\ntheirs:\n{b}"
            ),
        }
    }
}
