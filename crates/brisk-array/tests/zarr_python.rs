//! Zarr stores as zarr-python writes them (format 3 and 2, its default and common codecs) read
//! by Brisk, and stores Brisk writes read back by zarr-python; Fortran-order `.npy` files.

#![cfg(feature = "zarr")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use brisk_array::io::zarr::{self, BloscShuffle, Compressor, ZarrFormat, ZarrOptions};
use brisk_array::{self as da, Element};
use brisk_core::Collection;
use common::Lcg;

/// Python with numpy and zarr, or `None` (skip) when it is optional and missing.
fn zarr_python() -> Option<String> {
    let py = common::python()?;
    let ok = Command::new(&py)
        .args(["-c", "import zarr, numcodecs"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var("BRISK_REQUIRE_PYTHON").as_deref() != Ok("1"),
        "zarr-python is required (BRISK_REQUIRE_PYTHON=1); it is in .ci/requirements-test.txt"
    );
    eprintln!("note: skipping: no zarr-python in {py}");
    None
}

fn run_python(py: &str, script: &str, dir: &Path) -> String {
    let out = Command::new(py)
        .args(["-c", script, dir.to_str().unwrap()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const WRITE_STORES: &str = r#"
import sys
import numpy as np, numcodecs, zarr
from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec
root = sys.argv[1]
rng = np.random.default_rng(0)
def data(dtype, shape):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 200, shape).astype(dtype)
specs = [
    ("v3_default_float64", 3, {}, (37, 23), (10, 7)),
    ("v3_gzip_int32", 3, {"compressors": [GzipCodec(level=5)]}, (37, 23), (10, 7)),
    ("v3_blosc_float32", 3, {"compressors": [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]}, (50, 9), (16, 9)),
    ("v3_bloscbit_int64", 3, {"compressors": [BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")]}, (41,), (8,)),
    ("v3_sharded_int64", 3, {"shards": (20, 14)}, (37, 23), (10, 7)),
    ("v3_sharded3d_float64", 3, {"shards": (4, 6, 10), "compressors": [ZstdCodec(level=3)]}, (9, 11, 20), (2, 3, 5)),
    ("v3_raw_uint8", 3, {"compressors": None}, (33, 5), (7, 5)),
    ("v3_default_bool", 3, {}, (21, 4), (5, 3)),
    ("v2_default_float64", 2, {}, (37, 23), (10, 7)),
    ("v2_blosc_float64", 2, {"compressors": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1)}, (37, 23), (10, 7)),
    ("v2_gzip_int64", 2, {"compressors": numcodecs.GZip(5)}, (30, 4), (7, 3)),
    ("v2_zlib_int32", 2, {"compressors": numcodecs.Zlib(3)}, (30, 4), (7, 3)),
    ("v2_forder_float64", 2, {"order": "F"}, (19, 13), (6, 5)),
    ("v2_raw_uint64", 2, {"compressors": None}, (25,), (6,)),
]
for name, fmt, kw, shape, chunks in specs:
    dtype = name.rsplit("_", 1)[1]
    a = data(dtype, shape)
    z = zarr.create_array(store=f"{root}/{name}.zarr", shape=shape, chunks=chunks, dtype=dtype, zarr_format=fmt, **kw)
    z[...] = a
    np.save(f"{root}/{name}.npy", a)
    np.save(f"{root}/{name}.f.npy", np.asfortranarray(a))
    print(name)
"#;

/// Read `<name>.zarr` with Brisk in `chunks` and compare it with `<name>.npy` (C order) and
/// `<name>.f.npy` (Fortran order), element for element.
fn same<T: Element + PartialEq + std::fmt::Debug>(dir: &Path, name: &str, rng: &mut Lcg) {
    let want = da::io::npy::read::<T>(dir.join(format!("{name}.npy")), "auto")
        .unwrap()
        .compute()
        .unwrap();
    let f = da::io::npy::read::<T>(
        dir.join(format!("{name}.f.npy")),
        rng.chunking(want.shape()),
    )
    .unwrap();
    assert_eq!(f.compute().unwrap(), want, "{name}: Fortran-order .npy");
    let path = dir.join(format!("{name}.zarr"));
    let auto = zarr::read::<T>(&path, "auto").unwrap();
    assert_eq!(auto.compute().unwrap(), want, "{name}: zarr, auto chunks");
    let chunks = rng.chunking(want.shape());
    let other = zarr::read::<T>(&path, chunks.clone()).unwrap();
    assert_eq!(
        other.compute().unwrap(),
        want,
        "{name}: zarr, chunks {chunks:?}"
    );
}

#[test]
fn reads_what_zarr_python_writes() {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = zarr_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let names = run_python(&py, WRITE_STORES, dir.path());
    let mut rng = Lcg(3);
    let mut n = 0;
    for name in names.lines() {
        match name.rsplit('_').next().unwrap() {
            "float64" => same::<f64>(dir.path(), name, &mut rng),
            "float32" => same::<f32>(dir.path(), name, &mut rng),
            "int64" => same::<i64>(dir.path(), name, &mut rng),
            "int32" => same::<i32>(dir.path(), name, &mut rng),
            "uint64" => same::<u64>(dir.path(), name, &mut rng),
            "uint8" => same::<u8>(dir.path(), name, &mut rng),
            "bool" => same::<bool>(dir.path(), name, &mut rng),
            other => panic!("unknown dtype {other}"),
        }
        n += 1;
    }
    assert_eq!(n, 14, "every store was checked");
}

const READ_STORES: &str = r#"
import json, os, sys
import numpy as np, zarr
root = sys.argv[1]
out = {}
for f in sorted(os.listdir(root)):
    if not f.endswith(".zarr"):
        continue
    name = f[:-5]
    z = zarr.open_array(f"{root}/{f}", mode="r")
    a = z[...]
    want = np.load(f"{root}/{name}.npy")
    out[name] = {
        "format": z.metadata.zarr_format,
        "equal": bool(a.dtype == want.dtype and a.shape == want.shape and np.array_equal(a, want)),
        "dtype": str(a.dtype),
    }
print(json.dumps(out))
"#;

fn write_both<T: Element>(x: &da::Array<T>, dir: &Path, name: &str, options: &ZarrOptions) {
    zarr::write_with(x, dir.join(format!("{name}.zarr")), options).unwrap();
    da::io::npy::write(x, dir.join(format!("{name}.npy"))).unwrap();
}

#[test]
fn zarr_python_reads_what_brisk_writes() {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = zarr_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Lcg(11);
    let rs = da::RandomState::new(7);
    let f64s = rs
        .normal(0.0, 1.0, [37, 23], rng.chunking(&[37, 23]))
        .unwrap();
    let i64s = rs
        .integers(-50, 50, [29, 6], rng.chunking(&[29, 6]))
        .unwrap();
    let f32s = f64s.astype::<f32>();
    let bools = f64s.gt(0.0);
    let cube = rs.random([6, 7, 8], [4, 3, 5]).unwrap();
    let v3 = ZarrOptions::default();
    let v2 = ZarrOptions {
        format: ZarrFormat::V2,
        ..ZarrOptions::default()
    };
    let with = |base: &ZarrOptions, c: Compressor| ZarrOptions {
        compressor: c,
        ..base.clone()
    };
    let blosc = |cname: &str, shuffle| Compressor::Blosc {
        cname: cname.into(),
        clevel: 5,
        shuffle,
    };
    write_both(&f64s, d, "v3_default", &v3);
    write_both(
        &i64s,
        d,
        "v3_gzip",
        &with(&v3, Compressor::Gzip { level: 6 }),
    );
    write_both(
        &f32s,
        d,
        "v3_blosc",
        &with(&v3, blosc("zstd", BloscShuffle::Bit)),
    );
    write_both(&bools, d, "v3_raw_bool", &with(&v3, Compressor::None));
    write_both(
        &f64s,
        d,
        "v3_sharded",
        &ZarrOptions {
            shard_inner_chunks: Some(vec![4, 3]),
            ..v3.clone()
        },
    );
    write_both(
        &cube,
        d,
        "v3_transposed",
        &ZarrOptions {
            transpose: Some(vec![2, 0, 1]),
            ..v3.clone()
        },
    );
    write_both(&f64s, d, "v2_default", &v2);
    write_both(
        &f64s,
        d,
        "v2_blosc",
        &with(&v2, blosc("lz4", BloscShuffle::Byte)),
    );
    write_both(
        &i64s,
        d,
        "v2_gzip",
        &with(&v2, Compressor::Gzip { level: 1 }),
    );
    write_both(&bools, d, "v2_raw_bool", &with(&v2, Compressor::None));
    let out = run_python(&py, READ_STORES, d);
    let got: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let got = got.as_object().unwrap();
    assert_eq!(got.len(), 10, "{got:?}");
    for (name, r) in got {
        assert_eq!(r["equal"], true, "{name}: zarr-python read {r}");
        let want_format = if name.starts_with("v2") { 2 } else { 3 };
        assert_eq!(r["format"], want_format, "{name}");
    }
    // And Brisk reads its own stores back.
    assert_eq!(
        zarr::read::<f64>(d.join("v3_sharded.zarr"), "auto")
            .unwrap()
            .compute()
            .unwrap(),
        f64s.compute().unwrap()
    );
}

#[test]
fn bad_zarr_options_are_named() {
    let x = da::ones::<f64>([4, 4], 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = |o: ZarrOptions| {
        zarr::write_with(&x, dir.path().join("x.zarr"), &o)
            .unwrap_err()
            .to_string()
    };
    let e = bad(ZarrOptions {
        compressor: Compressor::Blosc {
            cname: "snappy".into(),
            clevel: 5,
            shuffle: BloscShuffle::None,
        },
        ..ZarrOptions::default()
    });
    assert!(e.contains("compressor") && e.contains("snappy"), "{e}");
    let e = bad(ZarrOptions {
        format: ZarrFormat::V2,
        shard_inner_chunks: Some(vec![1, 1]),
        ..ZarrOptions::default()
    });
    assert!(e.contains("format 3"), "{e}");
    let e = bad(ZarrOptions {
        transpose: Some(vec![0, 0]),
        ..ZarrOptions::default()
    });
    assert!(e.contains("transpose"), "{e}");
    let e = bad(ZarrOptions {
        shard_inner_chunks: Some(vec![2]),
        ..ZarrOptions::default()
    });
    assert!(e.contains("shard_inner_chunks"), "{e}");
}
