"""The other tools' side of bench/tpch/run.sh: the 22 TPC-H queries in Polars (Python, the
streaming engine) and in Dask (dask.dataframe with dask-expr, the threaded scheduler), on the
files of bench/tpch/gen.py.

    python bench/tpch/reference.py polars|dask DATA_DIR QUERY [REPEATS]

Prints `seconds=<best> rows=<answer rows> peak_mb=<peak RSS> cpu_s=<CPU of the best run>`.
"""

import datetime as dt
import os
import resource
import sys
import time

D = dt.date


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---- Polars -----------------------------------------------------------------------------


def polars_queries(data):
    import polars as pl

    def t(name):
        return pl.scan_parquet(os.path.join(data, name, "*.parquet"))

    c = pl.col
    vol = c("l_extendedprice") * (1 - c("l_discount"))

    def q1():
        return (
            t("lineitem")
            .filter(c("l_shipdate") <= D(1998, 9, 2))
            .group_by("l_returnflag", "l_linestatus")
            .agg(
                c("l_quantity").sum().alias("sum_qty"),
                c("l_extendedprice").sum().alias("sum_base_price"),
                vol.sum().alias("sum_disc_price"),
                (vol * (1 + c("l_tax"))).sum().alias("sum_charge"),
                c("l_quantity").mean().alias("avg_qty"),
                c("l_extendedprice").mean().alias("avg_price"),
                c("l_discount").mean().alias("avg_disc"),
                pl.len().alias("count_order"),
            )
            .sort("l_returnflag", "l_linestatus")
        )

    def q2():
        europe = (
            t("region").filter(c("r_name") == "EUROPE")
            .join(t("nation"), left_on="r_regionkey", right_on="n_regionkey")
        )
        sup = t("supplier").join(europe, left_on="s_nationkey", right_on="n_nationkey")
        parts = t("part").filter((c("p_size") == 15) & c("p_type").str.ends_with("BRASS"))
        j = (
            parts.join(t("partsupp"), left_on="p_partkey", right_on="ps_partkey")
            .join(sup, left_on="ps_suppkey", right_on="s_suppkey")
        )
        return (
            j.filter(c("ps_supplycost") == c("ps_supplycost").min().over("p_partkey"))
            .select("s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr", "s_address",
                    "s_phone", "s_comment")
            .sort(["s_acctbal", "n_name", "s_name", "p_partkey"],
                  descending=[True, False, False, False])
            .head(100)
        )

    def q3():
        return (
            t("customer").filter(c("c_mktsegment") == "BUILDING")
            .join(t("orders").filter(c("o_orderdate") < D(1995, 3, 15)),
                  left_on="c_custkey", right_on="o_custkey")
            .join(t("lineitem").filter(c("l_shipdate") > D(1995, 3, 15)),
                  left_on="o_orderkey", right_on="l_orderkey")
            .group_by("o_orderkey", "o_orderdate", "o_shippriority")
            .agg(vol.sum().alias("revenue"))
            .select(c("o_orderkey").alias("l_orderkey"), "revenue", "o_orderdate",
                    "o_shippriority")
            .sort(["revenue", "o_orderdate"], descending=[True, False])
            .head(10)
        )

    def q4():
        late = t("lineitem").filter(c("l_commitdate") < c("l_receiptdate"))
        return (
            t("orders").filter(c("o_orderdate").is_between(D(1993, 7, 1), D(1993, 10, 1),
                                                           closed="left"))
            .join(late, left_on="o_orderkey", right_on="l_orderkey", how="semi")
            .group_by("o_orderpriority").agg(pl.len().alias("order_count"))
            .sort("o_orderpriority")
        )

    def q5():
        asia = (t("region").filter(c("r_name") == "ASIA")
                .join(t("nation"), left_on="r_regionkey", right_on="n_regionkey"))
        sup = t("supplier").join(asia, left_on="s_nationkey", right_on="n_nationkey")
        return (
            t("customer")
            .join(t("orders").filter(c("o_orderdate").is_between(D(1994, 1, 1),
                                                                 D(1995, 1, 1), closed="left")),
                  left_on="c_custkey", right_on="o_custkey")
            .join(t("lineitem"), left_on="o_orderkey", right_on="l_orderkey")
            .join(sup, left_on=["l_suppkey", "c_nationkey"],
                  right_on=["s_suppkey", "s_nationkey"])
            .group_by("n_name").agg(vol.sum().alias("revenue"))
            .sort("revenue", descending=True)
        )

    def q6():
        return (
            t("lineitem")
            .filter(c("l_shipdate").is_between(D(1994, 1, 1), D(1995, 1, 1), closed="left")
                    & c("l_discount").is_between(0.05, 0.07) & (c("l_quantity") < 24))
            .select((c("l_extendedprice") * c("l_discount")).sum().alias("revenue"))
        )

    def q7():
        n = t("nation").filter(c("n_name").is_in(["FRANCE", "GERMANY"])).select(
            "n_nationkey", "n_name")
        sup = t("supplier").join(n, left_on="s_nationkey", right_on="n_nationkey").rename(
            {"n_name": "supp_nation"})
        cus = t("customer").join(n, left_on="c_nationkey", right_on="n_nationkey").rename(
            {"n_name": "cust_nation"})
        return (
            t("lineitem").filter(c("l_shipdate").is_between(D(1995, 1, 1), D(1996, 12, 31)))
            .join(sup, left_on="l_suppkey", right_on="s_suppkey")
            .join(t("orders"), left_on="l_orderkey", right_on="o_orderkey")
            .join(cus, left_on="o_custkey", right_on="c_custkey")
            .filter(c("supp_nation") != c("cust_nation"))
            .with_columns(c("l_shipdate").dt.year().alias("l_year"), vol.alias("volume"))
            .group_by("supp_nation", "cust_nation", "l_year")
            .agg(c("volume").sum().alias("revenue"))
            .sort("supp_nation", "cust_nation", "l_year")
        )

    def q8():
        america = (t("region").filter(c("r_name") == "AMERICA")
                   .join(t("nation"), left_on="r_regionkey", right_on="n_regionkey"))
        cus = t("customer").join(america, left_on="c_nationkey", right_on="n_nationkey",
                                 how="semi")
        orders = (t("orders").filter(c("o_orderdate").is_between(D(1995, 1, 1),
                                                                  D(1996, 12, 31)))
                  .join(cus, left_on="o_custkey", right_on="c_custkey", how="semi"))
        parts = t("part").filter(c("p_type") == "ECONOMY ANODIZED STEEL")
        sup = t("supplier").join(t("nation").select("n_nationkey", c("n_name").alias("nation")),
                                 left_on="s_nationkey", right_on="n_nationkey")
        return (
            t("lineitem").join(parts, left_on="l_partkey", right_on="p_partkey", how="semi")
            .join(orders, left_on="l_orderkey", right_on="o_orderkey")
            .join(sup, left_on="l_suppkey", right_on="s_suppkey")
            .with_columns(c("o_orderdate").dt.year().alias("o_year"), vol.alias("volume"))
            .group_by("o_year")
            .agg((pl.when(c("nation") == "BRAZIL").then(c("volume")).otherwise(0.0).sum()
                  / c("volume").sum()).alias("mkt_share"))
            .sort("o_year")
        )

    def q9():
        green = t("part").filter(c("p_name").str.contains("green", literal=True))
        return (
            t("lineitem").join(green, left_on="l_partkey", right_on="p_partkey", how="semi")
            .join(t("partsupp"), left_on=["l_suppkey", "l_partkey"],
                  right_on=["ps_suppkey", "ps_partkey"])
            .join(t("supplier"), left_on="l_suppkey", right_on="s_suppkey")
            .join(t("orders"), left_on="l_orderkey", right_on="o_orderkey")
            .join(t("nation"), left_on="s_nationkey", right_on="n_nationkey")
            .with_columns(c("n_name").alias("nation"), c("o_orderdate").dt.year().alias("o_year"),
                          (vol - c("ps_supplycost") * c("l_quantity")).alias("amount"))
            .group_by("nation", "o_year").agg(c("amount").sum().alias("sum_profit"))
            .sort(["nation", "o_year"], descending=[False, True])
        )

    def q10():
        return (
            t("customer")
            .join(t("orders").filter(c("o_orderdate").is_between(D(1993, 10, 1),
                                                                 D(1994, 1, 1), closed="left")),
                  left_on="c_custkey", right_on="o_custkey")
            .join(t("lineitem").filter(c("l_returnflag") == "R"),
                  left_on="o_orderkey", right_on="l_orderkey")
            .join(t("nation"), left_on="c_nationkey", right_on="n_nationkey")
            .group_by("c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address",
                      "c_comment")
            .agg(vol.sum().alias("revenue"))
            .select("c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address",
                    "c_phone", "c_comment")
            .sort("revenue", descending=True).head(20)
        )

    def q11():
        sup = t("supplier").join(t("nation").filter(c("n_name") == "GERMANY"),
                                 left_on="s_nationkey", right_on="n_nationkey", how="semi")
        g = (t("partsupp").join(sup, left_on="ps_suppkey", right_on="s_suppkey", how="semi")
             .group_by("ps_partkey")
             .agg((c("ps_supplycost") * c("ps_availqty")).sum().alias("value")))
        return g.filter(c("value") > c("value").sum() * 0.0001).sort("value", descending=True)

    def q12():
        high = c("o_orderpriority").is_in(["1-URGENT", "2-HIGH"])
        return (
            t("lineitem")
            .filter(c("l_shipmode").is_in(["MAIL", "SHIP"])
                    & (c("l_commitdate") < c("l_receiptdate"))
                    & (c("l_shipdate") < c("l_commitdate"))
                    & c("l_receiptdate").is_between(D(1994, 1, 1), D(1995, 1, 1),
                                                    closed="left"))
            .join(t("orders"), left_on="l_orderkey", right_on="o_orderkey")
            .group_by("l_shipmode")
            .agg(pl.when(high).then(1).otherwise(0).sum().alias("high_line_count"),
                 pl.when(high).then(0).otherwise(1).sum().alias("low_line_count"))
            .sort("l_shipmode")
        )

    def q13():
        orders = t("orders").filter(~c("o_comment").str.contains("special.*requests"))
        return (
            t("customer").join(orders, left_on="c_custkey", right_on="o_custkey", how="left")
            .group_by("c_custkey").agg(c("o_orderkey").count().alias("c_count"))
            .group_by("c_count").agg(pl.len().alias("custdist"))
            .sort(["custdist", "c_count"], descending=[True, True])
        )

    def q14():
        promo = pl.when(c("p_type").str.starts_with("PROMO")).then(vol).otherwise(0.0)
        return (
            t("lineitem").filter(c("l_shipdate").is_between(D(1995, 9, 1), D(1995, 10, 1),
                                                            closed="left"))
            .join(t("part"), left_on="l_partkey", right_on="p_partkey")
            .select((100.0 * promo.sum() / vol.sum()).alias("promo_revenue"))
        )

    def q15():
        rev = (t("lineitem").filter(c("l_shipdate").is_between(D(1996, 1, 1), D(1996, 4, 1),
                                                               closed="left"))
               .group_by("l_suppkey").agg(vol.sum().alias("total_revenue")))
        top = rev.filter(c("total_revenue") == c("total_revenue").max())
        return (
            t("supplier").join(top, left_on="s_suppkey", right_on="l_suppkey")
            .select("s_suppkey", "s_name", "s_address", "s_phone", "total_revenue")
            .sort("s_suppkey")
        )

    def q16():
        bad = t("supplier").filter(c("s_comment").str.contains("Customer.*Complaints"))
        parts = t("part").filter((c("p_brand") != "Brand#45")
                                 & ~c("p_type").str.starts_with("MEDIUM POLISHED")
                                 & c("p_size").is_in([49, 14, 23, 45, 19, 3, 36, 9]))
        return (
            t("partsupp").join(bad, left_on="ps_suppkey", right_on="s_suppkey", how="anti")
            .join(parts, left_on="ps_partkey", right_on="p_partkey")
            .group_by("p_brand", "p_type", "p_size")
            .agg(c("ps_suppkey").n_unique().alias("supplier_cnt"))
            .sort(["supplier_cnt", "p_brand", "p_type", "p_size"],
                  descending=[True, False, False, False])
        )

    def q17():
        parts = t("part").filter((c("p_brand") == "Brand#23") & (c("p_container") == "MED BOX"))
        return (
            t("lineitem").join(parts, left_on="l_partkey", right_on="p_partkey", how="semi")
            .filter(c("l_quantity") < 0.2 * c("l_quantity").mean().over("l_partkey"))
            .select((c("l_extendedprice").sum() / 7.0).alias("avg_yearly"))
        )

    def q18():
        big = (t("lineitem").group_by("l_orderkey").agg(c("l_quantity").sum().alias("total"))
               .filter(c("total") > 300))
        return (
            t("orders").join(big, left_on="o_orderkey", right_on="l_orderkey", how="semi")
            .join(t("customer"), left_on="o_custkey", right_on="c_custkey")
            .join(t("lineitem"), left_on="o_orderkey", right_on="l_orderkey")
            .group_by("c_name", "o_custkey", "o_orderkey", "o_orderdate", "o_totalprice")
            .agg(c("l_quantity").sum().alias("sum_qty"))
            .select("c_name", c("o_custkey").alias("c_custkey"), "o_orderkey", "o_orderdate",
                    "o_totalprice", "sum_qty")
            .sort(["o_totalprice", "o_orderdate"], descending=[True, False]).head(100)
        )

    def q19():
        def case(brand, containers, lo, hi, size):
            return ((c("p_brand") == brand) & c("p_container").is_in(containers)
                    & c("l_quantity").is_between(lo, hi) & c("p_size").is_between(1, size))
        return (
            t("lineitem").filter(c("l_shipmode").is_in(["AIR", "AIR REG"])
                                 & (c("l_shipinstruct") == "DELIVER IN PERSON"))
            .join(t("part"), left_on="l_partkey", right_on="p_partkey")
            .filter(case("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 11, 5)
                    | case("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 20, 10)
                    | case("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 30, 15))
            .select(vol.sum().alias("revenue"))
        )

    def q20():
        forest = t("part").filter(c("p_name").str.starts_with("forest"))
        shipped = (t("lineitem").filter(c("l_shipdate").is_between(D(1994, 1, 1), D(1995, 1, 1),
                                                                   closed="left"))
                   .group_by("l_partkey", "l_suppkey")
                   .agg((c("l_quantity").sum() * 0.5).alias("half")))
        avail = (t("partsupp").join(forest, left_on="ps_partkey", right_on="p_partkey",
                                    how="semi")
                 .join(shipped, left_on=["ps_partkey", "ps_suppkey"],
                       right_on=["l_partkey", "l_suppkey"])
                 .filter(c("ps_availqty") > c("half")))
        return (
            t("supplier").join(t("nation").filter(c("n_name") == "CANADA"),
                               left_on="s_nationkey", right_on="n_nationkey", how="semi")
            .join(avail, left_on="s_suppkey", right_on="ps_suppkey", how="semi")
            .select("s_name", "s_address").sort("s_name")
        )

    def q21():
        lines = t("lineitem").select("l_orderkey", "l_suppkey", "l_receiptdate", "l_commitdate")
        late = lines.filter(c("l_receiptdate") > c("l_commitdate"))
        multi = (lines.group_by("l_orderkey").agg(c("l_suppkey").n_unique().alias("n"))
                 .filter(c("n") > 1))
        one_late = (late.group_by("l_orderkey").agg(c("l_suppkey").n_unique().alias("n"))
                    .filter(c("n") == 1))
        sup = t("supplier").join(t("nation").filter(c("n_name") == "SAUDI ARABIA"),
                                 left_on="s_nationkey", right_on="n_nationkey", how="semi")
        return (
            late.join(sup, left_on="l_suppkey", right_on="s_suppkey")
            .join(t("orders").filter(c("o_orderstatus") == "F"), left_on="l_orderkey",
                  right_on="o_orderkey", how="semi")
            .join(multi, on="l_orderkey", how="semi")
            .join(one_late, on="l_orderkey", how="semi")
            .group_by("s_name").agg(pl.len().alias("numwait"))
            .sort(["numwait", "s_name"], descending=[True, False]).head(100)
        )

    def q22():
        cus = (t("customer").with_columns(c("c_phone").str.slice(0, 2).alias("cntrycode"))
               .filter(c("cntrycode").is_in(["13", "31", "23", "29", "30", "18", "17"])))
        avg = c("c_acctbal").filter(c("c_acctbal") > 0.0).mean()
        return (
            cus.filter(c("c_acctbal") > avg)
            .join(t("orders"), left_on="c_custkey", right_on="o_custkey", how="anti")
            .group_by("cntrycode")
            .agg(pl.len().alias("numcust"), c("c_acctbal").sum().alias("totacctbal"))
            .sort("cntrycode")
        )

    qs = {i: f for i, f in enumerate(
        [q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, q13, q14, q15, q16, q17, q18, q19,
         q20, q21, q22], start=1)}
    return lambda n: qs[n]().collect(engine="streaming")


# ---- Dask -------------------------------------------------------------------------------


def dask_queries(data):
    import dask
    import dask.dataframe as dd
    import pandas as pd

    dask.config.set(scheduler="threads")

    def t(name):
        return dd.read_parquet(os.path.join(data, name))

    def ts(y, m, d):
        return pd.Timestamp(y, m, d)

    def dates(df, *cols):
        for col in cols:
            df[col] = dd.to_datetime(df[col])
        return df

    def vol(df):
        return df.l_extendedprice * (1 - df.l_discount)

    def q1():
        li = dates(t("lineitem"), "l_shipdate")
        li = li[li.l_shipdate <= ts(1998, 9, 2)]
        li["disc_price"] = vol(li)
        li["charge"] = li.disc_price * (1 + li.l_tax)
        return (li.groupby(["l_returnflag", "l_linestatus"])
                .agg(sum_qty=("l_quantity", "sum"), sum_base_price=("l_extendedprice", "sum"),
                     sum_disc_price=("disc_price", "sum"), sum_charge=("charge", "sum"),
                     avg_qty=("l_quantity", "mean"), avg_price=("l_extendedprice", "mean"),
                     avg_disc=("l_discount", "mean"), count_order=("l_quantity", "size"))
                .reset_index().sort_values(["l_returnflag", "l_linestatus"]))

    def q2():
        region, nation = t("region"), t("nation")
        eu = region[region.r_name == "EUROPE"].merge(nation, left_on="r_regionkey",
                                                     right_on="n_regionkey")
        sup = t("supplier").merge(eu, left_on="s_nationkey", right_on="n_nationkey")
        part = t("part")
        part = part[(part.p_size == 15) & part.p_type.str.endswith("BRASS")]
        j = (part.merge(t("partsupp"), left_on="p_partkey", right_on="ps_partkey")
             .merge(sup, left_on="ps_suppkey", right_on="s_suppkey"))
        mins = j.groupby("p_partkey").ps_supplycost.min().reset_index().rename(
            columns={"ps_supplycost": "min_cost"})
        j = j.merge(mins, on="p_partkey")
        j = j[j.ps_supplycost == j.min_cost]
        return (j[["s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr", "s_address",
                   "s_phone", "s_comment"]]
                .sort_values(["s_acctbal", "n_name", "s_name", "p_partkey"],
                             ascending=[False, True, True, True]).head(100, npartitions=-1))

    def q3():
        c, o, li = t("customer"), dates(t("orders"), "o_orderdate"), dates(t("lineitem"),
                                                                          "l_shipdate")
        c = c[c.c_mktsegment == "BUILDING"]
        o = o[o.o_orderdate < ts(1995, 3, 15)]
        li = li[li.l_shipdate > ts(1995, 3, 15)]
        j = c.merge(o, left_on="c_custkey", right_on="o_custkey").merge(
            li, left_on="o_orderkey", right_on="l_orderkey")
        j["revenue"] = vol(j)
        g = j.groupby(["l_orderkey", "o_orderdate", "o_shippriority"]).revenue.sum().reset_index()
        return (g[["l_orderkey", "revenue", "o_orderdate", "o_shippriority"]]
                .sort_values(["revenue", "o_orderdate"], ascending=[False, True])
                .head(10, npartitions=-1))

    def q4():
        o, li = dates(t("orders"), "o_orderdate"), dates(t("lineitem"), "l_commitdate",
                                                         "l_receiptdate")
        o = o[(o.o_orderdate >= ts(1993, 7, 1)) & (o.o_orderdate < ts(1993, 10, 1))]
        late = li[li.l_commitdate < li.l_receiptdate][["l_orderkey"]].drop_duplicates()
        j = o.merge(late, left_on="o_orderkey", right_on="l_orderkey")
        return (j.groupby("o_orderpriority").size().rename("order_count").reset_index()
                .sort_values("o_orderpriority"))

    def q5():
        region, nation = t("region"), t("nation")
        asia = region[region.r_name == "ASIA"].merge(nation, left_on="r_regionkey",
                                                     right_on="n_regionkey")
        sup = t("supplier").merge(asia, left_on="s_nationkey", right_on="n_nationkey")
        o = dates(t("orders"), "o_orderdate")
        o = o[(o.o_orderdate >= ts(1994, 1, 1)) & (o.o_orderdate < ts(1995, 1, 1))]
        j = (t("customer").merge(o, left_on="c_custkey", right_on="o_custkey")
             .merge(t("lineitem"), left_on="o_orderkey", right_on="l_orderkey")
             .merge(sup, left_on=["l_suppkey", "c_nationkey"],
                    right_on=["s_suppkey", "s_nationkey"]))
        j["revenue"] = vol(j)
        return (j.groupby("n_name").revenue.sum().reset_index()
                .sort_values("revenue", ascending=False))

    def q6():
        li = dates(t("lineitem"), "l_shipdate")
        li = li[(li.l_shipdate >= ts(1994, 1, 1)) & (li.l_shipdate < ts(1995, 1, 1))
                & (li.l_discount >= 0.05) & (li.l_discount <= 0.07) & (li.l_quantity < 24)]
        return (li.l_extendedprice * li.l_discount).sum()

    def q7():
        n = t("nation")
        n = n[n.n_name.isin(["FRANCE", "GERMANY"])][["n_nationkey", "n_name"]]
        sup = t("supplier").merge(n, left_on="s_nationkey", right_on="n_nationkey").rename(
            columns={"n_name": "supp_nation"})
        cus = t("customer").merge(n, left_on="c_nationkey", right_on="n_nationkey").rename(
            columns={"n_name": "cust_nation"})
        li = dates(t("lineitem"), "l_shipdate")
        li = li[(li.l_shipdate >= ts(1995, 1, 1)) & (li.l_shipdate <= ts(1996, 12, 31))]
        j = (li.merge(sup, left_on="l_suppkey", right_on="s_suppkey")
             .merge(t("orders"), left_on="l_orderkey", right_on="o_orderkey")
             .merge(cus, left_on="o_custkey", right_on="c_custkey"))
        j = j[j.supp_nation != j.cust_nation]
        j["l_year"] = j.l_shipdate.dt.year
        j["volume"] = vol(j)
        return (j.groupby(["supp_nation", "cust_nation", "l_year"]).volume.sum()
                .rename("revenue").reset_index()
                .sort_values(["supp_nation", "cust_nation", "l_year"]))

    def q8():
        region, nation = t("region"), t("nation")
        am = region[region.r_name == "AMERICA"].merge(nation, left_on="r_regionkey",
                                                      right_on="n_regionkey")[["n_nationkey"]]
        cus = t("customer").merge(am, left_on="c_nationkey", right_on="n_nationkey")[
            ["c_custkey"]]
        o = dates(t("orders"), "o_orderdate")
        o = o[(o.o_orderdate >= ts(1995, 1, 1)) & (o.o_orderdate <= ts(1996, 12, 31))]
        o = o.merge(cus, left_on="o_custkey", right_on="c_custkey")
        p = t("part")
        p = p[p.p_type == "ECONOMY ANODIZED STEEL"][["p_partkey"]]
        sup = t("supplier").merge(nation[["n_nationkey", "n_name"]], left_on="s_nationkey",
                                  right_on="n_nationkey").rename(columns={"n_name": "nation"})
        j = (t("lineitem").merge(p, left_on="l_partkey", right_on="p_partkey")
             .merge(o, left_on="l_orderkey", right_on="o_orderkey")
             .merge(sup, left_on="l_suppkey", right_on="s_suppkey"))
        j["o_year"] = j.o_orderdate.dt.year
        j["volume"] = vol(j)
        j["brazil"] = j.volume.where(j.nation == "BRAZIL", 0.0)
        g = j.groupby("o_year")[["brazil", "volume"]].sum()
        g["mkt_share"] = g.brazil / g.volume
        return g[["mkt_share"]].reset_index().sort_values("o_year")

    def q9():
        p = t("part")
        p = p[p.p_name.str.contains("green", regex=False)][["p_partkey"]]
        j = (t("lineitem").merge(p, left_on="l_partkey", right_on="p_partkey")
             .merge(t("partsupp"), left_on=["l_suppkey", "l_partkey"],
                    right_on=["ps_suppkey", "ps_partkey"])
             .merge(t("supplier"), left_on="l_suppkey", right_on="s_suppkey")
             .merge(dates(t("orders"), "o_orderdate"), left_on="l_orderkey",
                    right_on="o_orderkey")
             .merge(t("nation"), left_on="s_nationkey", right_on="n_nationkey"))
        j["nation"] = j.n_name
        j["o_year"] = j.o_orderdate.dt.year
        j["amount"] = vol(j) - j.ps_supplycost * j.l_quantity
        return (j.groupby(["nation", "o_year"]).amount.sum().rename("sum_profit").reset_index()
                .sort_values(["nation", "o_year"], ascending=[True, False]))

    def q10():
        o = dates(t("orders"), "o_orderdate")
        o = o[(o.o_orderdate >= ts(1993, 10, 1)) & (o.o_orderdate < ts(1994, 1, 1))]
        li = t("lineitem")
        li = li[li.l_returnflag == "R"]
        j = (t("customer").merge(o, left_on="c_custkey", right_on="o_custkey")
             .merge(li, left_on="o_orderkey", right_on="l_orderkey")
             .merge(t("nation"), left_on="c_nationkey", right_on="n_nationkey"))
        j["revenue"] = vol(j)
        g = (j.groupby(["c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address",
                        "c_comment"]).revenue.sum().reset_index())
        return (g[["c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address",
                   "c_phone", "c_comment"]]
                .sort_values("revenue", ascending=False).head(20, npartitions=-1))

    def q11():
        n = t("nation")
        sup = t("supplier").merge(n[n.n_name == "GERMANY"], left_on="s_nationkey",
                                  right_on="n_nationkey")[["s_suppkey"]]
        ps = t("partsupp").merge(sup, left_on="ps_suppkey", right_on="s_suppkey")
        ps["value"] = ps.ps_supplycost * ps.ps_availqty
        g = ps.groupby("ps_partkey").value.sum().reset_index()
        total = g.value.sum() * 0.0001
        return g[g.value > total].sort_values("value", ascending=False)

    def q12():
        li = dates(t("lineitem"), "l_shipdate", "l_commitdate", "l_receiptdate")
        li = li[li.l_shipmode.isin(["MAIL", "SHIP"]) & (li.l_commitdate < li.l_receiptdate)
                & (li.l_shipdate < li.l_commitdate) & (li.l_receiptdate >= ts(1994, 1, 1))
                & (li.l_receiptdate < ts(1995, 1, 1))]
        j = li.merge(t("orders"), left_on="l_orderkey", right_on="o_orderkey")
        high = j.o_orderpriority.isin(["1-URGENT", "2-HIGH"])
        j["high_line_count"] = high.astype("int64")
        j["low_line_count"] = (~high).astype("int64")
        return (j.groupby("l_shipmode")[["high_line_count", "low_line_count"]].sum()
                .reset_index().sort_values("l_shipmode"))

    def q13():
        o = t("orders")
        o = o[~o.o_comment.str.contains("special.*requests")]
        j = t("customer").merge(o, left_on="c_custkey", right_on="o_custkey", how="left")
        g = j.groupby("c_custkey").o_orderkey.count().rename("c_count").reset_index()
        return (g.groupby("c_count").size().rename("custdist").reset_index()
                .sort_values(["custdist", "c_count"], ascending=[False, False]))

    def q14():
        li = dates(t("lineitem"), "l_shipdate")
        li = li[(li.l_shipdate >= ts(1995, 9, 1)) & (li.l_shipdate < ts(1995, 10, 1))]
        j = li.merge(t("part"), left_on="l_partkey", right_on="p_partkey")
        v = vol(j)
        promo = v.where(j.p_type.str.startswith("PROMO"), 0.0)
        return (100.0 * promo.sum() / v.sum())

    def q15():
        li = dates(t("lineitem"), "l_shipdate")
        li = li[(li.l_shipdate >= ts(1996, 1, 1)) & (li.l_shipdate < ts(1996, 4, 1))]
        li["total_revenue"] = vol(li)
        rev = li.groupby("l_suppkey").total_revenue.sum().reset_index()
        top = rev[rev.total_revenue == rev.total_revenue.max()]
        j = t("supplier").merge(top, left_on="s_suppkey", right_on="l_suppkey")
        return j[["s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"]].sort_values(
            "s_suppkey")

    def q16():
        s = t("supplier")
        bad = s[s.s_comment.str.contains("Customer.*Complaints")][["s_suppkey"]]
        p = t("part")
        p = p[(p.p_brand != "Brand#45") & ~p.p_type.str.startswith("MEDIUM POLISHED")
              & p.p_size.isin([49, 14, 23, 45, 19, 3, 36, 9])]
        ps = t("partsupp").merge(bad, left_on="ps_suppkey", right_on="s_suppkey", how="left",
                                 indicator=True)
        ps = ps[ps._merge == "left_only"]
        j = ps.merge(p, left_on="ps_partkey", right_on="p_partkey")
        return (j.groupby(["p_brand", "p_type", "p_size"]).ps_suppkey.nunique()
                .rename("supplier_cnt").reset_index()
                .sort_values(["supplier_cnt", "p_brand", "p_type", "p_size"],
                             ascending=[False, True, True, True]))

    def q17():
        p = t("part")
        p = p[(p.p_brand == "Brand#23") & (p.p_container == "MED BOX")][["p_partkey"]]
        li = t("lineitem").merge(p, left_on="l_partkey", right_on="p_partkey")
        avg = li.groupby("l_partkey").l_quantity.mean().rename("avg_q").reset_index()
        j = li.merge(avg, on="l_partkey")
        j = j[j.l_quantity < 0.2 * j.avg_q]
        return (j.l_extendedprice.sum() / 7.0)

    def q18():
        li = t("lineitem")
        big = li.groupby("l_orderkey").l_quantity.sum().reset_index()
        big = big[big.l_quantity > 300][["l_orderkey"]]
        j = (t("orders").merge(big, left_on="o_orderkey", right_on="l_orderkey")
             .merge(t("customer"), left_on="o_custkey", right_on="c_custkey")
             .merge(li.merge(big, on="l_orderkey"), left_on="o_orderkey",
                    right_on="l_orderkey"))
        g = (j.groupby(["c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice"])
             .l_quantity.sum().rename("sum_qty").reset_index())
        return g.sort_values(["o_totalprice", "o_orderdate"], ascending=[False, True]).head(
            100, npartitions=-1)

    def q19():
        li = t("lineitem")
        li = li[li.l_shipmode.isin(["AIR", "AIR REG"])
                & (li.l_shipinstruct == "DELIVER IN PERSON")]
        j = li.merge(t("part"), left_on="l_partkey", right_on="p_partkey")

        def case(brand, containers, lo, hi, size):
            return ((j.p_brand == brand) & j.p_container.isin(containers)
                    & (j.l_quantity >= lo) & (j.l_quantity <= hi)
                    & (j.p_size >= 1) & (j.p_size <= size))
        j = j[case("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 11, 5)
              | case("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 20, 10)
              | case("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 30, 15)]
        return vol(j).sum()

    def q20():
        p = t("part")
        forest = p[p.p_name.str.startswith("forest")][["p_partkey"]]
        li = dates(t("lineitem"), "l_shipdate")
        li = li[(li.l_shipdate >= ts(1994, 1, 1)) & (li.l_shipdate < ts(1995, 1, 1))]
        shipped = li.groupby(["l_partkey", "l_suppkey"]).l_quantity.sum().reset_index()
        shipped["half"] = shipped.l_quantity * 0.5
        ps = (t("partsupp").merge(forest, left_on="ps_partkey", right_on="p_partkey")
              .merge(shipped, left_on=["ps_partkey", "ps_suppkey"],
                     right_on=["l_partkey", "l_suppkey"]))
        ps = ps[ps.ps_availqty > ps.half][["ps_suppkey"]].drop_duplicates()
        n = t("nation")
        s = t("supplier").merge(n[n.n_name == "CANADA"], left_on="s_nationkey",
                                right_on="n_nationkey")
        j = s.merge(ps, left_on="s_suppkey", right_on="ps_suppkey")
        return j[["s_name", "s_address"]].sort_values("s_name")

    def q21():
        li = dates(t("lineitem")[["l_orderkey", "l_suppkey", "l_receiptdate", "l_commitdate"]],
                   "l_receiptdate", "l_commitdate")
        late = li[li.l_receiptdate > li.l_commitdate]
        multi = li.groupby("l_orderkey").l_suppkey.nunique().rename("n").reset_index()
        multi = multi[multi.n > 1][["l_orderkey"]]
        one = late.groupby("l_orderkey").l_suppkey.nunique().rename("n").reset_index()
        one = one[one.n == 1][["l_orderkey"]]
        n = t("nation")
        s = t("supplier").merge(n[n.n_name == "SAUDI ARABIA"], left_on="s_nationkey",
                                right_on="n_nationkey")[["s_suppkey", "s_name"]]
        o = t("orders")
        o = o[o.o_orderstatus == "F"][["o_orderkey"]]
        j = (late.merge(s, left_on="l_suppkey", right_on="s_suppkey")
             .merge(o, left_on="l_orderkey", right_on="o_orderkey")
             .merge(multi, on="l_orderkey").merge(one, on="l_orderkey"))
        return (j.groupby("s_name").size().rename("numwait").reset_index()
                .sort_values(["numwait", "s_name"], ascending=[False, True])
                .head(100, npartitions=-1))

    def q22():
        c = t("customer")
        c["cntrycode"] = c.c_phone.str.slice(0, 2)
        c = c[c.cntrycode.isin(["13", "31", "23", "29", "30", "18", "17"])]
        avg = c[c.c_acctbal > 0.0].c_acctbal.mean()
        c = c[c.c_acctbal > avg]
        o = t("orders")[["o_custkey"]].drop_duplicates()
        j = c.merge(o, left_on="c_custkey", right_on="o_custkey", how="left", indicator=True)
        j = j[j._merge == "left_only"]
        return (j.groupby("cntrycode").agg(numcust=("c_custkey", "size"),
                                            totacctbal=("c_acctbal", "sum"))
                .reset_index().sort_values("cntrycode"))

    qs = {i: f for i, f in enumerate(
        [q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, q13, q14, q15, q16, q17, q18, q19,
         q20, q21, q22], start=1)}

    def run(n):
        out = qs[n]()
        out = out.compute() if hasattr(out, "compute") else out
        # Queries answering one number (q6, q14, q17, q19) give a scalar: one row.
        return out if hasattr(out, "__len__") else pd.DataFrame({"answer": [out]})

    return run


def main():
    tool, data, q = sys.argv[1], sys.argv[2], int(sys.argv[3].lstrip("q"))
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    run = polars_queries(data) if tool == "polars" else dask_queries(data)
    best = (float("inf"), 0, 0.0)
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), cpu()
        out = run(q)
        secs = time.perf_counter() - t0
        if secs < best[0]:
            best = (secs, len(out), cpu() - c0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"seconds={best[0]:.4f} rows={best[1]} peak_mb={peak:.0f} cpu_s={best[2]:.2f}")


if __name__ == "__main__":
    main()
