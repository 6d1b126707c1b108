//! The fast aggregation against Polars' group-by, on the same frames: nulls in keys and
//! values, NaN, small and wide key ranges, several key types, chunked frames, empty frames.

use polars::prelude::{
    AnyValue, DataFrame as PlFrame, DataType, IntoColumn, IntoLazy, NamedFrom, Series,
    SortMultipleOptions, col,
};

use crate::agg::{self, Agg};
use crate::reduce::Reducer;
use crate::test_rng::Rng;

fn all_aggs() -> Vec<Agg> {
    vec![
        Agg::sum("f").alias("f_sum"),
        Agg::mean("f").alias("f_mean"),
        Agg::min("f").alias("f_min"),
        Agg::max("f").alias("f_max"),
        Agg::count("f").alias("f_count"),
        Agg::sum("i").alias("i_sum"),
        Agg::mean("i").alias("i_mean"),
        Agg::min("i").alias("i_min"),
        Agg::max("i").alias("i_max"),
        Agg::count("i").alias("i_count"),
        Agg::mean("small").alias("small_mean"),
        Agg::count("s").alias("s_count"),
        Agg::size(),
    ]
}

/// `n` rows: key `k` drawn from `keys` (null with probability `null_keys` in 1000), values
/// `f` (Float64 with nulls and NaN), `i` (Int64 with nulls), `small` (Int32), `s` (String).
fn frame(rng: &mut Rng, n: usize, keys: &dyn Fn(&mut Rng) -> i64, null_keys: u64) -> PlFrame {
    let k: Vec<Option<i64>> = (0..n)
        .map(|_| (rng.below(1000) >= null_keys).then(|| keys(rng)))
        .collect();
    let f: Vec<Option<f64>> = (0..n)
        .map(|_| match rng.below(20) {
            0 => None,
            1 => Some(f64::NAN),
            _ => Some(rng.below(1_000_000) as f64 / 1000.0 - 300.0),
        })
        .collect();
    let i: Vec<Option<i64>> = (0..n)
        .map(|_| (rng.below(10) > 0).then(|| rng.below(2_000_001) as i64 - 1_000_000))
        .collect();
    let small: Vec<i32> = (0..n).map(|_| rng.below(100) as i32).collect();
    let s: Vec<Option<String>> = (0..n)
        .map(|_| (rng.below(4) > 0).then(|| format!("x{}", rng.below(9))))
        .collect();
    PlFrame::new_infer_height(vec![
        Series::new("k".into(), k).into_column(),
        Series::new("f".into(), f).into_column(),
        Series::new("i".into(), i).into_column(),
        Series::new("small".into(), small).into_column(),
        Series::new("s".into(), s).into_column(),
    ])
    .unwrap()
}

/// The aggregation spec of `aggs` grouped by `k`, groups left unsorted.
fn spec_by_k(df: &PlFrame, aggs: &[Agg], dropna: bool) -> crate::reduce::AggSpec {
    agg::build(
        "groupby",
        df.schema(),
        &["k".to_string()],
        aggs,
        dropna,
        false,
    )
    .unwrap()
}

fn sorted(df: PlFrame) -> PlFrame {
    df.lazy()
        .sort(["k"], SortMultipleOptions::default().with_nulls_last(true))
        .collect()
        .unwrap()
}

