//! The talk's dict, run on every local scheduler: `cargo run --example talk_graph`.

use brisk::{Collection, delayed, graph};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}

fn main() -> Result<(), brisk::Error> {
    let dsk = graph! {
        "a" => 1,
        "x" => 10,
        "b" => (inc, "a"),
        "y" => (inc, "x"),
        "z" => (add, "b", "y"),
    };
    println!("threaded: z = {}", brisk::threaded::get::<i64>(&dsk, "z")?);
    println!("sync:     z = {}", brisk::sync::get::<i64>(&dsk, "z")?);

    let z = delayed(add).call(delayed(inc).call(1), delayed(inc).call(10));
    println!("delayed:  z = {}", z.compute()?);
    Ok(())
}
