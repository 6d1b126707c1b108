//! The 22 TPC-H queries in idiomatic Brisk (brisk-dataframe over Polars expressions), with
//! the specification's validation parameters. Shared by the benchmark
//! (`crates/brisk-dataframe/examples/bench_tpch.rs`) and the test against DuckDB
//! (`crates/brisk-dataframe/tests/tpch.rs`), which include this file.
//!
//! Data: `bench/tpch/gen.py` (tpchgen-cli's tables as partitioned Parquet, decimals as
//! float64), `<dir>/<table>/*.parquet`.

use std::path::{Path, PathBuf};

use brisk_core::Collection;
use brisk_dataframe::polars::prelude::*;
use brisk_dataframe::{DataFrame, How, Result, read_parquet};

/// The tables of one data directory, read lazily.
pub struct Tables {
    dir: PathBuf,
}

impl Tables {
    /// The tables under `dir`.
    pub fn new(dir: &Path) -> Tables {
        Tables {
            dir: dir.to_path_buf(),
        }
    }

    fn read(&self, table: &str) -> Result<DataFrame> {
        let pattern = self.dir.join(table).join("*.parquet");
        read_parquet(pattern.to_string_lossy().into_owned())
    }
}

/// A date literal.
fn date(y: i32, m: u32, d: u32) -> Expr {
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy as i32;
    lit(era * 146_097 + doe - 719_468).cast(DataType::Date)
}

/// A list of strings for `is_in`.
fn strs(values: &[&str]) -> Expr {
    lit(Series::new(PlSmallStr::EMPTY, values)).implode(false)
}

/// A list of integers for `is_in`.
fn ints(values: &[i32]) -> Expr {
    lit(Series::new(PlSmallStr::EMPTY, values)).implode(false)
}

fn over_err(source: PolarsError) -> brisk_dataframe::DataFrameError {
    brisk_dataframe::DataFrameError::Polars {
        operation: "over",
        source,
    }
}

fn volume() -> Expr {
    col("l_extendedprice") * (lit(1.0) - col("l_discount"))
}

fn asc(n: usize) -> Vec<bool> {
    vec![false; n]
}

/// Run query `q` (1..=22) and return its answer.
pub fn run(q: usize, t: &Tables) -> Result<brisk_dataframe::polars::prelude::DataFrame> {
    let out = match q {
        1 => q1(t)?,
        2 => q2(t)?,
        3 => q3(t)?,
        4 => q4(t)?,
        5 => q5(t)?,
        6 => q6(t)?,
        7 => q7(t)?,
        8 => q8(t)?,
        9 => q9(t)?,
        10 => q10(t)?,
        11 => q11(t)?,
        12 => q12(t)?,
        13 => q13(t)?,
        14 => q14(t)?,
        15 => q15(t)?,
        16 => q16(t)?,
        17 => q17(t)?,
        18 => q18(t)?,
        19 => q19(t)?,
        20 => q20(t)?,
        21 => q21(t)?,
        22 => q22(t)?,
        _ => {
            return Err(brisk_dataframe::DataFrameError::InvalidArgument {
                argument: "query",
                reason: format!("TPC-H has queries 1 to 22, not {q}"),
            });
        }
    };
    Ok(out.compute()?)
}

fn q1(t: &Tables) -> Result<DataFrame> {
    let charge = volume() * (lit(1.0) + col("l_tax"));
    t.read("lineitem")?
        .filter(col("l_shipdate").lt_eq(date(1998, 9, 2)))?
        .groupby(["l_returnflag", "l_linestatus"])
        .agg([
            col("l_quantity").sum().alias("sum_qty"),
            col("l_extendedprice").sum().alias("sum_base_price"),
            volume().sum().alias("sum_disc_price"),
            charge.sum().alias("sum_charge"),
            col("l_quantity").mean().alias("avg_qty"),
            col("l_extendedprice").mean().alias("avg_price"),
            col("l_discount").mean().alias("avg_disc"),
            len().alias("count_order"),
        ])
}

