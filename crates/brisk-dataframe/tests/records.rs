//! `DataFrame::from_records` (what `brisk::BagToDataFrame` calls) against pandas (`pd.DataFrame(records)`) on the same generated records:
//! inferred and declared schemas, nulls, missing fields, empty partitions, tuples, and errors
//! that name the partition, record and field.
use brisk_core::{Collection, Key, Layer, Node, Value};
use brisk_dataframe::polars::prelude::{
    AnyValue, ChunkAgg, DataFrame as PlFrame, DataType, Schema,
};
use brisk_dataframe::{DataFrame, RecordsError};
use serde_json::{Value as Json, json};

#[derive(Clone, serde::Serialize)]
struct Visit {
    id: i64,
    user: String,
    score: Option<f64>,
    ok: Option<bool>,
    tags: Vec<String>,
}

fn visits(n: i64) -> Vec<Visit> {
    (0..n)
        .map(|i| Visit {
            id: i,
            user: format!("u{}é", i % 7),
            score: (i % 3 != 0).then_some(i as f64 * 0.5),
            ok: (i % 5 != 0).then_some(i % 2 == 0),
            tags: (0..i % 3).map(|t| format!("t{t}")).collect(),
        })
        .collect()
}

fn setup() {
    let _ = brisk_local::LocalScheduler::threaded();
}

/// `records` cut into `n` partitions of `ceil(len / n)` records (as `Bag::from_sequence`
/// cuts them), each a literal `Vec<T>` in one layer, with the records `keep` rejects removed.
fn partitions<T: Clone + Send + Sync + 'static>(
    records: &[T],
    n: usize,
    keep: impl Fn(&T) -> bool,
) -> (Vec<std::sync::Arc<Layer>>, Vec<Key>) {
    let size = records.len().div_ceil(n).max(1);
    let name = format!("records-{}", records.len());
    let keys: Vec<Key> = (0..n as u32)
        .map(|i| Key::new(name.as_str(), &[i]))
        .collect();
    let nodes = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let part: Vec<T> = records
                .iter()
                .skip(i * size)
                .take(size)
                .filter(|r| keep(r))
                .cloned()
                .collect();
            (k.clone(), Node::Literal(Value::new(part)))
        })
        .collect();
    (vec![Layer::from_nodes(name, nodes, vec![])], keys)
}

fn frame<T: Clone + serde::Serialize + Send + Sync + 'static>(
    records: &[T],
    n: usize,
    meta: Option<Schema>,
) -> Result<DataFrame, RecordsError> {
    let (layers, keys) = partitions(records, n, |_| true);
    DataFrame::from_records::<T>(layers, keys, meta)
}

/// A column's values as JSON (null for null), to compare with pandas.
fn column_json(df: &PlFrame, name: &str) -> anyhow::Result<Vec<Json>> {
    let c = df.column(name)?.as_materialized_series().clone();
    Ok(c.iter()
        .map(|v| match v {
            AnyValue::Null => Json::Null,
            AnyValue::Boolean(b) => json!(b),
            AnyValue::Int64(x) => json!(x),
            AnyValue::Int32(x) => json!(x),
            AnyValue::Float64(x) => json!(x),
            AnyValue::Float32(x) => json!(f64::from(x)),
            AnyValue::String(s) => json!(s),
            AnyValue::StringOwned(s) => json!(s.as_str()),
            other => json!(other.to_string()),
        })
        .collect())
}

/// Equal values, numbers compared as floats (pandas turns integers with nulls into floats).
fn same(got: &[Json], want: &[Json], column: &str) {
    assert_eq!(got.len(), want.len(), "column {column}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let equal = match (g.as_f64(), w.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => g == w,
        };
        assert!(equal, "column {column}, row {i}: {g} vs pandas {w}");
    }
}

/// pandas' frame of the same records (as JSON lines), column by column, nulls as None;
/// `None` when no reference interpreter is available.
fn pandas_columns(records: &[Json], columns: &[&str]) -> Option<Vec<Vec<Json>>> {
    let python = brisk_test_utils::s3::python()?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("records.jsonl");
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, text).expect("the records written");
    let code = r#"
import sys, json, pandas as pd
recs = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8')]
df = pd.DataFrame(recs)
out = []
for c in sys.argv[2:]:
    col = df[c] if c in df else pd.Series([None] * len(df))
    vals = []
    for v in col.tolist():
        if v is None or (isinstance(v, float) and v != v):
            vals.append(None)
        elif isinstance(v, list):
            vals.append(json.dumps(v, separators=(',', ':')))
        else:
            vals.append(v)
    out.append(vals)
print(json.dumps(out))
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(code)
        .arg(&path)
        .args(columns)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("pandas' columns as JSON"))
}

