//! Arrays on a real S3-compatible server (moto on 127.0.0.1, started by the test): `.npy` and
//! Zarr written to a bucket chunk by chunk and read back with other chunkings, equal to the
//! in-memory arrays, to the local files and to numpy; missing objects and buckets name the
//! URL; HDF5 refuses object store URLs clearly.

mod common;

use brisk_array::io::UrlPath;
use brisk_array::{self as da, ArrayError};
use brisk_core::Collection;
use brisk_io::{IoError, Storage, StorageOptions};
use brisk_test_utils::s3::MotoServer;
use common::{Lcg, any, assert_close, numpy, python, random_f64, random_i64};

const BUCKET: &str = "brisk-array";

fn options(server: &MotoServer) -> StorageOptions {
    StorageOptions::new()
        .s3_endpoint(&server.endpoint)
        .s3_credentials(&server.key_id, &server.secret)
}

fn at(server: &MotoServer, key: &str) -> UrlPath {
    UrlPath::from(format!("s3://{BUCKET}/{key}")).with_options(options(server))
}

#[test]
fn npy_and_zarr_round_trip_through_s3() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(server) = MotoServer::start(&[BUCKET]) else {
        return Ok(());
    };
    let s3 = Storage::new(options(&server));
    let dir = tempfile::tempdir()?;
    let mut rng = Lcg(7);

    // A 2-d f64 array of ~18 MB with irregular column chunks: written as a multipart upload
    // of more than one part, each part gathering pieces of several chunks.
    let big_nd = random_f64(&mut rng, &[1500, 1500], false);
    let big = da::from_array(&big_nd, vec![vec![400, 400, 400, 300], vec![700, 500, 300]])?;
    let url = at(&server, "arrays/big.npy");
    big.to_npy(&url)?;
    let local = dir.path().join("big.npy");
    big.to_npy(&local)?;
    assert_eq!(
        s3.read_all(url.url())?,
        std::fs::read(&local)?,
        "the object and the local file hold the same bytes"
    );
    for chunks in [
        vec![1500, 1500],
        vec![333, 250],
        vec![1, 1500],
        vec![1500, 7],
    ] {
        let back = da::io::npy::read::<f64>(&url, chunks.clone())?;
        assert_eq!(back.compute()?, big_nd, "read with chunks {chunks:?}");
    }
    let h = da::io::npy::header(&url)?;
    assert_eq!(
        (h.shape.clone(), h.dtype),
        (vec![1500, 1500], da::DType::F64)
    );

    // Small arrays of other types, ranks and chunkings: one part each.
    let ints_nd = random_i64(&mut rng, &[7, 11, 5]);
    let ints = da::from_array(&ints_nd, [3, 4, 2])?;
    ints.to_npy(at(&server, "arrays/ints.npy"))?;
    let back = da::io::npy::read::<i64>(&at(&server, "arrays/ints.npy"), [2, 11, 5])?;
    assert_eq!(back.compute()?, ints_nd);
    let flags = ints.gt(0i64);
    flags.to_npy(at(&server, "arrays/flags.npy"))?;
    let back = da::io::npy::read::<bool>(&at(&server, "arrays/flags.npy"), [5, 5, 5])?;
    assert_eq!(back.compute()?, ints_nd.mapv(|v| v > 0));
    let small = da::arange(1000, 300)?.astype::<i32>();
    small.to_npy(at(&server, "arrays/small.npy"))?;
    let back = da::io::npy::read::<i32>(&at(&server, "arrays/small.npy"), 128)?;
    assert_eq!(back.compute()?, small.compute()?);
    let empty = da::zeros::<f32>([0, 4], 2)?;
    empty.to_npy(at(&server, "arrays/empty.npy"))?;
    let back = da::io::npy::read::<f32>(&at(&server, "arrays/empty.npy"), 2)?;
    assert_eq!(back.shape(), &[0, 4]);

    // numpy reads what was uploaded.
    if let Some(py) = python() {
        let copy = dir.path().join("downloaded.npy");
        std::fs::write(
            &copy,
            s3.read_all(&format!("s3://{BUCKET}/arrays/ints.npy"))?,
        )?;
        let want = numpy(
            &py,
            &[],
            &[(
                "loaded".into(),
                format!("np.load({:?})", copy.display().to_string()),
            )],
        );
        assert_close(
            "numpy loads the uploaded .npy",
            &any(ints_nd.clone()),
            &want["loaded"],
            0.0,
        );
    }

    // Zarr under a prefix of the bucket.
    let zurl = at(&server, "arrays/big.zarr");
    big.to_zarr(&zurl)?;
    let listed = s3.expand(&format!("s3://{BUCKET}/arrays/big.zarr/**"))?;
    assert!(
        listed.iter().any(|f| f.url.ends_with("zarr.json")),
        "{listed:?}"
    );
    let back = da::io::zarr::read::<f64>(&zurl, "auto")?;
    assert_eq!(back.chunks()[0], vec![400, 400, 400, 300]);
    assert_eq!(back.compute()?, big_nd);
    let back = da::io::zarr::read::<f64>(&zurl, [512, 1000])?;
    assert_eq!(back.compute()?, big_nd);
    let e = da::io::zarr::read::<i64>(&zurl, "auto").unwrap_err();
    assert!(e.to_string().contains("big.zarr"), "{e}");
    Ok(())
}

