//! Writers make their file or object appear only when finished: an unfinished writer (a failed
//! task) leaves nothing behind, locally and on S3 (moto), where large objects stream as
//! multipart uploads. Also: multipart part sizes checked before completion, and blocks pinned
//! to the version of the object their listing saw.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use brisk_io::{Compression, CompressionChoice, IoError, Storage, StorageOptions, blocks};
use brisk_test_utils::s3::MotoServer;

/// Bytes that do not compress much (so a gzip stream is several parts long).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 32);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(format!("{x:016x} {}\n", x % 997).as_bytes());
    }
    out.truncate(n);
    out
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn local_writers_appear_only_when_finished() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = noise(3 << 20, 1);
    for name in ["plain.txt", "packed.txt.gz", "sub/deeper.txt.zst"] {
        let url = dir.path().join(name).display().to_string();
        // Unfinished: nothing at the URL, no temporary file left.
        let mut w = brisk_io::open_writer(&url)?;
        w.write_all(&data)?;
        drop(w);
        assert!(
            !Path::new(&url).exists(),
            "{name}: unfinished writer left a file"
        );
        let parent = Path::new(&url).parent().unwrap_or(dir.path());
        assert!(
            listing(parent).iter().all(|f| !f.contains("brisk-tmp")),
            "{name}: temporary file left: {:?}",
            listing(parent)
        );
        // Finished: the whole file, compressed by extension, round-trips.
        let mut w = brisk_io::open_writer(&url)?;
        for chunk in data.chunks(100_003) {
            w.write_all(chunk)?;
        }
        assert!(!Path::new(&url).exists(), "{name}: visible before finish");
        assert_eq!(w.finish()?, url);
        assert!(brisk_io::read_all(&url)? == data, "{name}: round trip");
        // An unfinished rewrite leaves the old file as it was.
        let mut w = brisk_io::open_writer(&url)?;
        w.write_all(b"half a new file")?;
        drop(w);
        assert!(brisk_io::read_all(&url)? == data, "{name}: old file kept");
    }
    assert_eq!(listing(dir.path()), ["packed.txt.gz", "plain.txt", "sub"]);
    Ok(())
}

/// Multipart uploads in progress on moto (an aborted upload must not be among them).
/// A file still being written is not seen by a glob or a directory listing of its folder (its
/// temporary file is skipped), while an explicit path to it still works.
#[test]
fn unfinished_local_files_are_not_listed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().display().to_string();
    brisk_io::write_all(&format!("{root}/done.txt"), b"finished\n")?;
    let mut w = brisk_io::open_writer(&format!("{root}/busy.txt"))?;
    w.write_all(&noise(1 << 20, 2))?;
    w.flush()?;
    let on_disk = listing(dir.path());
    let tmp = on_disk.iter().find(|f| f.contains("brisk-tmp"));
    let Some(tmp) = tmp else {
        anyhow::bail!("no temporary file while writing: {on_disk:?}");
    };
    for pattern in [format!("{root}/*"), format!("{root}/*.txt*"), root.clone()] {
        let urls: Vec<String> = brisk_io::expand(&pattern)?
            .into_iter()
            .map(|f| f.url)
            .collect();
        assert_eq!(urls, [format!("{root}/done.txt")], "{pattern}");
    }
    let explicit = format!("{root}/{tmp}");
    assert_eq!(
        brisk_io::expand(&explicit)?.len(),
        1,
        "an explicit path is not filtered"
    );
    w.finish()?;
    let urls: Vec<String> = brisk_io::expand(&format!("{root}/*"))?
        .into_iter()
        .map(|f| f.url)
        .collect();
    assert_eq!(
        urls,
        [format!("{root}/busy.txt"), format!("{root}/done.txt")]
    );
    Ok(())
}

fn open_uploads(server: &MotoServer, bucket: &str) -> Option<usize> {
    let python = brisk_test_utils::s3::python()?;
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, boto3\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                 aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])\n\
             print(len(s3.list_multipart_uploads(Bucket=sys.argv[4]).get('Uploads', [])))",
            &server.endpoint,
            &server.key_id,
            &server.secret,
            bucket,
        ])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[test]