fn q2(t: &Tables) -> Result<DataFrame> {
    let europe = t
        .read("region")?
        .filter(col("r_name").eq(lit("EUROPE")))?
        .join(&t.read("nation")?, "r_regionkey", "n_regionkey", How::Inner)?;
    let suppliers = t
        .read("supplier")?
        .join(&europe, "s_nationkey", "n_nationkey", How::Inner)?;
    let parts = t.read("part")?.filter(
        col("p_size")
            .eq(lit(15))
            .and(col("p_type").str().ends_with(lit("BRASS"))),
    )?;
    parts
        .join(&t.read("partsupp")?, "p_partkey", "ps_partkey", How::Inner)?
        .join(&suppliers, "ps_suppkey", "s_suppkey", How::Inner)?
        // The cheapest European supplier of each part: a window of an aggregate.
        .filter(
            col("ps_supplycost").eq(col("ps_supplycost")
                .min()
                .over([col("p_partkey")])
                .map_err(over_err)?),
        )?
        .select([
            col("s_acctbal"),
            col("s_name"),
            col("n_name"),
            col("p_partkey"),
            col("p_mfgr"),
            col("s_address"),
            col("s_phone"),
            col("s_comment"),
        ])?
        .sort_head(
            ["s_acctbal", "n_name", "s_name", "p_partkey"],
            vec![true, false, false, false],
            true,
            100,
        )
}

fn q3(t: &Tables) -> Result<DataFrame> {
    let customers = t
        .read("customer")?
        .filter(col("c_mktsegment").eq(lit("BUILDING")))?;
    let orders = t
        .read("orders")?
        .filter(col("o_orderdate").lt(date(1995, 3, 15)))?;
    let lines = t
        .read("lineitem")?
        .filter(col("l_shipdate").gt(date(1995, 3, 15)))?;
    customers
        .join(&orders, "c_custkey", "o_custkey", How::Inner)?
        .join(&lines, "o_orderkey", "l_orderkey", How::Inner)?
        .groupby(["o_orderkey", "o_orderdate", "o_shippriority"])
        .sort(false)
        .agg([volume().sum().alias("revenue")])?
        .select([
            col("o_orderkey").alias("l_orderkey"),
            col("revenue"),
            col("o_orderdate"),
            col("o_shippriority"),
        ])?
        .sort_head(["revenue", "o_orderdate"], vec![true, false], true, 10)
}

fn q4(t: &Tables) -> Result<DataFrame> {
    let late = t
        .read("lineitem")?
        .filter(col("l_commitdate").lt(col("l_receiptdate")))?;
    t.read("orders")?
        .filter(
            col("o_orderdate")
                .gt_eq(date(1993, 7, 1))
                .and(col("o_orderdate").lt(date(1993, 10, 1))),
        )?
        .join(&late, "o_orderkey", "l_orderkey", How::Semi)?
        .groupby("o_orderpriority")
        .agg([len().alias("order_count")])
}

fn q5(t: &Tables) -> Result<DataFrame> {
    let asia = t
        .read("region")?
        .filter(col("r_name").eq(lit("ASIA")))?
        .join(&t.read("nation")?, "r_regionkey", "n_regionkey", How::Inner)?;
    let suppliers = t
        .read("supplier")?
        .join(&asia, "s_nationkey", "n_nationkey", How::Inner)?;
    let orders = t.read("orders")?.filter(
        col("o_orderdate")
            .gt_eq(date(1994, 1, 1))
            .and(col("o_orderdate").lt(date(1995, 1, 1))),
    )?;
    t.read("customer")?
        .join(&orders, "c_custkey", "o_custkey", How::Inner)?
        .join(&t.read("lineitem")?, "o_orderkey", "l_orderkey", How::Inner)?
        .join(
            &suppliers,
            ["l_suppkey", "c_nationkey"],
            ["s_suppkey", "s_nationkey"],
            How::Inner,
        )?
        .groupby("n_name")
        .agg([volume().sum().alias("revenue")])?
        .sort_values_with(vec!["revenue".into()], vec![true], true, Default::default())
}

fn q6(t: &Tables) -> Result<DataFrame> {
    t.read("lineitem")?
        .filter(
            col("l_shipdate")
                .gt_eq(date(1994, 1, 1))
                .and(col("l_shipdate").lt(date(1995, 1, 1)))
                .and(col("l_discount").gt_eq(lit(0.05)))
                .and(col("l_discount").lt_eq(lit(0.07)))
                .and(col("l_quantity").lt(lit(24.0))),
        )?
        .select([(col("l_extendedprice") * col("l_discount"))
            .sum()
            .alias("revenue")])
}