#[test]
fn inferred_schema_matches_pandas_with_nulls_and_empty_partitions() -> anyhow::Result<()> {
    setup();
    // 5 partitions of 20; the filter empties partition 2.
    let all = visits(100);
    let (layers, keys) = partitions(&all, 5, |v| !(40..60).contains(&v.id));
    let df = DataFrame::from_records::<Visit>(layers, keys, None)?;
    assert_eq!(df.columns(), ["id", "user", "score", "ok", "tags"]);
    let out = df.compute()?;
    assert_eq!(out.height(), 80);
    let dtypes: Vec<DataType> = out.dtypes();
    assert_eq!(
        dtypes,
        [
            DataType::Int64,
            DataType::String,
            DataType::Float64,
            DataType::Boolean,
            DataType::String
        ]
    );
    let kept: Vec<Json> = all
        .iter()
        .filter(|v| !(40..60).contains(&v.id))
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    let cols = ["id", "user", "score", "ok", "tags"];
    if let Some(want) = pandas_columns(&kept, &cols) {
        for (name, want) in cols.iter().zip(want) {
            same(&column_json(&out, name)?, &want, name);
        }
    }
    // Each partition of records is one dataframe partition; the empty one stays empty.
    assert_eq!(df.npartitions(), 5);
    Ok(())
}

#[test]
fn declared_schema_keeps_its_columns_and_types() -> anyhow::Result<()> {
    setup();
    let records: Vec<Json> = (0..60)
        .map(|i| {
            let mut r = json!({"a": i, "b": format!("s{i}"), "unused": [i]});
            if i % 4 == 0 {
                r["c"] = json!(i as f64 / 4.0);
            }
            if i % 10 == 0 {
                r["a"] = Json::Null;
            }
            r
        })
        .collect();
    let meta = Schema::from_iter([
        ("c".into(), DataType::Float32),
        ("a".into(), DataType::Int32),
        ("b".into(), DataType::String),
        ("d".into(), DataType::Date),
    ]);
    let df = frame(&records, 4, Some(meta))?;
    assert_eq!(df.columns(), ["c", "a", "b", "d"]);
    let out = df.compute()?;
    assert_eq!(
        out.dtypes(),
        [
            DataType::Float32,
            DataType::Int32,
            DataType::String,
            DataType::Date
        ]
    );
    if let Some(want) = pandas_columns(&records, &["c", "a", "b", "d"]) {
        for (name, want) in ["c", "a", "b", "d"].iter().zip(want) {
            same(&column_json(&out, name)?, &want, name);
        }
    }
    // Dates from strings; tuples become columns "0", "1".
    let dates = frame(
        &[json!({"d": "2024-01-31"}), json!({"d": null})],
        2,
        Some(Schema::from_iter([("d".into(), DataType::Date)])),
    )?
    .compute()?;
    assert_eq!(dates.column("d")?.null_count(), 1);
    let pairs = frame(&[(1i64, "x".to_string()), (2, "y".into())], 2, None)?.compute()?;
    let names: Vec<&str> = pairs
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(names, ["0", "1"]);
    assert_eq!(pairs.column("0")?.i64()?.sum(), Some(3));
    Ok(())
}

#[test]
fn records_that_do_not_fit_are_named() -> anyhow::Result<()> {
    setup();
    let mut records: Vec<Json> = (0..40).map(|i| json!({"x": i, "y": "ok"})).collect();
    records[27]["x"] = json!("twenty-seven");
    let meta = Schema::from_iter([
        ("x".into(), DataType::Int64),
        ("y".into(), DataType::String),
    ]);
    let e = frame(&records, 4, Some(meta.clone()))?
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("record 7 of partition 2") && e.contains("\"x\"") && e.contains("twenty-seven"),
        "{e}"
    );
    // Out of range for the column's type.
    let small = Schema::from_iter([("x".into(), DataType::Int8)]);
    let big: Vec<Json> = vec![json!({"x": 1}), json!({"x": 300})];
    let e = frame(&big, 1, Some(small))?
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("record 1 of partition 0") && e.contains("300"),
        "{e}"
    );
    // Not a record at all.
    let e = frame(&[1i64, 2, 3], 1, None).unwrap_err();
    assert!(
        matches!(e, RecordsError::NotARecord { record: 0, .. }),
        "{e:?}"
    );
    // Inference: a field that changes kind, and an empty first partition, ask for meta.
    let e = frame(&records, 1, None).unwrap_err();
    assert!(
        matches!(e, RecordsError::Infer { .. })
            && e.to_string().contains("\"x\"")
            && e.to_string().contains("meta"),
        "{e}"
    );
    let ten: Vec<Json> = (0..10).map(|i| json!({"x": i})).collect();
    let (layers, keys) = partitions(&ten, 2, |r| r["x"].as_i64().is_some_and(|x| x >= 5));
    let e = DataFrame::from_records::<Json>(layers, keys, None).unwrap_err();
    assert!(
        e.to_string().contains("empty") && e.to_string().contains("meta"),
        "{e}"
    );
    Ok(())
}
