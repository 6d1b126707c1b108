//! brisk-io on local files: globs, blocks, compression round trips (checked against Python's
//! own codecs when a reference interpreter is available), and errors that name the path.

use std::io::{Read, Write};
use std::path::Path;

use brisk_io::{Compression, CompressionChoice, IoError, Storage, blocks};

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn text(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{i}: the quick brown fox {} jumps\n", "é".repeat(i % 5)))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn globs_are_sorted_and_precise() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    for name in [
        "lines_2.txt",
        "lines_10.txt",
        "lines_1.txt",
        "other.txt",
        "sub/lines_3.txt",
    ] {
        brisk_io::write_all(&p(dir.path(), name), b"x\n")?;
    }
    let urls: Vec<String> = brisk_io::expand(&p(dir.path(), "lines_*.txt"))?
        .into_iter()
        .map(|f| f.url)
        .collect();
    let want: Vec<String> = ["lines_1.txt", "lines_10.txt", "lines_2.txt"]
        .iter()
        .map(|n| p(dir.path(), n))
        .collect();
    assert_eq!(urls, want);
    // `*` does not cross directories; `**` does.
    assert_eq!(brisk_io::expand(&p(dir.path(), "*/lines_*.txt"))?.len(), 1);
    assert_eq!(brisk_io::expand(&p(dir.path(), "**/lines_*.txt"))?.len(), 4);
    // A directory expands to the files directly inside it.
    assert_eq!(brisk_io::expand(&p(dir.path(), ""))?.len(), 4);
    // file:// URLs keep their form.
    let f = brisk_io::expand(&format!("file://{}", p(dir.path(), "other.txt")))?;
    assert_eq!(f[0].url, format!("file://{}", p(dir.path(), "other.txt")));
    assert_eq!(f[0].size, 2);
    Ok(())
}

#[test]
fn missing_things_are_named() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pat = p(dir.path(), "nothing_*.txt");
    let e = brisk_io::expand(&pat).unwrap_err();
    assert!(matches!(e, IoError::NoMatch { .. }), "{e:?}");
    assert!(e.to_string().contains(&pat), "{e}");
    let missing = p(dir.path(), "missing.txt");
    for e in [
        brisk_io::expand(&missing).unwrap_err(),
        brisk_io::read_all(&missing).unwrap_err(),
        brisk_io::read_block(&missing, 0, 10, Some(b"\n")).unwrap_err(),
    ] {
        assert!(matches!(e, IoError::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains(&missing), "{e}");
    }
    assert!(!Storage::default().exists(&missing)?);
    let e = brisk_io::expand("ftp://host/x").unwrap_err();
    assert!(e.to_string().contains("ftp"), "{e}");
    let e = brisk_io::expand(&p(dir.path(), "[unclosed*")).unwrap_err();
    assert!(matches!(e, IoError::BadGlob { .. }), "{e:?}");
    Ok(())
}

#[test]
fn blocks_cover_files_exactly() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = text(3000);
    let url = p(dir.path(), "big.txt");
    brisk_io::write_all(&url, &data)?;
    let files = brisk_io::expand(&url)?;
    for bs in [1u64, 100, 4096, 50_000, 10_000_000] {
        let mut joined = Vec::new();
        let bl = blocks(&files, Some(bs), CompressionChoice::Infer);
        assert_eq!(bl.len() as u64, (data.len() as u64).div_ceil(bs));
        for b in &bl {
            let mut r = Storage::default().open(b, Some(b"\n"))?;
            let mut got = Vec::new();
            r.read_to_end(&mut got)?;
            if !got.is_empty() {
                assert_eq!(got.last(), Some(&b'\n'));
            }
            joined.extend(got);
        }
        assert_eq!(joined, data, "blocksize {bs}");
    }
    // Raw ranges are exact.
    assert_eq!(brisk_io::read_range(&url, 5, 10)?, data[5..15].to_vec());
    let n = data.len() as u64;
    assert_eq!(
        brisk_io::read_range(&url, n - 3, 100)?,
        data[data.len() - 3..].to_vec()
    );
    assert_eq!(brisk_io::size(&url)?, n);
    Ok(())
}

