//! All file access of the crate, in one place, through `brisk-io`: local paths and
//! object-store URLs (`s3://`, `gs://`, `az://`, `http(s)://`), globs, delimiter-aligned byte
//! ranges, and compression by extension (`.gz`, `.zst`, `.bz2`, `.xz`).
//!
//! Readers carry a [`Storage`] (credentials and endpoints, or the environment) in their task
//! specs, so a cluster's workers read with the same settings as the client. Local Parquet
//! files are memory-mapped; objects are fetched by byte ranges (the Parquet reader fetches only the column chunks it
//! decodes).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use brisk_io::{Compression, IoError};
pub(crate) use brisk_io::{FileInfo, Storage};
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};

/// The files a path, directory, URL or glob names, in natural order (`part.2` before
/// `part.10`). A directory (or object prefix) gives the files directly inside it, without
/// hidden ones (`.…`, `_…`, such as `_SUCCESS`). Matching nothing is an error naming the
/// pattern.
pub(crate) fn expand(storage: &Storage, pattern: &str) -> Result<Vec<FileInfo>> {
    let mut files = storage.expand(pattern)?;
    let single = files.len() == 1 && files[0].url == pattern;
    if !brisk_io::is_glob(pattern) && !single {
        files.retain(|f| !is_hidden(&f.url));
        if files.is_empty() {
            return Err(IoError::NoMatch {
                pattern: pattern.to_string(),
            }
            .into());
        }
    }
    files.sort_by(|a, b| natural_cmp(&a.url, &b.url));
    Ok(files)
}

fn is_hidden(url: &str) -> bool {
    let name = url.rsplit(['/', '\\']).next().unwrap_or(url);
    name.starts_with('.') || name.starts_with('_')
}

/// Compare paths with runs of digits as numbers: `part.2` before `part.10`.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x, y) {
            ((true, p), (true, q)) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                p.len().cmp(&q.len()).then_with(|| p.cmp(q))
            }
            ((_, p), (_, q)) => p.cmp(q),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// Whether `url` is compressed (by its extension), so that it cannot be split into blocks.
pub(crate) fn is_compressed(url: &str) -> bool {
    Compression::from_path(url).is_compressed()
}

/// The local path `url` names, or `None` for an object-store URL.
pub(crate) fn local_path(url: &str) -> Option<PathBuf> {
    if let Some(p) = url.strip_prefix("file://") {
        return Some(PathBuf::from(p));
    }
    match url.split_once("://") {
        Some((scheme, _))
            if scheme.len() > 1 && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            None
        }
        _ => Some(PathBuf::from(url)),
    }
}

/// The version of a file that its listing saw (size and, for objects, ETag). Every read of a
/// reader's blocks is pinned to it, so all partitions of one object read the same version and
/// an object replaced after the listing is [`IoError::Changed`] naming its URL (local files
/// are read as they are).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Version {
    /// The size the listing saw.
    pub size: Option<u64>,
    /// The object's ETag, if the store gave one.
    pub e_tag: Option<String>,
}

impl Version {
    /// The version `info` lists.
    pub fn of(info: &FileInfo) -> Version {
        Version {
            size: Some(info.size),
            e_tag: info.e_tag.clone(),
        }
    }

    /// A brisk-io block of `url` from `offset`, `length` bytes (`None`: to the end), pinned
    /// to this version.
    fn block(&self, url: &str, offset: u64, length: Option<u64>) -> brisk_io::Block {
        brisk_io::Block {
            url: url.to_string(),
            offset,
            length,
            compression: Compression::from_path(url),
            file_size: self.size,
            e_tag: self.e_tag.clone(),
        }
    }
}

/// The records of `url` that start in bytes `start..end` (each block begins after the first
/// newline at or after `start`, or at 0, and ends after the first newline at or after `end`),
/// so consecutive blocks cover every line exactly once. A compressed file is read whole and
/// decompressed (its blocks always span the whole file). Reads are pinned to `version`.
pub(crate) fn read_block(
    storage: &Storage,
    url: &str,
    version: &Version,
    start: u64,
    end: u64,
) -> Result<Vec<u8>> {
    let block = if is_compressed(url) {
        version.block(url, 0, None)
    } else if start >= end {
        return Ok(Vec::new());
    } else {
        version.block(url, start, Some(end - start))
    };
    let mut r = storage.open(&block, Some(b"\n"))?;
    let mut buf = Vec::with_capacity(block.length.map_or(0, |n| n.min(1 << 30) as usize));
    r.read_to_end(&mut buf)
        .map_err(|e| IoError::from_std(url, e))?;
    Ok(buf)
}

/// The first `n` bytes of `url`, decompressed (fewer if it is shorter), pinned to `version`.
pub(crate) fn read_head(
    storage: &Storage,
    url: &str,
    version: &Version,
    n: u64,
) -> Result<Vec<u8>> {
    let r = storage.open(&version.block(url, 0, None), None)?;
    let mut buf = Vec::new();
    r.take(n)
        .read_to_end(&mut buf)
        .map_err(|e| IoError::from_std(url, e))?;
    Ok(buf)
}

