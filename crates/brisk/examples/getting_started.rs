//! Getting started (the guide's first chapter): a graph as plain data, lazy calls, a chunked
//! array, a dataframe and a bag, all on the default scheduler (threads in this process).
//!
//! `cargo run --example getting_started`

use brisk::dataframe::polars::prelude::*;
use brisk::{Collection, delayed, graph};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}

fn main() -> anyhow::Result<()> {
    // 1. A graph is plain data, as in the talk's dict: keys to values or (function, args...).
    let dsk = graph! {
        "a" => 1,
        "x" => 10,
        "b" => (inc, "a"),
        "y" => (inc, "x"),
        "z" => (add, "b", "y"),
    };
    let z: i64 = brisk::threaded::get(&dsk, "z")?;
    assert_eq!(z, 13);
    println!("graph:     z = {z}");

    // 2. delayed: ordinary calls, made lazy; they build the same graph.
    let z = delayed(add).call(delayed(inc).call(1), delayed(inc).call(10));
    assert_eq!(z.compute()?, 13);
    z.visualize("getting_started.svg")?; // a picture of the graph (no Graphviz needed)
    println!(
        "delayed:   z = {} (graph in getting_started.svg)",
        z.compute()?
    );

    // 3. A chunked array: a hundred million elements in chunks of three million, in bounded memory.
    let x = brisk::array::arange(1e8, 3e6)?;
    let total = (&x + 1).sum().compute()?;
    assert_eq!(total, 5_000_000_050_000_000);
    println!("array:     sum(arange(1e8) + 1) = {total}");

    // 4. A dataframe made of partitions (Polars frames), grouped in a tree.
    let frame = df!("user" => [1i64, 2, 1, 3, 2, 1], "value" => [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    let df = brisk::dataframe::DataFrame::from_polars(frame, 3)?;
    let means = df.groupby("user").col("value").mean()?.compute()?;
    println!("dataframe: mean value per user\n{means}");

    // 5. A bag of records.
    let words = brisk::bag::Bag::from_sequence(
        vec!["a rose is a rose".to_string(), "is a rose".to_string()],
        2,
    );
    let top = words
        .split_whitespace()
        .frequencies()
        .topk_by(1, |(_, n)| *n)
        .compute()?;
    println!("bag:       most common word {top:?}");
    Ok(())
}
