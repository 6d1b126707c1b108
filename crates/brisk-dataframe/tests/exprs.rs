//! Expressions whose answer depends on other partitions (global aggregates, windows,
//! shift/diff/rolling, cum_*), each compared row by row with one in-memory Polars run of the
//! same expression on the same rows, over several partition layouts (including empty
//! partitions and partitions shorter than a shift); and the expressions Brisk refuses, with
//! errors that name them.

mod common;

use brisk_core::Collection;
use brisk_dataframe::{DataFrame as BriskFrame, DataFrameError};
use common::{assert_frames_close, init};
use polars::prelude::*;
use polars_core::series::ops::NullBehavior;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `x` (Int64, some null), `y` (Float64, some null), `g` (String key, some null), `k` (Int64
/// key), `small` (Int32 in 1..=3, for products).
fn data(rows: usize, seed: u64) -> DataFrame {
    let mut s = seed;
    let names = ["a", "b", "c", "d"];
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut g = Vec::new();
    let mut k = Vec::new();
    let mut small = Vec::new();
    for _ in 0..rows {
        let r = splitmix(&mut s);
        x.push((!r.is_multiple_of(17)).then_some((r % 1000) as i64 - 500));
        let r = splitmix(&mut s);
        y.push((!r.is_multiple_of(13)).then_some((r % 100_000) as f64 / 100.0 - 300.0));
        let r = splitmix(&mut s);
        g.push((!r.is_multiple_of(11)).then_some(names[(r % 4) as usize]));
        k.push((splitmix(&mut s) % 5) as i64);
        small.push(1 + (splitmix(&mut s) % 3) as i32);
    }
    df!("x" => x, "y" => y, "g" => g, "k" => k, "small" => small).expect("data")
}

/// The rows as 1 and 5 partitions, and as uneven ones: empty, 1-row and 2-row partitions
/// (shorter than the shifts and windows tested).
fn layouts(df: &DataFrame) -> Vec<(String, BriskFrame)> {
    let mut v: Vec<(String, BriskFrame)> = [1usize, 5]
        .iter()
        .map(|&n| {
            (
                format!("{n} partitions"),
                BriskFrame::from_polars(df.clone(), n).expect("split"),
            )
        })
        .collect();
    let h = df.height() as i64;
    let cuts = [0i64, 0, 1, 3, 3, 40, 41, 200, h];
    let parts = cuts
        .windows(2)
        .map(|w| df.slice(w[0], (w[1] - w[0]) as usize))
        .collect();
    v.push((
        "uneven partitions".into(),
        BriskFrame::from_partitions(parts).expect("parts"),
    ));
    v
}

/// Check `f` on every layout against Polars on the whole frame, row by row.
fn check(
    what: &str,
    df: &DataFrame,
    brisk: impl Fn(&BriskFrame) -> brisk_dataframe::Result<BriskFrame>,
    polars: impl Fn(LazyFrame) -> LazyFrame,
) {
    let want = polars(df.clone().lazy())
        .collect()
        .expect("polars reference");
    for (layout, ddf) in layouts(df) {
        let planned = brisk(&ddf).unwrap_or_else(|e| panic!("{what} ({layout}): {e}"));
        assert_eq!(
            planned.schema().as_ref(),
            want.schema().as_ref(),
            "{what} ({layout}): schema"
        );
        let got = planned
            .compute()
            .unwrap_or_else(|e| panic!("{what} ({layout}): {e}"));
        eprintln!("{what} ({layout})");
        assert_frames_close(&got, &want, &[], 1e-9);
    }
}

fn with_columns_case(df: &DataFrame, what: &str, exprs: Vec<Expr>) {
    let e2 = exprs.clone();
    check(
        what,
        df,
        move |d| d.with_columns(exprs.clone()),
        move |lf| lf.with_columns(e2.clone()),
    );
}

#[test]
fn global_aggregates_are_broadcast() {
    init();
    let df = data(600, 1);
    with_columns_case(
        &df,
        "x - mean(x)",
        vec![(col("x") - col("x").mean()).alias("centered")],
    );
    with_columns_case(
        &df,
        "y / sum(y)",
        vec![(col("y") / col("y").sum()).alias("share")],
    );
    with_columns_case(
        &df,
        "z-score",
        vec![((col("y") - col("y").mean()) / col("y").std(1)).alias("z")],
    );
    with_columns_case(
        &df,
        "range, len, count, n_unique, first, last",
        vec![
            (col("x").max() - col("x").min()).alias("range"),
            len().alias("n"),
            col("x").count().alias("nx"),
            col("g").n_unique().alias("ng"),
            col("x").first().alias("first"),
            col("y").last().alias("last"),
            col("y").var(0).alias("var0"),
        ],
    );
    with_columns_case(
        &df,
        "median (not decomposable)",
        vec![(col("x") - col("x").median()).alias("m")],
    );
    with_columns_case(
        &df,
        "sum of a filtered product",
        vec![
            (col("x") * col("y"))
                .filter(col("k").gt(lit(1)))
                .sum()
                .alias("s"),
        ],
    );
    // select: all scalars give one row.
    check(
        "select of scalars",
        &df,
        |d| {
            d.select([
                col("x").sum(),
                col("y").mean().alias("ym"),
                len(),
                lit(7).alias("seven"),
                (col("x").max() - col("x").min()).alias("spread"),
            ])
        },
        |lf| {
            lf.select([
                col("x").sum(),
                col("y").mean().alias("ym"),
                len(),
                lit(7).alias("seven"),
                (col("x").max() - col("x").min()).alias("spread"),
            ])
        },
    );
    check(
        "select of a median",
        &df,
        |d| {
            d.select([
                col("y").median(),
                col("x").quantile(lit(0.3), QuantileMethod::Linear),
            ])
        },
        |lf| {
            lf.select([
                col("y").median(),
                col("x").quantile(lit(0.3), QuantileMethod::Linear),
            ])
        },
    );
    check(
        "select mixing columns and scalars",
        &df,
        |d| d.select([col("k"), (col("x") - col("x").mean()).alias("c")]),
        |lf| lf.select([col("k"), (col("x") - col("x").mean()).alias("c")]),
    );
    check(
        "filter above the mean",
        &df,
        |d| d.filter(col("x").gt(col("x").mean())),
        |lf| lf.filter(col("x").gt(col("x").mean())),
    );
}

#[test]
fn windows_of_aggregates_join_back() {
    init();
    let df = data(500, 2);
    with_columns_case(
        &df,
        "mean over a string key with nulls",
        vec![col("x").mean().over([col("g")]).expect("over").alias("gm")],
    );
    with_columns_case(
        &df,
        "deviation from the group mean over two keys, and a global one",
        vec![
            (col("y") - col("y").mean().over([col("g"), col("k")]).expect("over")).alias("dev"),
            (col("x") - col("x").mean()).alias("c"),
            col("x").sum().over([col("k")]).expect("over").alias("ks"),
            len().over([col("k")]).expect("over").alias("kn"),
        ],
    );
    with_columns_case(
        &df,
        "window over an expression key",
        vec![
            col("x")
                .max()
                .over([(col("k") % lit(2)).alias("parity")])
                .expect("over")
                .alias("pm"),
        ],
    );
    with_columns_case(
        &df,
        "median over a key (through a shuffle)",
        vec![
            col("y")
                .median()
                .over([col("k")])
                .expect("over")
                .alias("med"),
        ],
    );
    check(
        "filter by a window",
        &df,
        |d| d.filter(col("y").gt(col("y").mean().over([col("g")]).expect("over"))),
        |lf| lf.filter(col("y").gt(col("y").mean().over([col("g")]).expect("over"))),
    );
}

#[test]
fn order_dependent_functions_see_their_neighbours() {
    init();
    let df = data(300, 3);
    with_columns_case(
        &df,
        "shift",
        vec![
            col("x").shift(lit(1)).alias("lag1"),
            col("x").shift(lit(5)).alias("lag5"),
            col("y").shift(lit(-2)).alias("lead2"),
        ],
    );
    with_columns_case(
        &df,
        "diff",
        vec![
            col("x").diff(lit(1), NullBehavior::Ignore).alias("d1"),
            (col("y").diff(lit(3), NullBehavior::Ignore) * lit(2.0)).alias("d3"),
        ],
    );
    with_columns_case(
        &df,
        "rolling",
        vec![
            col("y")
                .rolling_mean(RollingOptionsFixedWindow {
                    window_size: 4,
                    min_periods: 2,
                    ..Default::default()
                })
                .alias("rm"),
            col("y")
                .rolling_sum(RollingOptionsFixedWindow {
                    window_size: 3,
                    min_periods: 1,
                    center: true,
                    ..Default::default()
                })
                .alias("rs"),
        ],
    );
    with_columns_case(
        &df,
        "cumulative",
        vec![
            col("x").cum_sum(false).alias("cs"),
            col("x").cum_sum(true).alias("rcs"),
            col("y").cum_max(false).alias("cmax"),
            col("y").cum_min(true).alias("rcmin"),
            col("x").cum_count(false).alias("cc"),
            (col("x") * lit(2)).cum_sum(false).alias("cs2"),
        ],
    );
    let small = df.clone().lazy().limit(40).collect().expect("40 rows");
    with_columns_case(
        &small,
        "cum_prod",
        vec![col("small").cum_prod(false).alias("cp")],
    );
    with_columns_case(
        &df,
        "a running total and a lag in one step (two stages)",
        vec![
            col("x").cum_sum(false).alias("x"),
            col("x").shift(lit(1)).alias("lag"),
            (col("y") * lit(2.0)).alias("y2"),
        ],
    );
    check(
        "select with a lag",
        &df,
        |d| d.select([col("k"), (col("x") - col("x").shift(lit(1))).alias("step")]),
        |lf| lf.select([col("k"), (col("x") - col("x").shift(lit(1))).alias("step")]),
    );
    check(
        "filter on a lag",
        &df,
        |d| d.filter(col("x").gt(col("x").shift(lit(1)))),
        |lf| lf.filter(col("x").gt(col("x").shift(lit(1)))),
    );
    check(
        "lag of a deviation from the mean",
        &df,
        |d| d.with_columns([(col("x") - col("x").mean()).shift(lit(1)).alias("l")]),
        |lf| lf.with_columns([(col("x") - col("x").mean()).shift(lit(1)).alias("l")]),
    );
}

#[test]
fn expressions_that_cannot_be_planned_are_refused_by_name() {
    init();
    let df = data(50, 4);
    let ddf = BriskFrame::from_polars(df, 3).expect("split");
    let cases: Vec<(Expr, &str)> = vec![
        (col("x").rank(RankOptions::default(), None), "rank"),
        (col("x").sort(SortOptions::default()), "sort"),
        (col("x").head(Some(3)), "slice"),
        (
            col("x").cum_sum(false).over([col("g")]).expect("over"),
            "cum_sum",
        ),
        (col("x").cum_sum(false).shift(lit(1)), "cum_sum"),
        (col("x").cum_sum(false) + col("x").shift(lit(1)), "cum_sum"),
        (col("x").is_in(col("y"), false), "is_in"),
        (col("x").diff(lit(1), NullBehavior::Ignore).sum(), "diff"),
    ];
    for (e, name) in cases {
        let err = ddf
            .with_columns([e.clone().alias("out")])
            .err()
            .unwrap_or_else(|| panic!("{e:?} was accepted"));
        assert!(
            matches!(err, DataFrameError::NotPartitionable { .. }),
            "{e:?}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(name), "{e:?}: {msg}");
    }
    // Elementwise expressions still run partition by partition, in one task each.
    let ok = ddf
        .with_columns([(col("x") * lit(2)).alias("x2")])
        .expect("elementwise");
    assert_eq!(ok.num_layers(), 2);
}
