//! Sorting and statistics (the user guide's "Sorting, quantiles and friends" section).
//!
//! ```text
//! cargo run -p brisk-array --example operations
//! ```

use brisk_array::{self as da};
use brisk_core::Collection;

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let rs = da::RandomState::new(3);
    let x = rs.normal(10.0, 2.0, [1_000, 200], [250, 50])?;

    // Exact medians and quantiles along an axis (the axis is gathered, other axes stay chunked).
    let med = x.median_axis(0)?;
    let q = x.quantile(&[0.05, 0.95], 0, false)?;
    println!("median of column 0: {:.3}", med.compute()?[[0]]);
    println!(
        "5%/95% of column 0: {:.3?}",
        q.compute()?
            .index_axis(ndarray::Axis(1), 0)
            .iter()
            .collect::<Vec<_>>()
    );

    // The 3 largest per row, a tree of partial selections.
    let top = x.topk(3, 1)?.compute()?;
    println!(
        "top 3 of row 0: {:.3?}",
        top.index_axis(ndarray::Axis(0), 0)
            .iter()
            .collect::<Vec<_>>()
    );

    // Counts of rounded values, and a histogram.
    let rounded = x.round().astype::<i64>();
    let (values, counts) = rounded.unique()?;
    let (values, counts) = (values.compute()?, counts.compute()?);
    println!(
        "{} distinct rounded values; the most common: {}",
        values.len(),
        {
            let best = counts
                .iter()
                .enumerate()
                .max_by_key(|(_, c)| **c)
                .map(|(i, _)| i)
                .unwrap_or(0);
            values[[best]]
        }
    );
    let (hist, edges) = da::histogram(&x, 8, (4.0, 16.0))?;
    println!("histogram over {edges:?}: {}", hist.compute()?);

    // Differences, NaN-skipping running sums, membership, insertion points.
    let steps = da::arange(10, 4)?.diff(1, 0)?;
    println!("diff(arange(10)) = {}", steps.compute()?);
    let with_nan = da::from_array(&ndarray::array![1.0, f64::NAN, 2.0, 3.0], 2)?;
    println!("nancumsum = {}", with_nan.nancumsum(0)?.compute()?);
    println!("isin = {}", da::arange(6, 4)?.isin(&[1, 4])?.compute()?);
    let grid = da::linspace(0.0, 1.0, 5, 2)?;
    let pos = da::searchsorted(
        &grid,
        &da::from_array(&ndarray::array![0.1, 0.5, 0.9], 2)?,
        false,
    )?;
    println!("searchsorted = {}", pos.compute()?);

    // einsum: a batched dot product of rows.
    let dots = da::einsum("ij,ij->i", &[&x, &x])?;
    let direct = (&x * &x).sum_axis(1)?;
    let diff = (&dots - &direct).abs().max().compute()?;
    anyhow::ensure!(diff < 1e-9, "einsum differs by {diff}");
    println!("einsum('ij,ij->i') matches (x * x).sum(1)");
    Ok(())
}
