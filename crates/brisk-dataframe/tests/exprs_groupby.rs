//! Polars aggregation expressions in group-bys (string, multi-column and expression keys,
//! with nulls; decomposable ones as tree reductions, medians and quantiles through a
//! shuffle), multi-key, string-key, semi and anti joins, multi-column sorts with nulls first
//! or last, and `sort_head` — each compared with one in-memory Polars run on the same rows.

mod common;

use brisk_core::Collection;
use brisk_dataframe::{DataFrame as BriskFrame, How, ShuffleMethod};
use common::{assert_frames_close, init};
use polars::prelude::*;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `g` (String key with nulls), `k` (Int32 key), `a`, `b` (Float64 with nulls), `w` (Int64).
fn data(rows: usize, seed: u64) -> DataFrame {
    let mut s = seed;
    let names = ["ant", "bee", "cat", "dog", "eel"];
    let (mut g, mut k, mut a, mut b, mut w) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..rows {
        let r = splitmix(&mut s);
        g.push((!r.is_multiple_of(13)).then_some(names[(r % 5) as usize]));
        k.push((splitmix(&mut s) % 7) as i32);
        let r = splitmix(&mut s);
        a.push((!r.is_multiple_of(11)).then_some((r % 10_000) as f64 / 100.0 - 50.0));
        let r = splitmix(&mut s);
        b.push((!r.is_multiple_of(17)).then_some((r % 1000) as f64 / 10.0));
        w.push((splitmix(&mut s) % 21) as i64 - 10);
    }
    df!("g" => g, "k" => k, "a" => a, "b" => b, "w" => w).expect("data")
}

fn layouts(df: &DataFrame) -> Vec<(String, BriskFrame)> {
    let h = df.height() as i64;
    let cuts = [0i64, 0, 5, 100, 100, 333, h];
    let parts = cuts
        .windows(2)
        .map(|c| df.slice(c[0], (c[1] - c[0]) as usize))
        .collect();
    vec![
        (
            "1 partition".into(),
            BriskFrame::from_polars(df.clone(), 1).expect("one"),
        ),
        (
            "6 partitions".into(),
            BriskFrame::from_polars(df.clone(), 6).expect("six"),
        ),
        (
            "uneven".into(),
            BriskFrame::from_partitions(parts).expect("uneven"),
        ),
    ]
}

fn aggs() -> Vec<Expr> {
    vec![
        col("a").mean().alias("mean_a"),
        col("a").filter(col("w").gt(lit(0))).sum().alias("pos_sum"),
        (col("a") * col("b")).sum().alias("ab"),
        (col("a").sum() / col("b").sum()).alias("ratio"),
        col("w").n_unique().alias("nu"),
        col("a").first().alias("first_a"),
        col("b").last().alias("last_b"),
        len().alias("n"),
        col("a").count().alias("na"),
        col("b").std(1).alias("sd"),
        col("w").max().alias("wmax"),
    ]
}

fn check_groupby(keys: &[&str], exprs: Vec<Expr>, shuffled: bool) {
    let df = data(700, 11);
    let by: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
    let want = df
        .clone()
        .lazy()
        .group_by(by)
        .agg(exprs.clone())
        .collect()
        .expect("polars");
    for (layout, ddf) in layouts(&df) {
        let out = ddf
            .groupby(keys.to_vec())
            .dropna(false)
            .agg(exprs.clone())
            .unwrap_or_else(|e| panic!("{keys:?} ({layout}): {e}"));
        let got = out
            .compute()
            .unwrap_or_else(|e| panic!("{keys:?} ({layout}): {e}"));
        assert_eq!(got.schema(), want.schema(), "{keys:?} ({layout})");
        if shuffled {
            // Through a shuffle: the plan has a shuffle layer.
            assert!(out.num_layers() > 3, "{keys:?} ({layout})");
        }
        assert_frames_close(&got, &want, keys, 1e-9);
    }
}

#[test]
fn expression_aggregations_match_polars_on_string_and_multi_keys() {
    init();
    check_groupby(&["g"], aggs(), false);
    check_groupby(&["g", "k"], aggs(), false);
    check_groupby(&["k"], aggs(), false);
    // Medians and quantiles do not decompose: each group is aggregated whole after a shuffle.
    let whole = vec![
        col("a").median().alias("med"),
        col("b")
            .quantile(lit(0.25), QuantileMethod::Linear)
            .alias("q25"),
        col("a").sum().alias("sa"),
    ];
    check_groupby(&["g"], whole.clone(), true);
    check_groupby(&["g", "k"], whole, true);
}

