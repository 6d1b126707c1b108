//! Zarr as other tools write it (the user guide's "Zarr" section): write a compressed,
//! sharded Zarr v3 store and a blosc-compressed v2 store, read them back, and read a
//! Fortran-order `.npy` file.
//!
//! ```text
//! cargo run -p brisk-array --example zarr_interop
//! ```

use brisk_array::io::zarr::{self, BloscShuffle, Compressor, ZarrFormat, ZarrOptions};
use brisk_array::{self as da};
use brisk_core::Collection;

fn main() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let dir = tempfile::tempdir()?;
    let x = da::RandomState::new(1).normal(0.0, 1.0, [400, 300], [100, 100])?;

    // Format 3 with zstd, as zarr-python writes by default; one shard per brisk chunk, each
    // holding 4 x 4 inner chunks of 25 x 25.
    let sharded = ZarrOptions {
        shard_inner_chunks: Some(vec![25, 25]),
        ..ZarrOptions::default()
    };
    zarr::write_with(&x, dir.path().join("x3.zarr"), &sharded)?;
    // Format 2 with blosc/lz4, as zarr-python 2 wrote by default.
    let v2 = ZarrOptions {
        format: ZarrFormat::V2,
        compressor: Compressor::Blosc {
            cname: "lz4".into(),
            clevel: 5,
            shuffle: BloscShuffle::Byte,
        },
        ..ZarrOptions::default()
    };
    zarr::write_with(&x, dir.path().join("x2.zarr"), &v2)?;

    let want = x.compute()?;
    for store in ["x3.zarr", "x2.zarr"] {
        let back = zarr::read::<f64>(dir.path().join(store), "auto")?;
        println!("{store}: {back}");
        anyhow::ensure!(back.compute()? == want, "{store} differs");
    }

    // A Fortran-order .npy file (numpy's np.save of an F-contiguous array): 2 x 3 of 0..6.
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    npy.extend((header.len() as u16).to_le_bytes());
    npy.extend(header.as_bytes());
    for v in [0i64, 3, 1, 4, 2, 5] {
        npy.extend(v.to_le_bytes()); // column by column
    }
    std::fs::write(dir.path().join("f.npy"), npy)?;
    let f = da::io::npy::read::<i64>(dir.path().join("f.npy"), 1)?.compute()?;
    println!("Fortran-order .npy: {f}");
    anyhow::ensure!(f.iter().copied().collect::<Vec<_>>() == [0, 1, 2, 3, 4, 5]);
    Ok(())
}
