//! The radix join (inner and left) against Polars' join on the same frames: duplicate and null keys on both
//! sides, clashing column names, different key names and types, empty results, and enough
//! rows for many buckets.

use polars::prelude::{
    DataFrame as PlFrame, DataType, IntoColumn, IntoLazy, NamedFrom, Series, SortMultipleOptions,
    col,
};

use super::{try_join, try_join_from};
use crate::join::{How, JoinSpec, JoinStrategy};
use crate::test_rng::Rng;

fn spec(left_on: &str, right_on: &str) -> JoinSpec {
    JoinSpec {
        left_on: vec![left_on.into()],
        right_on: vec![right_on.into()],
        how: How::Inner,
        suffix: "_right".into(),
        nulls_equal: false,
        strategy: JoinStrategy::Partitionwise,
        keep_left_order: false,
    }
}

/// `n` rows with key column `key` drawn below `range` (null one time in `nulls`), and a
/// value column `v` (the same name on both sides, so Polars suffixes the right one).
fn side(rng: &mut Rng, key: &str, n: usize, range: u64, nulls: u64, dtype: &DataType) -> PlFrame {
    let k: Vec<Option<i64>> = (0..n)
        .map(|_| (rng.below(nulls) != 0).then(|| rng.below(range) as i64 - 5))
        .collect();
    let v: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let tag: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    PlFrame::new_infer_height(vec![
        Series::new(key.into(), k)
            .cast(dtype)
            .unwrap()
            .into_column(),
        Series::new("v".into(), v).into_column(),
        Series::new(format!("{key}_tag").as_str().into(), tag).into_column(),
    ])
    .unwrap()
}

fn canonical(df: PlFrame) -> PlFrame {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    df.lazy()
        .sort(names, SortMultipleOptions::default())
        .collect()
        .unwrap()
}

fn check(left: &PlFrame, right: &PlFrame, spec: &JoinSpec, what: &str) {
    for how in [How::Inner, How::Left] {
        let spec = JoinSpec {
            how,
            ..spec.clone()
        };
        check_one(left, right, &spec, &format!("{what} {how:?}"));
    }
}

fn check_one(left: &PlFrame, right: &PlFrame, spec: &JoinSpec, what: &str) {
    // Row keys take the kernel here whatever the right side's size.
    let fast = try_join_from(spec, left, right, 0)
        .expect("an inner or left join on integer, string or several keys takes the fast path")
        .unwrap();
    if spec.how == How::Left {
        // Left order (as Polars keeps it): the left side's `v` is its row number.
        let v = fast.column("v").unwrap().f64().unwrap();
        let v: Vec<f64> = v.into_no_null_iter().collect();
        assert!(
            v.windows(2).all(|w| w[0] <= w[1]),
            "{what}: not in left order"
        );
    }
    let slow = spec.polars_join(left.clone(), right.clone()).unwrap();
    assert_eq!(fast.schema(), slow.schema(), "{what}: schemas");
    assert_eq!(fast.height(), slow.height(), "{what}: rows");
    assert!(
        canonical(fast).equals_missing(&canonical(slow)),
        "{what}: rows differ from Polars' join"
    );
}

#[test]
fn inner_joins_match_polars() {
    let mut rng = Rng(5);
    for (n_left, n_right, range) in [(50, 40, 10), (3000, 2000, 500), (40_000, 30_000, 1 << 40)] {
        for dtype in [DataType::Int64, DataType::Int32] {
            let range = if dtype == DataType::Int32 {
                range.min(1 << 30)
            } else {
                range
            };
            let l = side(&mut rng, "a", n_left, range, 20, &dtype);
            let r = side(&mut rng, "a", n_right, range, 20, &dtype);
            check(
                &l,
                &r,
                &spec("a", "a"),
                &format!("{n_left}x{n_right} {dtype}"),
            );
            let r2 = side(&mut rng, "b", n_right, range, 20, &dtype);
            check(
                &l,
                &r2,
                &spec("a", "b"),
                &format!("different names {dtype}"),
            );
        }
    }
    // Nothing in common, and every key the same.
    let l = side(&mut rng, "a", 100, 10, 1000, &DataType::Int64);
    let r = l
        .clone()
        .lazy()
        .with_column(col("a") + polars::prelude::lit(1000))
        .collect()
        .unwrap();
    check(&l, &r, &spec("a", "a"), "no matches");
    let same = l
        .clone()
        .lazy()
        .with_column(polars::prelude::lit(7i64).alias("a"))
        .collect()
        .unwrap();
    check(&same, &same, &spec("a", "a"), "one key");
}

#[test]
fn other_joins_keep_polars() {
    let mut rng = Rng(9);
    let l = side(&mut rng, "a", 10, 5, 5, &DataType::Int64);
    for how in [How::Right, How::Outer, How::Semi, How::Anti] {
        let mut s = spec("a", "a");
        s.how = how;
        assert!(try_join(&s, &l, &l).is_none(), "{how:?} join");
    }
    let mut s = spec("a", "a");
    s.nulls_equal = true;
    assert!(try_join(&s, &l, &l).is_none(), "nulls equal");
    let f = l
        .clone()
        .lazy()
        .with_column(col("a").cast(DataType::Float64))
        .collect()
        .unwrap();
    assert!(try_join(&spec("a", "a"), &f, &f).is_none(), "float keys");
    let i32 = l
        .clone()
        .lazy()
        .with_column(col("a").cast(DataType::Int32))
        .collect()
        .unwrap();
    assert!(
        try_join(&spec("a", "a"), &l, &i32).is_none(),
        "mixed key types"
    );
}