#[test]
fn expression_keys_and_dropped_null_keys() {
    init();
    let df = data(500, 12);
    let want = df
        .clone()
        .lazy()
        .filter(col("g").is_not_null())
        .group_by([(col("k") % lit(3)).alias("k3"), col("g")])
        .agg([col("a").sum().alias("s")])
        .collect()
        .expect("polars");
    for (layout, ddf) in layouts(&df) {
        let got = ddf
            .groupby_exprs([(col("k") % lit(3)).alias("k3"), col("g")])
            .expect("keys")
            .agg([col("a").sum().alias("s")])
            .expect("agg")
            .compute()
            .unwrap_or_else(|e| panic!("{layout}: {e}"));
        assert_frames_close(&got, &want, &["k3", "g"], 1e-9);
    }
    // Mixed: Brisk's Agg (pandas meanings) and an expression.
    let ddf = BriskFrame::from_polars(df.clone(), 4).expect("split");
    let got = ddf
        .groupby("k")
        .agg([
            brisk_dataframe::Agg::nunique("g"),
            col("a").max().alias("amax").into(),
        ])
        .expect("mixed")
        .compute()
        .expect("compute");
    let want = df
        .lazy()
        .group_by([col("k")])
        .agg([
            col("g").drop_nulls().n_unique().cast(DataType::Int64),
            col("a").max().alias("amax"),
        ])
        .collect()
        .expect("polars");
    assert_frames_close(&got, &want, &["k"], 1e-9);
}

#[test]
fn joins_on_several_and_string_keys_semi_and_anti() {
    init();
    let left = data(400, 13);
    let right = data(150, 14)
        .lazy()
        .unique(Some(cols(["g", "k"])), UniqueKeepStrategy::First)
        .select([col("g"), col("k"), col("w").alias("rw")])
        .collect()
        .expect("right");
    for how in [How::Inner, How::Left, How::Semi, How::Anti] {
        let jt = match how {
            How::Inner => JoinType::Inner,
            How::Left => JoinType::Left,
            How::Semi => JoinType::Semi,
            _ => JoinType::Anti,
        };
        let want = left
            .clone()
            .lazy()
            .join(
                right.clone().lazy(),
                [col("g"), col("k")],
                [col("g"), col("k")],
                JoinArgs::new(jt),
            )
            .collect()
            .expect("polars");
        for (nl, nr) in [(3, 1), (3, 2), (1, 4)] {
            let l = BriskFrame::from_polars(left.clone(), nl).expect("left");
            let r = BriskFrame::from_polars(right.clone(), nr).expect("right");
            let got = l
                .join(&r, ["g", "k"], ["g", "k"], how)
                .expect("join")
                .compute()
                .expect("compute");
            let by = if matches!(how, How::Semi | How::Anti) {
                vec!["g", "k", "a", "b", "w"]
            } else {
                vec!["g", "k", "a", "b", "w", "rw"]
            };
            assert_frames_close(&got, &want, &by, 1e-12);
        }
    }
}

#[test]
fn multi_column_sorts_and_sort_head() {
    init();
    let df = data(600, 15);
    for nulls_last in [true, false] {
        let opts = SortMultipleOptions::default()
            .with_order_descending_multi([false, true, false])
            .with_nulls_last(nulls_last)
            .with_maintain_order(true);
        let want = df
            .clone()
            .lazy()
            .sort(["g", "a", "w"], opts)
            .collect()
            .expect("polars");
        for (layout, ddf) in layouts(&df) {
            let got = ddf
                .sort_values_with(
                    vec!["g".into(), "a".into(), "w".into()],
                    vec![false, true, false],
                    nulls_last,
                    ShuffleMethod::Tasks,
                )
                .expect("sort")
                .compute()
                .expect("compute");
            // Row order matters: compare without re-sorting (ties on all three columns are
            // compared through the remaining columns, which the sort does not order).
            assert_frames_close(
                &got.select(["g", "a", "w"]).expect("cols"),
                &want.select(["g", "a", "w"]).expect("cols"),
                &[],
                0.0,
            );
            let head = ddf
                .sort_head(["a", "w"], vec![true, false], nulls_last, 25)
                .expect("sort_head")
                .compute()
                .expect("compute");
            let want_head = df
                .clone()
                .lazy()
                .sort(
                    ["a", "w"],
                    SortMultipleOptions::default()
                        .with_order_descending_multi([true, false])
                        .with_nulls_last(nulls_last)
                        .with_maintain_order(true),
                )
                .limit(25)
                .collect()
                .expect("polars");
            assert_frames_close(&head, &want_head, &[], 0.0);
            eprintln!("{layout}, nulls_last={nulls_last}");
        }
    }
}