fn s3_writers_stream_multipart_and_abort_when_unfinished() -> anyhow::Result<()> {
    let Some(server) = MotoServer::start(&["brisk-w"]) else {
        return Ok(());
    };
    let opts = StorageOptions::new()
        .s3_endpoint(&server.endpoint)
        .s3_credentials(&server.key_id, &server.secret);
    let s3 = Storage::new(opts.clone().multipart_writes(5 << 20, 2));
    let data = noise(11 << 20, 2);

    for url in ["s3://brisk-w/big.txt", "s3://brisk-w/big.txt.gz"] {
        // Unfinished after several parts went up: the upload is aborted, no object appears.
        let mut w = s3.open_writer(url)?;
        w.write_all(&data)?;
        drop(w);
        assert!(!s3.exists(url)?, "{url}: unfinished writer left an object");
        if brisk_test_utils::s3::python().is_some() {
            assert_eq!(
                open_uploads(&server, "brisk-w"),
                Some(0),
                "{url}: upload not aborted"
            );
        }

        // Finished: a multipart object (its ETag says how many parts) that round-trips.
        let mut w = s3.open_writer(url)?;
        for chunk in data.chunks(1 << 20) {
            w.write_all(chunk)?;
        }
        assert!(!s3.exists(url)?, "{url}: visible before finish");
        w.finish()?;
        let info = s3.expand(url)?;
        let e_tag = info[0].e_tag.clone().unwrap_or_default();
        assert!(
            e_tag.contains('-'),
            "{url}: not a multipart object ({e_tag})"
        );
        assert!(s3.read_all(url)? == data, "{url}: round trip");
    }
    // Small objects stay one PUT; an unfinished one never reaches the store.
    let mut w = s3.open_writer("s3://brisk-w/small.txt.gz")?;
    w.write_all(b"just a line\n")?;
    drop(w);
    assert!(!s3.exists("s3://brisk-w/small.txt.gz")?);
    s3.write_all("s3://brisk-w/small.txt.gz", b"just a line\n")?;
    assert_eq!(s3.read_all("s3://brisk-w/small.txt.gz")?, b"just a line\n");
    let mut w = s3.open_writer_as("s3://brisk-w/exact", Compression::None)?;
    w.write_all(&data[..5 << 20])?;
    w.finish()?;
    assert!(s3.read_all("s3://brisk-w/exact")? == data[..5 << 20]);

    // A part size under the stores' minimum is refused when the writer opens, naming it.
    let bad = Storage::new(opts.clone().multipart_writes(1 << 20, 2));
    let e = bad
        .open_writer("s3://brisk-w/x.txt")
        .err()
        .expect("refused");
    assert!(matches!(e, IoError::Config { .. }), "{e:?}");
    assert!(e.to_string().contains("s3://brisk-w/x.txt"), "{e}");

    // Explicit uploads: a small part that is not the last is refused before the store is.
    let plain = Storage::new(opts);
    let url = "s3://brisk-w/parts.bin";
    let up = plain.create_upload(url)?;
    let p0 = up.put_part(0, vec![1u8; 1000])?;
    let p1 = up.put_part(1, vec![2u8; 1000])?;
    let e = up.complete(vec![p1.clone(), p0]).unwrap_err();
    assert!(
        matches!(
            e,
            IoError::PartTooSmall {
                index: 0,
                size: 1000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains(url), "{e}");
    let p0 = up.put_part(0, vec![1u8; 5 << 20])?;
    up.complete(vec![p0, p1])?;
    let got = plain.read_all(url)?;
    assert_eq!(got.len(), (5 << 20) + 1000);
    assert!(got[..5 << 20].iter().all(|&b| b == 1) && got[5 << 20..].iter().all(|&b| b == 2));
    Ok(())
}

#[test]
fn s3_blocks_read_the_listed_version() -> anyhow::Result<()> {
    let Some(server) = MotoServer::start(&["brisk-v"]) else {
        return Ok(());
    };
    let s3 = Storage::new(
        StorageOptions::new()
            .s3_endpoint(&server.endpoint)
            .s3_credentials(&server.key_id, &server.secret)
            .parallel_ranges(64 << 10, 2),
    );
    let url = "s3://brisk-v/data.txt";
    let data = noise(400_000, 3);
    s3.write_all(url, &data)?;
    let files = s3.expand(url)?;
    assert!(files[0].e_tag.is_some(), "moto gives ETags");
    let bs = blocks(&files, Some(150_000), CompressionChoice::Infer);
    assert!(
        bs.iter()
            .all(|b| b.e_tag == files[0].e_tag && b.file_size == Some(data.len() as u64))
    );
    let mut joined = Vec::new();
    s3.open(&bs[0], Some(b"\n"))?.read_to_end(&mut joined)?;

    // Replaced after the listing: the other blocks fail, naming the URL, rather than mixing.
    s3.write_all(url, &data.to_ascii_uppercase())?;
    for b in &bs[1..] {
        common::assert_changed(&s3, b, url);
    }
    // Listed again, every block reads the new version.
    let files = s3.expand(url)?;
    let mut again = Vec::new();
    for b in blocks(&files, Some(150_000), CompressionChoice::Infer) {
        s3.open(&b, Some(b"\n"))?.read_to_end(&mut again)?;
    }
    assert!(again == data.to_ascii_uppercase());
    Ok(())
}