fn q7(t: &Tables) -> Result<DataFrame> {
    let pair = strs(&["FRANCE", "GERMANY"]);
    let nations = t
        .read("nation")?
        .filter(col("n_name").is_in(pair, false))?
        .select([col("n_nationkey"), col("n_name")])?;
    let suppliers = t
        .read("supplier")?
        .join(&nations, "s_nationkey", "n_nationkey", How::Inner)?
        .rename(["n_name"], ["supp_nation"])?;
    let customers = t
        .read("customer")?
        .join(&nations, "c_nationkey", "n_nationkey", How::Inner)?
        .rename(["n_name"], ["cust_nation"])?;
    t.read("lineitem")?
        .filter(
            col("l_shipdate")
                .gt_eq(date(1995, 1, 1))
                .and(col("l_shipdate").lt_eq(date(1996, 12, 31))),
        )?
        .join(&suppliers, "l_suppkey", "s_suppkey", How::Inner)?
        .join(&t.read("orders")?, "l_orderkey", "o_orderkey", How::Inner)?
        .join(&customers, "o_custkey", "c_custkey", How::Inner)?
        .filter(col("supp_nation").neq(col("cust_nation")))?
        .with_columns([
            col("l_shipdate").dt().year().alias("l_year"),
            volume().alias("volume"),
        ])?
        .groupby(["supp_nation", "cust_nation", "l_year"])
        .agg([col("volume").sum().alias("revenue")])
}

fn q8(t: &Tables) -> Result<DataFrame> {
    let america = t
        .read("region")?
        .filter(col("r_name").eq(lit("AMERICA")))?
        .join(&t.read("nation")?, "r_regionkey", "n_regionkey", How::Inner)?;
    let customers = t
        .read("customer")?
        .join(&america, "c_nationkey", "n_nationkey", How::Semi)?;
    let orders = t
        .read("orders")?
        .filter(
            col("o_orderdate")
                .gt_eq(date(1995, 1, 1))
                .and(col("o_orderdate").lt_eq(date(1996, 12, 31))),
        )?
        .join(&customers, "o_custkey", "c_custkey", How::Semi)?;
    let parts = t
        .read("part")?
        .filter(col("p_type").eq(lit("ECONOMY ANODIZED STEEL")))?;
    let suppliers = t.read("supplier")?.join(
        &t.read("nation")?
            .select([col("n_nationkey"), col("n_name").alias("nation")])?,
        "s_nationkey",
        "n_nationkey",
        How::Inner,
    )?;
    let brazil = when(col("nation").eq(lit("BRAZIL")))
        .then(col("volume"))
        .otherwise(lit(0.0));
    t.read("lineitem")?
        .join(&parts, "l_partkey", "p_partkey", How::Semi)?
        .join(&orders, "l_orderkey", "o_orderkey", How::Inner)?
        .join(&suppliers, "l_suppkey", "s_suppkey", How::Inner)?
        .with_columns([
            col("o_orderdate").dt().year().alias("o_year"),
            volume().alias("volume"),
        ])?
        .groupby("o_year")
        .agg([(brazil.sum() / col("volume").sum()).alias("mkt_share")])
}

fn q9(t: &Tables) -> Result<DataFrame> {
    let green = t
        .read("part")?
        .filter(col("p_name").str().contains_literal(lit("green")))?;
    let amount = volume() - col("ps_supplycost") * col("l_quantity");
    t.read("lineitem")?
        .join(&green, "l_partkey", "p_partkey", How::Semi)?
        .join(
            &t.read("partsupp")?,
            ["l_suppkey", "l_partkey"],
            ["ps_suppkey", "ps_partkey"],
            How::Inner,
        )?
        .join(&t.read("supplier")?, "l_suppkey", "s_suppkey", How::Inner)?
        .join(&t.read("orders")?, "l_orderkey", "o_orderkey", How::Inner)?
        .join(&t.read("nation")?, "s_nationkey", "n_nationkey", How::Inner)?
        .with_columns([
            col("n_name").alias("nation"),
            col("o_orderdate").dt().year().alias("o_year"),
            amount.alias("amount"),
        ])?
        .groupby(["nation", "o_year"])
        .agg([col("amount").sum().alias("sum_profit")])?
        .sort_values_with(
            vec!["nation".into(), "o_year".into()],
            vec![false, true],
            true,
            Default::default(),
        )
}