fn close(a: &AnyValue, b: &AnyValue) -> bool {
    match (a, b) {
        (AnyValue::Float64(x), AnyValue::Float64(y)) => {
            (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

fn assert_same(fast: &PlFrame, slow: &PlFrame, what: &str) {
    assert_eq!(fast.schema(), slow.schema(), "{what}: schemas");
    assert_eq!(fast.height(), slow.height(), "{what}: heights");
    for (a, b) in fast.columns().iter().zip(slow.columns()) {
        for r in 0..a.len() {
            let (x, y) = (a.get(r).unwrap(), b.get(r).unwrap());
            assert!(
                close(&x, &y),
                "{what}: {}[{r}] fast {x} vs Polars {y}",
                a.name()
            );
        }
    }
}

/// Chunk, combine of two chunks, and finalize, with and without the fast plans.
fn check(df: &PlFrame, key_dtype: DataType, dropna: bool, what: &str) {
    let df = df
        .clone()
        .lazy()
        .with_column(col("k").cast(key_dtype.clone()))
        .collect()
        .unwrap();
    let spec = spec_by_k(&df, &all_aggs(), dropna);
    assert!(spec.fast.is_some());
    let fast = Reducer::Agg(spec.clone());
    let slow = Reducer::Agg(crate::reduce::AggSpec { fast: None, ..spec });
    let half = df.height() / 2;
    let (a, b) = (df.slice(0, half), df.slice(half as i64, df.height() - half));
    let mut out = Vec::new();
    for r in [&fast, &slow] {
        let (ca, cb) = (r.chunk(a.clone()).unwrap(), r.chunk(b.clone()).unwrap());
        let chunk = sorted(ca.clone());
        let combined = r.combine(vec![ca, cb], None).unwrap();
        let answer = sorted(r.finalize(combined.clone()).unwrap());
        out.push((chunk, sorted(combined), answer));
    }
    assert_same(&out[0].0, &out[1].0, &format!("{what} chunk"));
    assert_same(&out[0].1, &out[1].1, &format!("{what} combine"));
    assert_same(&out[0].2, &out[1].2, &format!("{what} answer"));
}

#[test]
fn small_key_ranges_match_polars() {
    let mut rng = Rng(7);
    let df = frame(&mut rng, 5000, &|r| r.below(300) as i64 + 10, 30);
    for dt in [
        DataType::Int64,
        DataType::Int32,
        DataType::UInt32,
        DataType::Int16,
    ] {
        for dropna in [true, false] {
            check(&df, dt.clone(), dropna, &format!("{dt} dropna={dropna}"));
        }
    }
}

#[test]
fn wide_and_negative_keys_use_the_table_and_match_polars() {
    let mut rng = Rng(11);
    let df = frame(
        &mut rng,
        20_000,
        &|r| match r.below(50) {
            0 => i64::MIN,
            1 => i64::MAX,
            _ => (r.next() % 3000) as i64 * 1_000_003 - 1_500_000_000,
        },
        5,
    );
    for dropna in [true, false] {
        check(
            &df,
            DataType::Int64,
            dropna,
            &format!("wide dropna={dropna}"),
        );
    }
    let bytes = frame(&mut rng, 3000, &|r| r.below(256) as i64, 50);
    check(&bytes, DataType::UInt8, false, "u8 keys");
}

#[test]
fn chunked_empty_and_all_null_frames_match_polars() {
    let mut rng = Rng(3);
    let a = frame(&mut rng, 700, &|r| r.below(40) as i64, 100);
    let mut chunked = a.clone();
    chunked
        .vstack_mut_owned(frame(&mut rng, 900, &|r| r.below(60) as i64 - 20, 100))
        .unwrap();
    assert!(chunked.first_col_n_chunks() > 1);
    check(&chunked, DataType::Int64, false, "chunked");
    // A key in one chunk beside values in two.
    let mut misaligned = chunked.clone();
    let k = misaligned
        .column("k")
        .unwrap()
        .as_materialized_series()
        .rechunk();
    misaligned.replace("k", k.into_column()).unwrap();
    let spec = spec_by_k(&misaligned, &all_aggs(), false);
    let fast = Reducer::Agg(spec.clone())
        .chunk(misaligned.clone())
        .unwrap();
    let slow = Reducer::Agg(crate::reduce::AggSpec { fast: None, ..spec })
        .chunk(misaligned)
        .unwrap();
    assert_same(&sorted(fast), &sorted(slow), "misaligned chunks");
    check(&a.slice(0, 0), DataType::Int64, true, "empty");
    let nulls = frame(&mut rng, 500, &|r| r.below(5) as i64, 1000);
    check(&nulls, DataType::Int64, false, "all keys null");
    check(&nulls, DataType::Int64, true, "all keys null, dropped");
}

#[test]
fn other_types_keep_polars_group_by() {
    let df = PlFrame::new_infer_height(vec![
        Series::new("k".into(), [1.5f64, 2.5]).into_column(),
        Series::new("v".into(), [1.0f32, 2.0]).into_column(),
    ])
    .unwrap();
    let spec = spec_by_k(&df, &[Agg::sum("v")], true);
    let fast = spec.fast.expect("one key and a sum have a fast plan");
    assert!(!fast.chunk.supports(df.schema()), "float keys");
    let spec = spec_by_k(&df, &[Agg::std("v")], true);
    assert!(spec.fast.is_none(), "std has no fast form");
}

/// `cargo test --release -p brisk-dataframe --lib -- --ignored --nocapture fastagg_speed`:
/// the chunk step of a mean by key over 1M rows, for several numbers of key values
/// (`FASTAGG_KEYS=100000` for one).
#[test]
#[ignore]
fn fastagg_speed() {
    let mut rng = Rng(7);
    let keys: Vec<u64> = match std::env::var("FASTAGG_KEYS") {
        Ok(k) => vec![k.parse().expect("FASTAGG_KEYS is a number")],
        Err(_) => vec![1_000, 100_000, 1_000_000, 50_000_000],
    };
    for groups in keys {
        let n = 1_000_000;
        let k: Vec<i64> = (0..n).map(|_| 1 + rng.below(groups) as i64).collect();
        let v: Vec<f64> = (0..n).map(|_| rng.below(1_000_000) as f64 / 7.0).collect();
        let df = PlFrame::new_infer_height(vec![
            Series::new("k".into(), k).into_column(),
            Series::new("v".into(), v).into_column(),
        ])
        .unwrap();
        let spec = spec_by_k(&df, &[Agg::mean("v")], true);
        let reducer = Reducer::Agg(spec);
        let mut best = f64::MAX;
        for _ in 0..15 {
            let t = std::time::Instant::now();
            let out = reducer.chunk(df.clone()).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(out);
        }
        println!(
            "{groups:>9} key values: {:.2} ns/row",
            best * 1e9 / n as f64
        );
    }
}

/// Chunk, combine and finalize grouped by `keys`, fast plan against Polars' group-by.
fn check_keys(df: &PlFrame, keys: &[&str], dropna: bool, what: &str) {
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let spec = agg::build("groupby", df.schema(), &keys, &all_aggs(), dropna, false).unwrap();
    let fast_plan = spec.fast.clone().expect("sums and means have a fast plan");
    assert!(
        fast_plan.chunk.supports(df.schema()),
        "{what}: takes the fast path"
    );
    let fast = Reducer::Agg(spec.clone());
    let slow = Reducer::Agg(crate::reduce::AggSpec { fast: None, ..spec });
    let half = df.height() / 2;
    let (a, b) = (df.slice(0, half), df.slice(half as i64, df.height() - half));
    let by: Vec<&str> = keys.iter().map(String::as_str).collect();
    let sort = |df: PlFrame| {
        df.lazy()
            .sort(
                by.clone(),
                SortMultipleOptions::default().with_nulls_last(true),
            )
            .collect()
            .unwrap()
    };
    let mut out = Vec::new();
    for r in [&fast, &slow] {
        let (ca, cb) = (r.chunk(a.clone()).unwrap(), r.chunk(b.clone()).unwrap());
        let chunk = sort(ca.clone());
        let combined = r.combine(vec![ca, cb], None).unwrap();
        let answer = sort(r.finalize(combined.clone()).unwrap());
        out.push((chunk, sort(combined), answer));
    }
    assert_same(&out[0].0, &out[1].0, &format!("{what} chunk"));
    assert_same(&out[0].1, &out[1].1, &format!("{what} combine"));
    assert_same(&out[0].2, &out[1].2, &format!("{what} answer"));
}

#[test]
fn string_and_multi_keys_match_polars() {
    let mut rng = Rng(17);
    let mut df = frame(&mut rng, 6000, &|r| r.below(200) as i64 - 50, 40);
    // `long`: strings past a view's inline twelve bytes; `k32`: an Int32 copy of the key.
    df = df
        .lazy()
        .with_column(
            (polars::prelude::lit("a longer string key ") + col("k").cast(DataType::String))
                .alias("long"),
        )
        .with_column(col("k").cast(DataType::Int32).alias("k32"))
        .collect()
        .unwrap();
    let mut chunked = df.clone();
    chunked.vstack_mut_owned(df.slice(0, 1000)).unwrap();
    for dropna in [true, false] {
        for keys in [
            &["s"][..],
            &["long"],
            &["k", "s"],
            &["s", "k32", "long"],
            &["k32", "small"],
        ] {
            let what = format!("{keys:?} dropna={dropna}");
            check_keys(&df, keys, dropna, &what);
            check_keys(&chunked, keys, dropna, &format!("chunked {what}"));
        }
        check_keys(&df.slice(0, 0), &["s", "k"], dropna, "empty");
    }
}
