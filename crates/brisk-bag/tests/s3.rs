//! Bags over a real S3-compatible server (moto on 127.0.0.1): the same answers as from local
//! files, for plain and compressed objects and for blocks; writing bags back to the bucket.

use brisk_bag::TextSource;
use brisk_core::Collection;
use brisk_io::{Storage, StorageOptions};
use brisk_test_utils::s3::MotoServer;

#[test]
fn bags_read_and_write_s3() -> anyhow::Result<()> {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(server) = MotoServer::start(&["bag-test"]) else {
        return Ok(());
    };
    let s3 = Storage::new(
        StorageOptions::new()
            .s3_endpoint(&server.endpoint)
            .s3_credentials(&server.key_id, &server.secret),
    );
    let dir = tempfile::tempdir()?;
    let mut total = 0u64;
    let mut pythons = 0u64;
    for i in 0..4 {
        let body: String = (0..2000)
            .map(|j| {
                if (i + j) % 5 == 0 {
                    format!("{i}-{j} python rocks\n")
                } else {
                    format!("{i}-{j} rust too\n")
                }
            })
            .collect();
        total += 2000;
        pythons += body.lines().filter(|l| l.contains("python")).count() as u64;
        let ext = if i % 2 == 0 { "txt" } else { "txt.gz" };
        s3.write_all(
            &format!("s3://bag-test/logs/lines_{i}.{ext}"),
            body.as_bytes(),
        )?;
        brisk_io::write_all(
            &dir.path()
                .join(format!("lines_{i}.{ext}"))
                .display()
                .to_string(),
            body.as_bytes(),
        )?;
    }
    let remote = TextSource::new("s3://bag-test/logs/lines_*")
        .storage(s3.clone())
        .blocksize(Some(10_000));
    let local =
        TextSource::new(&dir.path().join("lines_*").display().to_string()).blocksize(Some(10_000));
    let rb = remote.lines()?;
    assert_eq!(rb.npartitions(), local.lines()?.npartitions());
    assert_eq!(rb.count().compute()?, total);
    assert_eq!(
        rb.filter(|l| l.contains("python")).count().compute()?,
        pythons
    );
    assert_eq!(rb.compute()?, local.lines()?.compute()?);
    assert_eq!(
        rb.take(3)?,
        ["0-0 python rocks", "0-1 rust too", "0-2 rust too"]
    );

    // Write a bag back to the bucket, compressed, and read it again.
    let urls = rb
        .filter(|l| l.contains("python"))
        .to_textfiles_with("s3://bag-test/out/part-*.txt.zst", s3.clone())?;
    assert_eq!(urls.len(), rb.npartitions());
    let back = TextSource::new("s3://bag-test/out/part-*.txt.zst")
        .storage(s3.clone())
        .lines()?;
    assert_eq!(back.count().compute()?, pythons);

    // Errors name the URL.
    let e = TextSource::new("s3://bag-test/nothing-*.txt")
        .storage(s3.clone())
        .lines()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("no files match s3://bag-test/nothing-*.txt"),
        "{e}"
    );
    let e = TextSource::new("s3://no-bucket-here/x-*.txt")
        .storage(s3)
        .lines()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("bucket \"no-bucket-here\" does not exist"),
        "{e}"
    );
    Ok(())
}
