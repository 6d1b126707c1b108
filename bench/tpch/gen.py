"""Generate TPC-H data once: tpchgen-cli's Parquet, rewritten as partitioned Parquet with
decimals as float64 (as the Polars and Dask TPC-H benchmarks use them; pandas would hold
decimals as Python objects) and strings as plain strings.

    python bench/tpch/gen.py SCALE_FACTOR OUT_DIR [PARTS]

OUT_DIR/<table>/part-<i>.parquet, PARTS files for the big tables (lineitem, orders,
partsupp, part, customer), one for the rest. A `.done` file marks a finished directory, so a
second call returns at once.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq

TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]
SPLIT = {"lineitem", "orders", "partsupp", "part", "customer"}


def convert(src, dst):
    table = pq.read_table(src)
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_decimal(t):
            t = pa.float64()
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or str(t) == "string_view":
            t = pa.string()
        fields.append(pa.field(f.name, t, nullable=True))
    table = table.cast(pa.schema(fields))
    pq.write_table(table, dst, row_group_size=1 << 20, compression="snappy")


def main():
    sf = sys.argv[1]
    out = sys.argv[2]
    parts = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    if os.path.exists(os.path.join(out, ".done")):
        return
    here = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    tpchgen = here if os.path.exists(here) else shutil.which("tpchgen-cli")
    if tpchgen is None:
        sys.exit("tpchgen-cli is not installed (pip install tpchgen-cli)")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as raw:
        for t in TABLES:
            n = parts if t in SPLIT else 1
            # tpchgen-cli writes <raw>/<t>/<t>.<i>.parquet with --parts, <raw>/<t>.parquet without.
            args = ["-p", str(n)] if n > 1 else []
            subprocess.run(
                [tpchgen, "parquet", "-s", sf, "-T", t, "-o", raw, "-q", *args],
                check=True,
            )
            dst = os.path.join(out, t)
            os.makedirs(dst, exist_ok=True)
            srcs = (
                [os.path.join(raw, t, f"{t}.{i + 1}.parquet") for i in range(n)]
                if n > 1
                else [os.path.join(raw, f"{t}.parquet")]
            )
            for i, src in enumerate(srcs):
                convert(src, os.path.join(dst, f"part-{i:03d}.parquet"))
                os.remove(src)
    open(os.path.join(out, ".done"), "w").close()


if __name__ == "__main__":
    main()
