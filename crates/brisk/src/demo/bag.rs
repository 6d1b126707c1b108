//! `brisk demo`, bag part: the talk's `dask.bag` example on generated text files.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use brisk::Collection;

const WORDS: [&str; 16] = [
    "python",
    "rust",
    "parallel",
    "computing",
    "with",
    "dask",
    "brisk",
    "task",
    "graph",
    "the",
    "of",
    "and",
    "a",
    "bag",
    "array",
    "dataframe",
];

/// Write `files` files of `lines` lines of pseudo-random words under `dir`.
fn generate(dir: &Path, files: usize, lines: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for f in 0..files {
        let mut text = String::with_capacity(lines * 48);
        for _ in 0..lines {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 3 + (x % 8) as usize;
            for j in 0..n {
                if j > 0 {
                    text.push(' ');
                }
                // Skewed choice: early words are more common.
                let r = (x >> (j * 5 % 59)) as usize;
                text.push_str(WORDS[(r % WORDS.len()).min(r % 7 + (r >> 8) % 10)]);
            }
            text.push('\n');
        }
        std::fs::write(dir.join(format!("lines_{f}.txt")), text)?;
    }
    Ok(())
}

fn fmt_time(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Run the bag examples, printing to `out`; data and pictures go under `pictures`.
pub fn run(out: &mut dyn Write, pictures: &Path) -> anyhow::Result<()> {
    writeln!(
        out,
        "6. Bags: semi-structured data (the talk's dask.bag example)"
    )?;
    let dir = pictures.join("bag-data");
    let (files, lines) = (8, 50_000);
    generate(&dir, files, lines)?;
    let pattern = dir.join("lines_*.txt").display().to_string();
    writeln!(
        out,
        "   generated {files} files of {lines} lines: {pattern}"
    )?;

    let b = brisk::bag::read_text(&pattern)?;
    let count = b.filter(|l| l.contains("python")).count();
    let t = Instant::now();
    let n = count.compute()?;
    writeln!(
        out,
        "   {:<44} = {:<22} [{}]",
        "read_text(..).filter(python).count()",
        n,
        fmt_time(t.elapsed())
    )?;

    let t = Instant::now();
    let top = b
        .split_whitespace()
        .frequencies()
        .topk_by(10, |(_, n)| *n)
        .compute()?;
    writeln!(
        out,
        "   {:<44} = {:<22} [{}]",
        "words: split_whitespace().frequencies().topk(10)",
        format!("{} words", top.len()),
        fmt_time(t.elapsed())
    )?;
    for (w, c) in &top {
        writeln!(out, "      {w:<12} {c}")?;
    }
    #[cfg(feature = "dataframe")]
    {
        use brisk::BagToDataFrame;
        let t = Instant::now();
        let words = b.split_whitespace().frequencies().to_dataframe()?;
        let frame = words.compute()?;
        writeln!(
            out,
            "   {:<44} = {:<22} [{}]",
            "frequencies().to_dataframe() (word, count)",
            format!("{} rows x {} columns", frame.height(), frame.width()),
            fmt_time(t.elapsed())
        )?;
    }
    match brisk::diagnostics::visualize(&count.graph(), pictures.join("bag-count.svg")) {
        Ok(p) => writeln!(out, "   picture of the graph: {}", p.display())?,
        Err(brisk::Error::Tool { .. }) => {
            let p = brisk::diagnostics::visualize(&count.graph(), pictures.join("bag-count.dot"))?;
            writeln!(out, "   picture of the graph: {}", p.display())?;
        }
        Err(e) => return Err(e.into()),
    }
    writeln!(out)?;
    Ok(())
}
