//! `brisk demo`, arrays: the talk's `(arange(1e9, chunks=3e6) + 1).sum()` and
//! `x - x.mean(axis=1)` over a dataset in an HDF5 file, with pictures of their graphs.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use brisk::Collection;
use brisk::array::{self as da, ReduceOpts};

fn secs(t: Instant) -> String {
    let d = t.elapsed();
    if d.as_secs_f64() < 1.0 {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Run the array examples, printing to `out` and writing pictures (and the HDF5 file) under
/// `pictures`.
pub fn run(out: &mut dyn Write, pictures: &Path) -> anyhow::Result<()> {
    writeln!(
        out,
        "4. Arrays: x = da.arange(1e9, chunks=3e6); res = (x + 1).sum()"
    )?;
    let x = da::arange(1e9, 3e6)?;
    let res = (&x + 1).sum();
    writeln!(out, "   x   = {x}")?;
    writeln!(out, "   res = {res}   (nothing computed yet)")?;
    let t = Instant::now();
    let v = res.compute()?;
    anyhow::ensure!(v == 500_000_000_500_000_000, "wrong sum {v}");
    writeln!(out, "   {:<44} = {v:<22} [{}]", "res.compute()", secs(t))?;
    let small = (&da::arange(1e9, 1e8)? + 1).sum();
    let pic = picture(|p| small.visualize(p), pictures, "array-sum")?;
    writeln!(
        out,
        "   picture of the graph (chunks=1e8, so it stays readable): {}",
        pic.display()
    )?;

    writeln!(
        out,
        "\n5. Arrays over HDF5: x = f['/x']; x - x.mean(axis=1, keepdims=True)"
    )?;
    let file = pictures.join("myfile.hdf5");
    let n = 4000;
    let t = Instant::now();
    let data = da::RandomState::new(2015).normal(10.0, 2.0, [n, n], [1000, 1000])?;
    da::io::hdf5::write(&data, &file, "x")?;
    writeln!(
        out,
        "   wrote a {n}x{n} f64 dataset to {} chunk by chunk [{}]",
        file.display(),
        secs(t)
    )?;
    let x = da::io::hdf5::read::<f64>(&file, "x", [1000, 1000])?;
    let centered = &x - &x.mean_with(&ReduceOpts::axis(1).keepdims(true))?;
    writeln!(out, "   x        = {x}")?;
    writeln!(out, "   centered = {centered}")?;
    let t = Instant::now();
    let c = centered.compute()?;
    let row_means = c
        .mean_axis(ndarray::Axis(1))
        .ok_or_else(|| anyhow::anyhow!("empty"))?;
    let worst = row_means.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    writeln!(
        out,
        "   {:<44} = {:<22} [{}]",
        "centered.compute()",
        format!("{:?} array", c.shape()),
        secs(t)
    )?;
    anyhow::ensure!(
        worst < 1e-9,
        "row means of the centered data are not 0: {worst}"
    );
    writeln!(out, "   largest |row mean| after centering: {worst:.1e}")?;
    let small = da::io::hdf5::read::<f64>(&file, "x", [2000, 2000])?;
    let small = &small - &small.mean_with(&ReduceOpts::axis(1).keepdims(true))?;
    let pic = picture(|p| small.visualize(p), pictures, "array-hdf5-demean")?;
    writeln!(
        out,
        "   picture of the graph (2x2 chunks): {}",
        pic.display()
    )?;
    writeln!(out)?;
    Ok(())
}

fn picture(
    draw: impl Fn(&Path) -> Result<std::path::PathBuf, da::ArrayError>,
    dir: &Path,
    name: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let svg = dir.join(format!("{name}.svg"));
    match draw(&svg) {
        Ok(p) => Ok(p),
        Err(_) => Ok(draw(&dir.join(format!("{name}.dot")))?),
    }
}