/// Key columns `a` (Int64, from `side`) plus `s`: strings made from the same draws, short
/// (inline in a view) or long, with the empty string and nulls.
fn with_strings(df: PlFrame, key: &str) -> PlFrame {
    df.lazy()
        .with_column(
            polars::prelude::when(col(key).gt(polars::prelude::lit(3)))
                .then(
                    polars::prelude::lit("a long string, past twelve bytes ")
                        + col(key).cast(DataType::String),
                )
                .otherwise(col(key).cast(DataType::String))
                .fill_null(polars::prelude::lit(""))
                .alias("s"),
        )
        .with_column(
            polars::prelude::when(col(key).eq(polars::prelude::lit(1)))
                .then(polars::prelude::lit(polars::prelude::NULL).cast(DataType::String))
                .otherwise(col("s"))
                .alias("s"),
        )
        .collect()
        .unwrap()
}

fn spec_on(left_on: &[&str], right_on: &[&str]) -> JoinSpec {
    JoinSpec {
        left_on: left_on.iter().map(|s| s.to_string()).collect(),
        right_on: right_on.iter().map(|s| s.to_string()).collect(),
        ..spec("", "")
    }
}

#[test]
fn string_and_multi_key_joins_match_polars() {
    let mut rng = Rng(21);
    for (n_left, n_right, range) in [(60, 50, 12), (5000, 3000, 700)] {
        let l = with_strings(
            side(&mut rng, "a", n_left, range, 15, &DataType::Int64),
            "a",
        );
        let r = with_strings(
            side(&mut rng, "a", n_right, range, 15, &DataType::Int64),
            "a",
        );
        let what = format!("{n_left}x{n_right}");
        assert!(
            try_join(&spec_on(&["s"], &["s"]), &l, &r).is_none(),
            "a small right side keeps Polars' join on row keys"
        );
        check(&l, &r, &spec_on(&["s"], &["s"]), &format!("{what} string"));
        check(
            &l,
            &r,
            &spec_on(&["s", "a"], &["s", "a"]),
            &format!("{what} (s, a)"),
        );
        let r2 = r
            .clone()
            .lazy()
            .rename(["a", "s"], ["b", "t"], true)
            .collect()
            .unwrap();
        check(
            &l,
            &r2,
            &spec_on(&["a", "s"], &["b", "t"]),
            &format!("{what} renamed"),
        );
        let (l8, r8) = (
            l.clone()
                .lazy()
                .with_column(col("a").cast(DataType::UInt64))
                .collect()
                .unwrap(),
            r.clone()
                .lazy()
                .with_column(col("a").cast(DataType::UInt64))
                .collect()
                .unwrap(),
        );
        check(&l8, &r8, &spec_on(&["a"], &["a"]), &format!("{what} u64"));
    }
}

/// `POLARS_MAX_THREADS=1 cargo test --release -p brisk-dataframe --lib -- --ignored
/// --nocapture rowkey_join_speed`: one partition's inner join (1.25M left rows with 100k key
/// values, against 125k or 1.25M right rows of unique keys) on an integer key, a string key
/// and (integer, string) keys, the kernel here against Polars' join on the same frames (best
/// of 5).
#[test]
#[ignore]
fn rowkey_join_speed() {
    let mut rng = Rng(3);
    let n = 1_250_000;
    let k: Vec<i64> = (0..n).map(|_| rng.below(100_000) as i64).collect();
    for right_rows in [125_000, 1_250_000] {
        let d: Vec<i64> = (0..right_rows).collect();
        let frame = |k: &[i64], v: &str| -> PlFrame {
            PlFrame::new_infer_height(vec![
                Series::new("k".into(), k).into_column(),
                Series::new(
                    "s".into(),
                    k.iter().map(|x| format!("user{x}")).collect::<Vec<_>>(),
                )
                .into_column(),
                Series::new("hi".into(), k.iter().map(|x| x / 8).collect::<Vec<_>>()).into_column(),
                Series::new(
                    "name".into(),
                    k.iter().map(|x| format!("n{}", x % 8)).collect::<Vec<_>>(),
                )
                .into_column(),
                Series::new(v.into(), k.iter().map(|&x| x as f64).collect::<Vec<_>>())
                    .into_column(),
            ])
            .unwrap()
        };
        let (l, r) = (frame(&k, "v"), frame(&d, "w"));
        for keys in [&["k"][..], &["s"], &["hi", "name"]] {
            let sel = |df: &PlFrame, v: &str| {
                df.select(keys.iter().copied().chain([v]).map(|c| c.to_string()))
                    .unwrap()
            };
            let (l, r) = (sel(&l, "v"), sel(&r, "w"));
            let s = spec_on(keys, keys);
            let time = |f: &dyn Fn() -> usize| {
                let mut best = f64::MAX;
                let mut rows = 0;
                for _ in 0..5 {
                    let t = std::time::Instant::now();
                    rows = f();
                    best = best.min(t.elapsed().as_secs_f64());
                }
                (best, rows)
            };
            let (fast, n1) = time(&|| try_join_from(&s, &l, &r, 0).unwrap().unwrap().height());
            let (slow, n2) = time(&|| s.polars_join(l.clone(), r.clone()).unwrap().height());
            assert_eq!(n1, n2);
            println!(
                "{keys:?} x {right_rows}: kernel {:.1} ns/row, Polars {:.1} ns/row ({n1} rows)",
                fast * 1e9 / n as f64,
                slow * 1e9 / n as f64
            );
        }
    }
}
