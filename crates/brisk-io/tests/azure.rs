//! brisk-io against a real Azure Blob Storage server (Azurite, started by the test on
//! 127.0.0.1): `az://` writes (one PUT and streamed block uploads), globs, whole, compressed
//! and ranged reads, blocks pinned to the listed version, and errors naming the URL. One test
//! function shares one server.

mod common;

use std::io::{Read, Write};

use brisk_io::{CompressionChoice, IoError, Storage, StorageOptions, blocks};
use brisk_test_utils::azure::{ACCOUNT, Azurite, KEY};

fn lines(n: usize, tag: &str) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{tag} line {i} {}\n", "xyz".repeat(i % 5)))
        .collect::<String>()
        .into_bytes()
}

fn options(server: &Azurite, key: &str) -> StorageOptions {
    StorageOptions::new()
        .with("azure_storage_account_name", ACCOUNT)
        .with("azure_storage_account_key", key)
        .with("azure_storage_endpoint", &server.endpoint)
        .with("azure_allow_http", "true")
}

#[test]
fn azure_round_trip_globs_ranges_and_errors() -> anyhow::Result<()> {
    let Some(server) = Azurite::start(&["frames"]) else {
        return Ok(());
    };
    let az = Storage::new(options(&server, KEY).multipart_writes(5 << 20, 2));

    // Small objects (one PUT each), a gzip one, and one large enough to stream in blocks.
    let mut expected = Vec::new();
    for i in 0..3 {
        let url = format!("az://frames/logs/lines_{i}.txt");
        let data = lines(1500 + i * 100, &format!("f{i}"));
        az.write_all(&url, &data)?;
        expected.push((url, data));
    }
    let gz = lines(4000, "gz");
    az.write_all("az://frames/logs/packed.txt.gz", &gz)?;
    let big = lines(700_000, "big");
    assert!(big.len() > 12 << 20, "several 5 MiB parts");
    let mut w = az.open_writer("az://frames/big/all.txt")?;
    for chunk in big.chunks(1 << 20) {
        w.write_all(chunk)?;
    }
    assert_eq!(w.finish()?, "az://frames/big/all.txt");

    // An unfinished writer leaves nothing behind.
    let mut w = az.open_writer("az://frames/big/unfinished.txt")?;
    w.write_all(&big[..6 << 20])?;
    drop(w);
    assert!(!az.exists("az://frames/big/unfinished.txt")?);

    // Globs: sorted, with sizes and ETags.
    let found = az.expand("az://frames/logs/lines_*.txt")?;
    let urls: Vec<&str> = found.iter().map(|f| f.url.as_str()).collect();
    assert_eq!(
        urls,
        expected.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>()
    );
    for (f, (_, d)) in found.iter().zip(&expected) {
        assert_eq!(f.size, d.len() as u64);
        assert!(f.e_tag.is_some(), "Azurite lists ETags");
    }
    assert_eq!(az.expand("az://frames/**/*.txt")?.len(), 4);

    // Whole reads (plain, gzip, streamed), ranges, and blocks that tile the object.
    for (url, data) in &expected {
        assert_eq!(&az.read_all(url)?, data);
    }
    assert_eq!(az.read_all("az://frames/logs/packed.txt.gz")?, gz);
    assert!(az.read_all("az://frames/big/all.txt")? == big);
    let mut streamed = Vec::new();
    az.open_reader("az://frames/big/all.txt")?
        .read_to_end(&mut streamed)?;
    assert!(streamed == big);
    let (url, data) = &expected[2];
    assert_eq!(az.read_range(url, 100, 60)?, data[100..160].to_vec());
    let files = az.expand("az://frames/big/all.txt")?;
    let mut joined = Vec::new();
    for b in blocks(&files, Some(3 << 20), CompressionChoice::Infer) {
        az.open(&b, Some(b"\n"))?.read_to_end(&mut joined)?;
    }
    assert!(joined == big, "blocks tile the object");

    // Replaced after the listing: a block of the old listing is `Changed`, naming the URL.
    let listed = az.expand(url)?;
    az.write_all(url, &data.to_ascii_uppercase())?;
    let b = &blocks(&listed, Some(1000), CompressionChoice::Infer)[1];
    common::assert_changed(&az, b, url);

    // A missing blob, a missing container, bad credentials: errors naming the URL.
    let missing = "az://frames/logs/missing.txt";
    for e in [
        az.read_all(missing).unwrap_err(),
        az.expand(missing).unwrap_err(),
        az.size(missing).unwrap_err(),
    ] {
        assert!(matches!(e, IoError::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains(missing), "{e}");
    }
    for e in [
        az.read_all("az://no-such-container/x.txt").unwrap_err(),
        az.expand("az://no-such-container/x/*.txt").unwrap_err(),
    ] {
        assert!(matches!(e, IoError::BucketNotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("az://no-such-container/x"), "{e}");
    }
    let bad = Storage::new(options(
        &server,
        "d3JvbmcgdGhlIGtleSBpcywgd3JvbmcgaXQgc3RheXMgZm9yIGV2ZXIgYW5kIGV2ZXI=",
    ));
    for e in [
        bad.read_all(&expected[0].0).unwrap_err(),
        bad.expand("az://frames/logs/*.txt").unwrap_err(),
        bad.write_all("az://frames/logs/new.txt", b"x").unwrap_err(),
    ] {
        assert!(matches!(e, IoError::BadCredentials { .. }), "{e:?}");
        assert!(e.to_string().contains("az://frames/logs/"), "{e}");
    }
    Ok(())
}
