//! Bags (the guide's bag chapter): log lines, JSON lines and a word count, as in the talk.
//! Writes its small inputs into a temporary directory first.
//!
//! `cargo run --example bags`

use std::io::Write;

use brisk::Collection;
use brisk::bag::{Bag, read_json, read_text};

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let at = |name: &str| dir.path().join(name).display().to_string();

    // Logs: three files, one of them gzip-compressed (decompressed by its extension).
    for i in 0..3 {
        let text: String = (0..100)
            .map(|j| {
                let lang = ["python", "rust", "julia"][(i + j) % 3];
                format!("2015-01-0{} {lang} job {j} finished\n", i + 1)
            })
            .collect();
        let name = if i == 2 {
            at("log_2.txt.gz")
        } else {
            at(&format!("log_{i}.txt"))
        };
        // A writer compresses by the name's extension, as readers decompress by it.
        let mut w = brisk::io::open_writer(&name)?;
        w.write_all(text.as_bytes())?;
        w.finish()?;
    }
    let lines = read_text(&at("log_*"))?;
    let python = lines.filter(|l| l.contains("python")).count().compute()?;
    assert_eq!(python, 100);
    println!("lines mentioning python: {python}");

    // A word count: the three most common words.
    let top = lines
        .split_whitespace()
        .frequencies()
        .topk_by(3, |(_, n)| *n)
        .compute()?;
    println!("most common words: {top:?}");

    // JSON lines: parse, pluck a field, group.
    let records: String = (0..50)
        .map(|i| format!("{{\"user\": \"u{}\", \"amount\": {}}}\n", i % 5, i))
        .collect();
    brisk::io::write_all(&at("records.jsonl"), records.as_bytes())?;
    let amounts = read_json(&at("records.jsonl"))?
        .pluck("amount")
        .map(|v| v.as_i64().unwrap_or(0));
    assert_eq!(amounts.sum().compute()?, (0..50).sum::<i64>());
    println!("total amount: {}", amounts.sum().compute()?);

    // foldby: a per-key reduction without a full shuffle (dask.bag's foldby).
    let per_user = read_json(&at("records.jsonl"))?
        .map(|v| {
            let user = v["user"].as_str().unwrap_or("?").to_string();
            (user, v["amount"].as_i64().unwrap_or(0))
        })
        .foldby(
            |(u, _)| u.clone(),
            0i64,
            |acc, (_, a)| acc + a,
            |a, b| a + b,
        )
        .compute()?;
    println!("per user: {per_user:?}");

    // Bags from memory, and back to files.
    let squares = Bag::from_sequence((0..10i64).collect(), 3).map(|x| x * x);
    assert_eq!(squares.sum().compute()?, 285);
    let written = squares
        .map(|x| x.to_string())
        .to_textfiles(&at("out/part-*.txt"))?;
    println!("wrote {} files", written.len());
    Ok(())
}