fn q10(t: &Tables) -> Result<DataFrame> {
    let orders = t.read("orders")?.filter(
        col("o_orderdate")
            .gt_eq(date(1993, 10, 1))
            .and(col("o_orderdate").lt(date(1994, 1, 1))),
    )?;
    let returned = t
        .read("lineitem")?
        .filter(col("l_returnflag").eq(lit("R")))?;
    t.read("customer")?
        .join(&orders, "c_custkey", "o_custkey", How::Inner)?
        .join(&returned, "o_orderkey", "l_orderkey", How::Inner)?
        .join(&t.read("nation")?, "c_nationkey", "n_nationkey", How::Inner)?
        .groupby([
            "c_custkey",
            "c_name",
            "c_acctbal",
            "c_phone",
            "n_name",
            "c_address",
            "c_comment",
        ])
        .sort(false)
        .agg([volume().sum().alias("revenue")])?
        .select([
            col("c_custkey"),
            col("c_name"),
            col("revenue"),
            col("c_acctbal"),
            col("n_name"),
            col("c_address"),
            col("c_phone"),
            col("c_comment"),
        ])?
        .sort_head(["revenue"], vec![true], true, 20)
}

fn q11(t: &Tables) -> Result<DataFrame> {
    let germany = t.read("nation")?.filter(col("n_name").eq(lit("GERMANY")))?;
    let suppliers = t
        .read("supplier")?
        .join(&germany, "s_nationkey", "n_nationkey", How::Semi)?;
    t.read("partsupp")?
        .join(&suppliers, "ps_suppkey", "s_suppkey", How::Semi)?
        .groupby("ps_partkey")
        .sort(false)
        .agg([(col("ps_supplycost") * col("ps_availqty"))
            .sum()
            .alias("value")])?
        // A global aggregate inside a filter: planned as a reduction broadcast back.
        .filter(col("value").gt(col("value").sum() * lit(0.0001)))?
        .sort_values_with(vec!["value".into()], vec![true], true, Default::default())
}

fn q12(t: &Tables) -> Result<DataFrame> {
    let high = col("o_orderpriority")
        .eq(lit("1-URGENT"))
        .or(col("o_orderpriority").eq(lit("2-HIGH")));
    t.read("lineitem")?
        .filter(
            col("l_shipmode")
                .is_in(strs(&["MAIL", "SHIP"]), false)
                .and(col("l_commitdate").lt(col("l_receiptdate")))
                .and(col("l_shipdate").lt(col("l_commitdate")))
                .and(col("l_receiptdate").gt_eq(date(1994, 1, 1)))
                .and(col("l_receiptdate").lt(date(1995, 1, 1))),
        )?
        .join(&t.read("orders")?, "l_orderkey", "o_orderkey", How::Inner)?
        .groupby("l_shipmode")
        .agg([
            when(high.clone())
                .then(lit(1))
                .otherwise(lit(0))
                .sum()
                .alias("high_line_count"),
            when(high)
                .then(lit(0))
                .otherwise(lit(1))
                .sum()
                .alias("low_line_count"),
        ])
}

fn q13(t: &Tables) -> Result<DataFrame> {
    let orders = t.read("orders")?.filter(
        col("o_comment")
            .str()
            .contains(lit("special.*requests"), true)
            .not(),
    )?;
    t.read("customer")?
        .join(&orders, "c_custkey", "o_custkey", How::Left)?
        .groupby("c_custkey")
        .sort(false)
        .agg([col("o_orderkey").count().alias("c_count")])?
        .groupby("c_count")
        .agg([len().alias("custdist")])?
        .sort_values_with(
            vec!["custdist".into(), "c_count".into()],
            vec![true, true],
            true,
            Default::default(),
        )
}

fn q14(t: &Tables) -> Result<DataFrame> {
    let promo = when(col("p_type").str().starts_with(lit("PROMO")))
        .then(volume())
        .otherwise(lit(0.0));
    t.read("lineitem")?
        .filter(
            col("l_shipdate")
                .gt_eq(date(1995, 9, 1))
                .and(col("l_shipdate").lt(date(1995, 10, 1))),
        )?
        .join(&t.read("part")?, "l_partkey", "p_partkey", How::Inner)?
        .select([(lit(100.0) * promo.sum() / volume().sum()).alias("promo_revenue")])
}

fn q15(t: &Tables) -> Result<DataFrame> {
    let revenue = t
        .read("lineitem")?
        .filter(
            col("l_shipdate")
                .gt_eq(date(1996, 1, 1))
                .and(col("l_shipdate").lt(date(1996, 4, 1))),
        )?
        .groupby("l_suppkey")
        .sort(false)
        .agg([volume().sum().alias("total_revenue")])?;
    let top = revenue.filter(col("total_revenue").eq(col("total_revenue").max()))?;
    t.read("supplier")?
        .join(&top, "s_suppkey", "l_suppkey", How::Inner)?
        .select([
            col("s_suppkey"),
            col("s_name"),
            col("s_address"),
            col("s_phone"),
            col("total_revenue"),
        ])?
        .sort_values_with(vec!["s_suppkey".into()], asc(1), true, Default::default())
}

