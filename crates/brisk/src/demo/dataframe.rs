//! The talk's dataframe example in `brisk demo`:
//! `read_csv("2015-*-*.csv").groupby("user_id").value.mean()`, on generated files.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use brisk_dataframe::polars::prelude::{
    CsvWriter, DataFrame as PlFrame, NamedFrom, SerWriter, Series, col, lit,
};
use brisk_dataframe::{Agg, read_csv};

use brisk::Collection;

const FILES: usize = 20;
const ROWS: usize = 25_000;
const USERS: u64 = 10_000;

fn fmt_time(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Write the day files `2015-01-DD.csv` (user_id, value, name, timestamp) into `dir`.
fn generate(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let names = [
        "alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi",
    ];
    for day in 1..=FILES {
        let mut s = day as u64;
        let mut uid = Vec::with_capacity(ROWS);
        let mut val = Vec::with_capacity(ROWS);
        let mut name = Vec::with_capacity(ROWS);
        let mut ts = Vec::with_capacity(ROWS);
        for i in 0..ROWS {
            uid.push(1 + (splitmix(&mut s) % USERS) as i64);
            val.push((splitmix(&mut s) >> 11) as f64 / (1u64 << 53) as f64 * 100.0);
            name.push(names[(splitmix(&mut s) % 8) as usize]);
            let sec = (i * 86_400) / ROWS;
            ts.push(format!(
                "2015-01-{day:02} {:02}:{:02}:{:02}",
                sec / 3600,
                (sec / 60) % 60,
                sec % 60
            ));
        }
        let mut df = PlFrame::new_infer_height(vec![
            Series::new("user_id".into(), uid).into(),
            Series::new("value".into(), val).into(),
            Series::new("name".into(), name).into(),
            Series::new("timestamp".into(), ts).into(),
        ])?;
        let mut f = std::fs::File::create(dir.join(format!("2015-01-{day:02}.csv")))?;
        CsvWriter::new(&mut f).finish(&mut df)?;
    }
    Ok(())
}

/// Run the dataframe examples, printing to `out` and writing data and pictures under
/// `pictures`.
pub fn run(out: &mut dyn Write, pictures: &Path) -> anyhow::Result<()> {
    writeln!(
        out,
        "7. Dataframes: partitioned Polars frames (the talk's dask.dataframe example)"
    )?;
    let data = pictures.join("dataframe-data");
    let t = Instant::now();
    generate(&data)?;
    writeln!(
        out,
        "   generated {FILES} files × {ROWS} rows in {} [{}]",
        data.display(),
        fmt_time(t.elapsed())
    )?;

    let pattern = data.join("2015-*-*.csv");
    let pattern = pattern.to_string_lossy();
    // The talk: read_csv("2015-*-*.csv").groupby("user_id").value.mean()
    let df = read_csv(pattern.as_ref())?;
    let means = df.groupby("user_id").col("value").mean()?;
    writeln!(
        out,
        "   df = read_csv(\"2015-*-*.csv\")          # {} partitions, nothing read yet",
        df.npartitions()
    )?;
    writeln!(
        out,
        "   means = df.groupby(\"user_id\").col(\"value\").mean()?"
    )?;
    writeln!(out, "   optimized plan (only user_id and value are read):")?;
    for line in means.explain().lines() {
        writeln!(out, "     {line}")?;
    }
    let t = Instant::now();
    let result = means.compute()?;
    let elapsed = t.elapsed();
    writeln!(
        out,
        "   means.compute()?                          = {} groups, first {:?} [{}]",
        result.height(),
        result
            .head(Some(1))
            .get_row(0)
            .map(|r| r.0.iter().map(|v| v.to_string()).collect::<Vec<_>>())
            .unwrap_or_default(),
        fmt_time(elapsed)
    )?;
    let pic = match means.visualize(pictures.join("dataframe-groupby.svg")) {
        Ok(p) => p,
        Err(brisk::Error::Tool { .. }) => {
            means.visualize(pictures.join("dataframe-groupby.dot"))?
        }
        Err(e) => return Err(e.into()),
    };
    writeln!(out, "   picture of the graph: {}", pic.display())?;

    let t = Instant::now();
    let busy = df
        .filter(col("value").gt(lit(50.0)))?
        .groupby("name")
        .agg([
            Agg::mean("value"),
            Agg::size(),
            Agg::nunique("user_id").alias("users"),
        ])?
        .compute()?;
    writeln!(
        out,
        "   filter(value > 50).groupby(\"name\").agg([mean, size, nunique]) = {} rows [{}]",
        busy.height(),
        fmt_time(t.elapsed())
    )?;
    let t = Instant::now();
    let n = df.len()?;
    writeln!(
        out,
        "   df.len()?                                 = {n} [{}]",
        fmt_time(t.elapsed())
    )?;
    writeln!(out)?;
    Ok(())
}
