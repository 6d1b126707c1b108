//! Advanced indexing (the user guide's "Indexing" section): integer arrays along an axis,
//! known and lazy; boolean masks of one axis; masks of masks on unknown chunk sizes.
//!
//! ```text
//! cargo run -p brisk-array --example indexing
//! ```

use brisk_array::{self as da};
use brisk_core::Collection;

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let x = da::arange(24, 5)?.reshape(&[6, 4])?;

    // Rows 5, 0 and 5 again (numpy's x[[5, 0, -1]]).
    let rows = x.take([5, 0, -1], 0)?;
    println!("x[[5, 0, -1]] =\n{}", rows.compute()?);

    // The rows where a lazy computation says so: indices that are themselves an array.
    let order = x.sum_axis(1)?.argsort(0)?; // rows by increasing sum, not computed yet
    let sorted_rows = x.take(&order, 0)?;
    println!("rows by their sum =\n{}", sorted_rows.compute()?);

    // Columns whose total is even (numpy's x[:, mask]): chunk sizes become unknown.
    let even = (&x.sum_axis(0)? % 2).equal(0);
    let cols = x.compress(&even, 1)?;
    println!("{cols}");
    println!("even-total columns =\n{}", cols.compute()?);

    // Masks of masks, without compute_chunk_sizes(): y = x[x % 3 == 0]; y[y > 10].
    let y = x.mask(&(&x % 3).equal(0))?;
    let z = y.mask(&y.gt(10))?;
    println!("x[x % 3 == 0][... > 10] = {}", z.compute()?);
    anyhow::ensure!(z.compute()?.iter().copied().collect::<Vec<_>>() == [12, 15, 18, 21]);
    Ok(())
}
