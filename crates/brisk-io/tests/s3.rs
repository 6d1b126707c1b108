//! brisk-io against a real S3-compatible server (moto, started by the test on 127.0.0.1) and a
//! plain HTTP server (Python's `http.server`). One test function shares one server.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use brisk_io::{CompressionChoice, IoError, Storage, StorageOptions, blocks};
use brisk_test_utils::s3::MotoServer;

fn lines(n: usize, tag: &str) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{tag} line {i} {}\n", "abc".repeat(i % 7)))
        .collect::<String>()
        .into_bytes()
}

fn storage(server: &MotoServer) -> Storage {
    Storage::new(
        StorageOptions::new()
            .s3_endpoint(&server.endpoint)
            .s3_credentials(&server.key_id, &server.secret),
    )
}

#[test]
fn s3_round_trip_globs_ranges_and_errors() -> anyhow::Result<()> {
    let Some(server) = MotoServer::start(&["brisk-test"]) else {
        return Ok(());
    };
    let s3 = storage(&server);

    // Write plain and gzip objects (and one in a "subdirectory").
    let mut expected = Vec::new();
    for i in 0..3 {
        let url = format!("s3://brisk-test/logs/lines_{i}.txt");
        let data = lines(2000 + i * 100, &format!("f{i}"));
        s3.write_all(&url, &data)?;
        expected.push((url, data));
    }
    let gz_data = lines(5000, "gz");
    let mut w = s3.open_writer("s3://brisk-test/logs/packed.txt.gz")?;
    w.write_all(&gz_data)?;
    assert_eq!(w.finish()?, "s3://brisk-test/logs/packed.txt.gz");
    s3.write_all("s3://brisk-test/logs/deeper/lines_9.txt", b"deep\n")?;

    // Glob over the bucket: sorted, sizes right, `*` stays in its directory.
    let found = s3.expand("s3://brisk-test/logs/lines_*.txt")?;
    let urls: Vec<&str> = found.iter().map(|f| f.url.as_str()).collect();
    assert_eq!(
        urls,
        expected.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>()
    );
    for (f, (_, d)) in found.iter().zip(&expected) {
        assert_eq!(f.size, d.len() as u64);
    }
    assert_eq!(s3.expand("s3://brisk-test/logs/**/lines_*.txt")?.len(), 4);
    assert_eq!(
        s3.expand("s3://brisk-test/logs")?.len(),
        4,
        "a prefix lists its files"
    );
    let e = s3.expand("s3://brisk-test/logs/nothing_*.txt").unwrap_err();
    assert!(matches!(e, IoError::NoMatch { .. }), "{e:?}");

    // Whole reads, plain and gzip, buffered and streaming.
    for (url, data) in &expected {
        assert_eq!(&s3.read_all(url)?, data);
        assert_eq!(s3.size(url)?, data.len() as u64);
    }
    assert_eq!(s3.read_all("s3://brisk-test/logs/packed.txt.gz")?, gz_data);
    let mut streamed = Vec::new();
    s3.open_reader("s3://brisk-test/logs/packed.txt.gz")?
        .read_to_end(&mut streamed)?;
    assert_eq!(streamed, gz_data);

    // Byte ranges: exact raw ranges, and aligned blocks that cover the object exactly.
    let (url, data) = &expected[1];
    assert_eq!(s3.read_range(url, 100, 50)?, data[100..150].to_vec());
    let files = s3.expand(url)?;
    for bs in [1000u64, 4096, 100_000] {
        let mut joined = Vec::new();
        for b in blocks(&files, Some(bs), CompressionChoice::Infer) {
            let mut part = Vec::new();
            s3.open(&b, Some(b"\n"))?.read_to_end(&mut part)?;
            joined.extend(part);
        }
        assert_eq!(&joined, data, "blocksize {bs}");
    }
    let local_block = {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("same.txt").display().to_string();
        brisk_io::write_all(&p, data)?;
        brisk_io::read_block(&p, 3000, 2000, Some(b"\n"))?
    };
    assert_eq!(s3.read_block(url, 3000, 2000, Some(b"\n"))?, local_block);

    assert!(s3.exists(url)?);
    assert!(!s3.exists("s3://brisk-test/logs/missing.txt")?);
    assert!(matches!(
        s3.exists("s3://no-such-bucket/x.txt"),
        Err(IoError::BucketNotFound { .. })
    ));

    // A missing object, a missing bucket: distinct errors naming the URL.
    let missing = "s3://brisk-test/logs/missing.txt";
    for e in [
        s3.read_all(missing).unwrap_err(),
        s3.expand(missing).unwrap_err(),
        s3.size(missing).unwrap_err(),
        s3.read_block(missing, 0, 10, Some(b"\n")).unwrap_err(),
    ] {
        assert!(matches!(e, IoError::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains(missing), "{e}");
    }
    let nobucket = "s3://no-such-bucket/x/lines_*.txt";
    let e = s3.expand(nobucket).unwrap_err();
    assert!(
        matches!(&e, IoError::BucketNotFound { bucket, .. } if bucket == "no-such-bucket"),
        "{e:?}"
    );
    assert!(e.to_string().contains(nobucket), "{e}");
    let e = s3.size("s3://no-such-bucket/x.txt").unwrap_err();
    assert!(matches!(e, IoError::BucketNotFound { .. }), "{e:?}");
    let e = s3.read_all("s3://no-such-bucket/x.txt").unwrap_err();
    assert!(matches!(e, IoError::BucketNotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("s3://no-such-bucket/x.txt"), "{e}");

    // Bad credentials: the server checks signatures against its IAM users.
    for (key, secret) in [
        (server.key_id.as_str(), "wrong-secret"),
        ("AKIANOSUCHKEY0000000", "whatever"),
    ] {
        let bad = Storage::new(
            StorageOptions::new()
                .s3_endpoint(&server.endpoint)
                .s3_credentials(key, secret),
        );
        for e in [
            bad.read_all(&expected[0].0).unwrap_err(),
            bad.expand("s3://brisk-test/logs/*.txt").unwrap_err(),
            bad.write_all("s3://brisk-test/logs/new.txt", b"x")
                .unwrap_err(),
        ] {
            assert!(matches!(e, IoError::BadCredentials { .. }), "{e:?}");
            assert!(e.to_string().contains("s3://brisk-test/logs/"), "{e}");
        }
    }
    // Unknown options are refused, naming the URL.
    let odd = Storage::new(StorageOptions::new().with("aws_no_such_option", "1"));
    let e = odd.read_all("s3://brisk-test/x").unwrap_err();
    assert!(matches!(e, IoError::Config { .. }), "{e:?}");
    assert!(e.to_string().contains("aws_no_such_option"), "{e}");
    Ok(())
}

/// Large ranges read as parts requested in parallel (small parts here, so a small object has
/// many) give the same bytes as the object, whole, in ranges, in blocks, and compressed.
#[test]
fn s3_parallel_range_reads_match_the_object() -> anyhow::Result<()> {
    let Some(server) = MotoServer::start(&["brisk-par"]) else {
        return Ok(());
    };
    let opts = StorageOptions::new()
        .s3_endpoint(&server.endpoint)
        .s3_credentials(&server.key_id, &server.secret);
    let s3 = Storage::new(opts.clone().parallel_ranges(10_000, 3));
    let data = lines(20_000, "par");
    assert!(data.len() > 30 * 10_000, "many parts");
    let url = "s3://brisk-par/data.txt";
    s3.write_all(url, &data)?;
    let mut whole = Vec::new();
    s3.open_reader(url)?.read_to_end(&mut whole)?;
    assert!(whole == data, "whole object");
    for (off, len) in [
        (0u64, 20_000u64),
        (12_345, 98_765),
        (1, data.len() as u64 - 2),
    ] {
        let got = s3.read_range(url, off, len)?;
        assert!(
            got == data[off as usize..(off + len) as usize],
            "range {off}+{len}"
        );
    }
    let files = s3.expand(url)?;
    let mut joined = Vec::new();
    for b in blocks(&files, Some(70_000), CompressionChoice::Infer) {
        s3.open(&b, Some(b"\n"))?.read_to_end(&mut joined)?;
    }
    assert!(joined == data, "blocks");
    let mut w = s3.open_writer("s3://brisk-par/data.txt.gz")?;
    w.write_all(&data)?;
    w.finish()?;
    let mut unzipped = Vec::new();
    s3.open_reader("s3://brisk-par/data.txt.gz")?
        .read_to_end(&mut unzipped)?;
    assert!(unzipped == data, "gzip");

    // An object replaced while it is read: an error naming it, never a mix of versions.
    let mut r = s3.open_reader(url)?;
    let mut head = vec![0u8; 100];
    r.read_exact(&mut head)?;
    assert!(head == data[..100]);
    s3.write_all(url, &data.to_ascii_uppercase())?;
    let mut rest = Vec::new();
    let e = r.read_to_end(&mut rest).unwrap_err();
    assert!(e.to_string().contains(url), "{e}");

    // A missing object, and a bad setting: errors naming the URL.
    let e = s3
        .read_range("s3://brisk-par/missing.txt", 0, 100_000)
        .unwrap_err();
    assert!(matches!(e, IoError::NotFound { .. }), "{e:?}");
    let bad = Storage::new(opts.with("brisk_range_concurrency", "none"));
    let e = bad.read_range(url, 0, 100_000).unwrap_err();
    assert!(matches!(e, IoError::Config { .. }), "{e:?}");
    assert!(
        e.to_string().contains(url) && e.to_string().contains("brisk_range_concurrency"),
        "{e}"
    );
    Ok(())
}

#[test]
fn http_reads_whole_files() -> anyhow::Result<()> {
    let Some(python) = brisk_test_utils::s3::python() else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let data = lines(3000, "http");
    std::fs::write(dir.path().join("page.txt"), &data)?;
    brisk_io::write_all(&dir.path().join("page.txt.gz").display().to_string(), &data)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(&python)
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = (|| -> anyhow::Result<()> {
        let base = format!("http://127.0.0.1:{port}");
        assert_eq!(brisk_io::read_all(&format!("{base}/page.txt"))?, data);
        assert_eq!(brisk_io::read_all(&format!("{base}/page.txt.gz"))?, data);
        assert_eq!(
            brisk_io::size(&format!("{base}/page.txt"))?,
            data.len() as u64
        );
        let missing = format!("{base}/missing.txt");
        let e = brisk_io::read_all(&missing).unwrap_err();
        assert!(matches!(e, IoError::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains(&missing), "{e}");
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}