/// A writer to `url`, compressed by its extension. Finish it with [`finish`].
pub(crate) fn create(storage: &Storage, url: &str) -> Result<brisk_io::Writer> {
    Ok(storage.open_writer(url)?)
}

/// Complete a file made by [`create`] (flushes, and uploads an object).
pub(crate) fn finish(url: &str, mut w: brisk_io::Writer) -> Result<()> {
    w.flush().map_err(|e| IoError::from_std(url, e))?;
    w.finish()?;
    Ok(())
}

/// A local file opened for random access (memory-mapped by the Parquet reader).
pub(crate) fn open_local(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(DataFrameError::io("cannot open", path))
}

/// Create a local file (and its parent directories), buffered.
pub(crate) fn create_local(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(DataFrameError::io("cannot create", parent))?;
    }
    let f = std::fs::File::create(path).map_err(DataFrameError::io("cannot create", path))?;
    Ok(std::io::BufWriter::with_capacity(1 << 20, f))
}

/// Flush a writer made by [`create_local`].
pub(crate) fn finish_local(path: &Path, mut w: std::io::BufWriter<std::fs::File>) -> Result<()> {
    w.flush().map_err(DataFrameError::io("cannot write", path))
}

/// How many bytes at the end of an object are fetched first for its Parquet footer.
const FOOTER_GUESS: u64 = 64 * 1024;

/// The footer of an object (its last bytes, holding the Parquet metadata), as a reader over a
/// logical file of `size` bytes whose only readable part is that footer.
pub(crate) fn object_footer(storage: &Storage, url: &str, size: u64) -> Result<TailReader> {
    let guess = FOOTER_GUESS.min(size);
    let mut tail = storage.read_range(url, size - guess, guess)?;
    // The last 8 bytes: the metadata's length (u32, little endian) and "PAR1".
    if tail.len() >= 8 {
        let n = tail.len();
        let meta_len = u32::from_le_bytes([tail[n - 8], tail[n - 7], tail[n - 6], tail[n - 5]]);
        let need = (u64::from(meta_len) + 8).min(size);
        if need > tail.len() as u64 {
            tail = storage.read_range(url, size - need, need)?;
        }
    }
    let base = size - tail.len() as u64;
    Ok(TailReader {
        bytes: tail,
        base,
        size,
        pos: base,
    })
}

/// A `Read + Seek` view of the last bytes of a file (what the Parquet metadata reader needs).
pub(crate) struct TailReader {
    bytes: Vec<u8>,
    base: u64,
    size: u64,
    pos: u64,
}

impl Read for TailReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos < self.base {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "read before the fetched footer",
            ));
        }
        let from = (self.pos - self.base) as usize;
        let rest = self.bytes.get(from..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl polars::io::mmap::MmapBytesReader for TailReader {}

impl Seek for TailReader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_every_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        let text: String = (0..200)
            .map(|i| format!("line{i}{}\n", "x".repeat(i % 7)))
            .collect();
        std::fs::write(&p, &text).unwrap();
        let path = p.to_str().unwrap();
        let size = text.len() as u64;
        let storage = Storage::default();
        for bs in [1u64, 2, 5, 7, 13, 64, 1000, 5000] {
            let mut all = Vec::new();
            let mut s = 0;
            while s < size {
                let e = (s + bs).min(size);
                all.extend(read_block(&storage, path, &Version::default(), s, e).unwrap());
                s = e;
            }
            assert_eq!(String::from_utf8(all).unwrap(), text, "blocksize {bs}");
        }
    }

    #[test]
    fn natural_order() {
        let mut v = vec![
            "part.10.csv",
            "part.2.csv",
            "part.1.csv",
            "a",
            "part.02.csv",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "a",
                "part.1.csv",
                "part.02.csv",
                "part.2.csv",
                "part.10.csv"
            ]
        );
    }

    #[test]
    fn local_paths_and_urls() {
        assert_eq!(local_path("a/b.csv"), Some(PathBuf::from("a/b.csv")));
        assert_eq!(
            local_path("file:///x/b.csv"),
            Some(PathBuf::from("/x/b.csv"))
        );
        assert_eq!(local_path("s3://bucket/b.csv"), None);
        assert_eq!(local_path("https://host/b.csv"), None);
        assert_eq!(
            local_path("C:\\data\\b.csv"),
            Some(PathBuf::from("C:\\data\\b.csv"))
        );
    }

    #[test]
    fn missing_files_and_patterns_are_named() {
        let storage = Storage::default();
        let err = expand(&storage, "/no/such/file.csv").unwrap_err();
        assert!(err.to_string().contains("/no/such/file.csv"), "{err}");
        let err = expand(&storage, "/no/such/dir/*.csv").unwrap_err();
        assert!(err.to_string().contains("/no/such/dir/*.csv"), "{err}");
    }

    #[test]
    fn directories_skip_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["part.10.csv", "part.2.csv", "_SUCCESS", ".part.2.csv.crc"] {
            std::fs::write(dir.path().join(name), "a\n1\n").unwrap();
        }
        let files = expand(&Storage::default(), dir.path().to_str().unwrap()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.url.rsplit('/').next().unwrap().to_string())
            .collect();
        assert_eq!(names, ["part.2.csv", "part.10.csv"]);
    }
}