/// Decompress `path` with Python's standard library (the reference codecs).
fn python_decompress(path: &str, module: &str) -> Option<Vec<u8>> {
    let python = std::env::var("BRISK_PYTHON").ok().or_else(|| {
        let home = std::env::var("HOME").ok()?;
        let p = format!("{home}/.cache/brisk-test-venv/bin/python");
        Path::new(&p).exists().then_some(p)
    });
    let Some(python) = python else {
        assert!(
            std::env::var("BRISK_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "BRISK_REQUIRE_PYTHON=1 but no Python found"
        );
        eprintln!("note: no Python reference interpreter; skipping the cross-check");
        return None;
    };
    let code = format!(
        "import sys,{module}; sys.stdout.buffer.write({module}.open(sys.argv[1],'rb').read())"
    );
    let out = std::process::Command::new(python)
        .args(["-c", &code, path])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

#[test]
fn compression_round_trips_by_extension() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = text(2000);
    for (ext, c, py) in [
        ("gz", Compression::Gzip, Some("gzip")),
        ("zst", Compression::Zstd, None),
        ("bz2", Compression::Bz2, Some("bz2")),
        ("xz", Compression::Xz, Some("lzma")),
    ] {
        let url = p(dir.path(), &format!("data.txt.{ext}"));
        let mut w = brisk_io::open_writer(&url)?;
        for chunk in data.chunks(777) {
            w.write_all(chunk)?;
        }
        w.finish()?;
        let raw = std::fs::read(&url)?;
        assert!(raw.len() < data.len() / 2, "{ext} did not compress");
        assert_eq!(brisk_io::read_all(&url)?, data, "{ext}");
        let mut streamed = Vec::new();
        brisk_io::open_reader(&url)?.read_to_end(&mut streamed)?;
        assert_eq!(streamed, data, "{ext}");
        // One whole block, decompressed.
        let b = blocks(
            &brisk_io::expand(&url)?,
            Some(100),
            CompressionChoice::Infer,
        );
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].compression, c);
        let mut r = Storage::default().open(&b[0], Some(b"\n"))?;
        let mut got = Vec::new();
        r.read_to_end(&mut got)?;
        assert_eq!(got, data);
        // A byte range of a compressed file is refused, naming it.
        let e = brisk_io::read_block(&url, 10, 10, Some(b"\n")).unwrap_err();
        assert!(matches!(e, IoError::CompressedRange { .. }), "{e:?}");
        assert!(e.to_string().contains(&url));
        if let Some(module) = py
            && let Some(reference) = python_decompress(&url, module)
        {
            assert_eq!(reference, data, "Python's {module} disagrees");
        }
    }
    Ok(())
}

#[test]
fn corrupt_compressed_data_names_the_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    for ext in ["gz", "zst", "bz2", "xz"] {
        let url = p(dir.path(), &format!("bad.txt.{ext}"));
        std::fs::write(&url, b"this is not compressed at all, not even a little")?;
        let e = brisk_io::read_all(&url).unwrap_err();
        assert!(matches!(e, IoError::Compression { .. }), "{ext}: {e:?}");
        assert!(e.to_string().contains(&url), "{e}");
    }
    Ok(())
}

#[test]
fn explicit_compression_and_names() -> anyhow::Result<()> {
    assert_eq!("gzip".parse::<Compression>()?, Compression::Gzip);
    assert_eq!(
        "infer".parse::<CompressionChoice>()?,
        CompressionChoice::Infer
    );
    let e = "snappy".parse::<Compression>().unwrap_err();
    assert!(e.to_string().contains("snappy"), "{e}");
    let dir = tempfile::tempdir()?;
    let url = p(dir.path(), "noext");
    let s = Storage::default();
    let mut w = s.open_writer_as(&url, Compression::Gzip)?;
    w.write_all(b"hello\n")?;
    w.finish()?;
    let mut out = Vec::new();
    s.open_reader_as(&url, Compression::Gzip)?
        .read_to_end(&mut out)?;
    assert_eq!(out, b"hello\n");
    Ok(())
}