#[test]
fn object_store_errors_name_the_url() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(server) = MotoServer::start(&[BUCKET]) else {
        return Ok(());
    };
    let x = da::arange(100, 30)?;

    // A missing object: a not-found error naming it.
    let missing = at(&server, "nothing/here.npy");
    let e = da::io::npy::read::<i64>(&missing, 10).unwrap_err();
    assert!(
        matches!(&e, ArrayError::Url(IoError::NotFound { .. })),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("s3://brisk-array/nothing/here.npy"),
        "{e}"
    );

    // A missing bucket, reading and writing.
    let nobucket = UrlPath::from("s3://no-such-bucket/x.npy").with_options(options(&server));
    let e = da::io::npy::read::<i64>(&nobucket, 10).unwrap_err();
    assert!(
        matches!(&e, ArrayError::Url(IoError::BucketNotFound { .. })),
        "{e:?}"
    );
    assert!(e.to_string().contains("no-such-bucket"), "{e}");
    let e = x.to_npy(&nobucket).unwrap_err();
    assert!(e.to_string().contains("s3://no-such-bucket/x.npy"), "{e}");
    let e = da::io::zarr::read::<f64>(
        &UrlPath::from("s3://no-such-bucket/x.zarr").with_options(options(&server)),
        "auto",
    )
    .unwrap_err();
    assert!(e.to_string().contains("s3://no-such-bucket/x.zarr"), "{e}");

    // Not a .npy file; the wrong element type.
    let junk = at(&server, "junk.npy");
    junk.storage().write_all(junk.url(), b"not numpy at all")?;
    let e = da::io::npy::read::<i64>(&junk, 10).unwrap_err();
    assert!(e.to_string().contains("s3://brisk-array/junk.npy"), "{e}");
    assert!(e.to_string().contains("magic"), "{e}");
    let ok = at(&server, "ok.npy");
    x.to_npy(&ok)?;
    let e = da::io::npy::read::<f64>(&ok, 10).unwrap_err();
    assert!(e.to_string().contains("s3://brisk-array/ok.npy"), "{e}");
    assert!(e.to_string().contains("holds i64"), "{e}");

    // A truncated object: the header promises more than there is.
    let bytes = ok.storage().read_all(ok.url())?;
    let cut = at(&server, "cut.npy");
    cut.storage()
        .write_all(cut.url(), &bytes[..bytes.len() - 8])?;
    let e = da::io::npy::read::<i64>(&cut, 10).unwrap_err();
    assert!(e.to_string().contains("header promises"), "{e}");

    // HDF5 needs a local file.
    #[cfg(feature = "hdf5")]
    {
        let h5 = at(&server, "x.h5");
        for e in [
            da::io::hdf5::read::<f64>(&h5, "x", "auto").unwrap_err(),
            x.to_hdf5(&h5, "x").unwrap_err(),
        ] {
            assert!(matches!(&e, ArrayError::NotLocal { .. }), "{e:?}");
            let text = e.to_string();
            assert!(
                text.contains("s3://brisk-array/x.h5") && text.contains("local"),
                "{text}"
            );
        }
    }
    Ok(())
}

#[test]
fn paths_that_look_like_urls_stay_local() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let dir = tempfile::tempdir()?;
    let odd = dir.path().join("a://b");
    std::fs::create_dir_all(&odd)?;
    let p = odd.join("x 100%.npy");
    let x = da::arange(50, 7)?;
    x.to_npy(&p)?;
    assert!(p.exists());
    assert_eq!(da::io::npy::read::<i64>(&p, 9)?.compute()?, x.compute()?);
    // file:// URLs name local files too.
    let url = format!("file://{}", dir.path().join("y.npy").display());
    x.to_npy(url.as_str())?;
    assert_eq!(
        da::io::npy::read::<i64>(url.as_str(), 9)?.compute()?,
        x.compute()?
    );
    Ok(())
}