fn q16(t: &Tables) -> Result<DataFrame> {
    let complaints = t.read("supplier")?.filter(
        col("s_comment")
            .str()
            .contains(lit("Customer.*Complaints"), true),
    )?;
    let parts = t.read("part")?.filter(
        col("p_brand")
            .neq(lit("Brand#45"))
            .and(
                col("p_type")
                    .str()
                    .starts_with(lit("MEDIUM POLISHED"))
                    .not(),
            )
            .and(col("p_size").is_in(ints(&[49, 14, 23, 45, 19, 3, 36, 9]), false)),
    )?;
    t.read("partsupp")?
        .join(&complaints, "ps_suppkey", "s_suppkey", How::Anti)?
        .join(&parts, "ps_partkey", "p_partkey", How::Inner)?
        .groupby(["p_brand", "p_type", "p_size"])
        .agg([col("ps_suppkey").n_unique().alias("supplier_cnt")])?
        .sort_values_with(
            ["supplier_cnt", "p_brand", "p_type", "p_size"]
                .map(String::from)
                .to_vec(),
            vec![true, false, false, false],
            true,
            Default::default(),
        )
}

fn q17(t: &Tables) -> Result<DataFrame> {
    let parts = t.read("part")?.filter(
        col("p_brand")
            .eq(lit("Brand#23"))
            .and(col("p_container").eq(lit("MED BOX"))),
    )?;
    t.read("lineitem")?
        .join(&parts, "l_partkey", "p_partkey", How::Semi)?
        // Each part's own average quantity: a window of an aggregate.
        .filter(
            col("l_quantity").lt(lit(0.2)
                * col("l_quantity")
                    .mean()
                    .over([col("l_partkey")])
                    .map_err(over_err)?),
        )?
        .select([(col("l_extendedprice").sum() / lit(7.0)).alias("avg_yearly")])
}

fn q18(t: &Tables) -> Result<DataFrame> {
    let lines = t.read("lineitem")?;
    let big = lines
        .groupby("l_orderkey")
        .sort(false)
        .agg([col("l_quantity").sum().alias("total")])?
        .filter(col("total").gt(lit(300.0)))?;
    t.read("orders")?
        .join(&big, "o_orderkey", "l_orderkey", How::Semi)?
        .join(&t.read("customer")?, "o_custkey", "c_custkey", How::Inner)?
        .join(
            &lines.join(&big, "l_orderkey", "l_orderkey", How::Semi)?,
            "o_orderkey",
            "l_orderkey",
            How::Inner,
        )?
        .groupby([
            "c_name",
            "o_custkey",
            "o_orderkey",
            "o_orderdate",
            "o_totalprice",
        ])
        .sort(false)
        .agg([col("l_quantity").sum().alias("sum_qty")])?
        .select([
            col("c_name"),
            col("o_custkey").alias("c_custkey"),
            col("o_orderkey"),
            col("o_orderdate"),
            col("o_totalprice"),
            col("sum_qty"),
        ])?
        .sort_head(
            ["o_totalprice", "o_orderdate"],
            vec![true, false],
            true,
            100,
        )
}

fn q19(t: &Tables) -> Result<DataFrame> {
    let between = |c: &str, lo: f64, hi: f64| col(c).gt_eq(lit(lo)).and(col(c).lt_eq(lit(hi)));
    let case = |brand: &str, containers: &[&str], lo: f64, hi: f64, size: i32| {
        col("p_brand")
            .eq(lit(brand))
            .and(col("p_container").is_in(strs(containers), false))
            .and(between("l_quantity", lo, hi))
            .and(
                col("p_size")
                    .gt_eq(lit(1))
                    .and(col("p_size").lt_eq(lit(size))),
            )
    };
    t.read("lineitem")?
        .filter(
            col("l_shipmode")
                .is_in(strs(&["AIR", "AIR REG"]), false)
                .and(col("l_shipinstruct").eq(lit("DELIVER IN PERSON"))),
        )?
        .join(&t.read("part")?, "l_partkey", "p_partkey", How::Inner)?
        .filter(
            case(
                "Brand#12",
                &["SM CASE", "SM BOX", "SM PACK", "SM PKG"],
                1.0,
                11.0,
                5,
            )
            .or(case(
                "Brand#23",
                &["MED BAG", "MED BOX", "MED PKG", "MED PACK"],
                10.0,
                20.0,
                10,
            ))
            .or(case(
                "Brand#34",
                &["LG CASE", "LG BOX", "LG PACK", "LG PKG"],
                20.0,
                30.0,
                15,
            )),
        )?
        .select([volume().sum().alias("revenue")])
}

fn q20(t: &Tables) -> Result<DataFrame> {
    let forest = t
        .read("part")?
        .filter(col("p_name").str().starts_with(lit("forest")))?;
    let shipped = t
        .read("lineitem")?
        .filter(
            col("l_shipdate")
                .gt_eq(date(1994, 1, 1))
                .and(col("l_shipdate").lt(date(1995, 1, 1))),
        )?
        .groupby(["l_partkey", "l_suppkey"])
        .sort(false)
        .agg([(col("l_quantity").sum() * lit(0.5)).alias("half")])?;
    let available = t
        .read("partsupp")?
        .join(&forest, "ps_partkey", "p_partkey", How::Semi)?
        .join(
            &shipped,
            ["ps_partkey", "ps_suppkey"],
            ["l_partkey", "l_suppkey"],
            How::Inner,
        )?
        .filter(col("ps_availqty").cast(DataType::Float64).gt(col("half")))?;
    let canada = t.read("nation")?.filter(col("n_name").eq(lit("CANADA")))?;
    t.read("supplier")?
        .join(&canada, "s_nationkey", "n_nationkey", How::Semi)?
        .join(&available, "s_suppkey", "ps_suppkey", How::Semi)?
        .select([col("s_name"), col("s_address")])?
        .sort_values_with(vec!["s_name".into()], asc(1), true, Default::default())
}

fn q21(t: &Tables) -> Result<DataFrame> {
    let lines = t.read("lineitem")?.select([
        col("l_orderkey"),
        col("l_suppkey"),
        col("l_receiptdate"),
        col("l_commitdate"),
    ])?;
    let late = lines.filter(col("l_receiptdate").gt(col("l_commitdate")))?;
    // EXISTS another supplier on the order; NOT EXISTS another late one: the order has more
    // than one supplier, and exactly one late supplier (this one).
    let suppliers_per_order = lines
        .groupby("l_orderkey")
        .sort(false)
        .agg([col("l_suppkey").n_unique().alias("n_supp")])?
        .filter(col("n_supp").gt(lit(1)))?;
    let late_per_order = late
        .groupby("l_orderkey")
        .sort(false)
        .agg([col("l_suppkey").n_unique().alias("n_late")])?
        .filter(col("n_late").eq(lit(1)))?;
    let saudi = t
        .read("nation")?
        .filter(col("n_name").eq(lit("SAUDI ARABIA")))?;
    let suppliers = t
        .read("supplier")?
        .join(&saudi, "s_nationkey", "n_nationkey", How::Semi)?;
    let failed = t
        .read("orders")?
        .filter(col("o_orderstatus").eq(lit("F")))?;
    late.join(&suppliers, "l_suppkey", "s_suppkey", How::Inner)?
        .join(&failed, "l_orderkey", "o_orderkey", How::Semi)?
        .join(&suppliers_per_order, "l_orderkey", "l_orderkey", How::Semi)?
        .join(&late_per_order, "l_orderkey", "l_orderkey", How::Semi)?
        .groupby("s_name")
        .agg([len().alias("numwait")])?
        .sort_head(["numwait", "s_name"], vec![true, false], true, 100)
}

fn q22(t: &Tables) -> Result<DataFrame> {
    let codes = strs(&["13", "31", "23", "29", "30", "18", "17"]);
    let customers = t
        .read("customer")?
        .with_columns([col("c_phone")
            .str()
            .slice(lit(0), lit(2))
            .alias("cntrycode")])?
        .filter(col("cntrycode").is_in(codes, false))?;
    // Above the average positive balance: a global aggregate of a filtered column.
    let positive_mean = col("c_acctbal")
        .filter(col("c_acctbal").gt(lit(0.0)))
        .mean();
    customers
        .filter(col("c_acctbal").gt(positive_mean))?
        .join(&t.read("orders")?, "c_custkey", "o_custkey", How::Anti)?
        .groupby("cntrycode")
        .agg([
            len().alias("numcust"),
            col("c_acctbal").sum().alias("totacctbal"),
        ])
}
