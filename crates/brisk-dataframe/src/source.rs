//! All file access of the crate, in one place: expanding a path or glob into files with their
//! sizes, reading a byte range aligned to line starts, reading a whole file, opening a file for
//! random access, and writing a file.
//!
//! Only local paths are implemented here. Object-store URLs (`s3://…`) and compression belong
//! to `brisk-io`; once it exists, this module is the one place to switch over.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{DataFrameError, Result};

/// One input file and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileInfo {
    /// The path as given or as the glob produced it.
    pub path: String,
    /// The size in bytes.
    pub size: u64,
}

fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// The files a path or glob pattern names, sorted by path (a glob) or as given (a plain path).
/// A pattern that matches nothing, or a plain path that does not exist, is an error naming it.
pub(crate) fn expand(pattern: &str) -> Result<Vec<FileInfo>> {
    if let Some(scheme) = url_scheme(pattern) {
        return Err(DataFrameError::invalid(
            "path",
            format!(
                "{pattern}: {scheme}:// URLs need brisk-io, which this build does not include yet; \
                 use a local path"
            ),
        ));
    }
    let pattern = pattern.strip_prefix("file://").unwrap_or(pattern);
    let paths: Vec<PathBuf> = if has_glob(pattern) {
        let entries = glob::glob(pattern).map_err(|e| DataFrameError::BadPattern {
            pattern: pattern.to_string(),
            message: e.to_string(),
        })?;
        let mut v = Vec::new();
        for entry in entries {
            let p = entry.map_err(|e| {
                let path = e.path().to_path_buf();
                DataFrameError::io("cannot list", path)(e.into())
            })?;
            if p.is_file() {
                v.push(p);
            }
        }
        v.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
        v
    } else {
        let p = PathBuf::from(pattern);
        if p.is_dir() {
            let mut v = Vec::new();
            let rd = std::fs::read_dir(&p).map_err(DataFrameError::io("cannot list", &p))?;
            for entry in rd {
                let entry = entry.map_err(DataFrameError::io("cannot list", &p))?;
                let path = entry.path();
                let hidden = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.') || n.starts_with('_'));
                if path.is_file() && !hidden {
                    v.push(path);
                }
            }
            v.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
            v
        } else if p.exists() {
            vec![p]
        } else {
            return Err(DataFrameError::NoFiles {
                pattern: pattern.to_string(),
            });
        }
    };
    if paths.is_empty() {
        return Err(DataFrameError::NoFiles {
            pattern: pattern.to_string(),
        });
    }
    paths
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).map_err(DataFrameError::io("cannot stat", &p))?;
            Ok(FileInfo {
                path: p.to_string_lossy().into_owned(),
                size: meta.len(),
            })
        })
        .collect()
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

fn url_scheme(p: &str) -> Option<&str> {
    let (scheme, _) = p.split_once("://")?;
    (scheme != "file" && scheme.chars().all(|c| c.is_ascii_alphanumeric())).then_some(scheme)
}

/// The bytes of `path` from `start` up to `end`, both moved forward to line starts: a block
/// begins after the first `delimiter` at or after `start - 1` (at 0 for `start == 0`) and ends
/// after the first delimiter at or after `end - 1` (at the end of the file). Consecutive blocks
/// therefore cover every line exactly once.
pub(crate) fn read_block(path: &str, start: u64, end: u64, delimiter: u8) -> Result<Vec<u8>> {
    let mut f = File::open(path).map_err(DataFrameError::io("cannot open", path))?;
    let size = f
        .metadata()
        .map_err(DataFrameError::io("cannot stat", path))?
        .len();
    let end = end.min(size);
    if start >= end {
        return Ok(Vec::new());
    }
    // Read from one byte before `start`, so that a line starting exactly at `start` is seen.
    let from = start.saturating_sub(1);
    f.seek(SeekFrom::Start(from))
        .map_err(DataFrameError::io("cannot seek in", path))?;
    let mut buf = Vec::with_capacity((end - from) as usize + 4096);
    (&mut f)
        .take(end - from)
        .read_to_end(&mut buf)
        .map_err(DataFrameError::io("cannot read", path))?;
    // The block's start.
    let begin = if start == 0 {
        0
    } else {
        match memchr(delimiter, &buf) {
            Some(i) => i + 1,
            None => return Ok(Vec::new()),
        }
    };
    // Extend past `end` to the end of the line that contains byte `end - 1`.
    let last = buf.len() - 1;
    if buf[last] != delimiter && end < size {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let n = f
                .read(&mut chunk)
                .map_err(DataFrameError::io("cannot read", path))?;
            if n == 0 {
                break;
            }
            if let Some(i) = memchr(delimiter, &chunk[..n]) {
                buf.extend_from_slice(&chunk[..=i]);
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }
    if begin >= buf.len() {
        return Ok(Vec::new());
    }
    if begin > 0 {
        buf.drain(..begin);
    }
    Ok(buf)
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// The first `n` bytes of `path` (fewer if the file is shorter).
pub(crate) fn read_head(path: &str, n: u64) -> Result<Vec<u8>> {
    let f = File::open(path).map_err(DataFrameError::io("cannot open", path))?;
    let mut buf = Vec::new();
    f.take(n)
        .read_to_end(&mut buf)
        .map_err(DataFrameError::io("cannot read", path))?;
    Ok(buf)
}

/// A file opened for random access (what the Parquet reader needs).
pub(crate) fn open(path: &str) -> Result<File> {
    File::open(path).map_err(DataFrameError::io("cannot open", path))
}

/// Create `path` (and its parent directories) for writing.
pub(crate) fn create(path: &Path) -> Result<std::io::BufWriter<File>> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(DataFrameError::io("cannot create", parent))?;
    }
    let f = File::create(path).map_err(DataFrameError::io("cannot create", path))?;
    Ok(std::io::BufWriter::with_capacity(1 << 20, f))
}

/// Flush a writer made by [`create`].
pub(crate) fn finish(path: &Path, mut w: std::io::BufWriter<File>) -> Result<()> {
    w.flush().map_err(DataFrameError::io("cannot write", path))
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
        for bs in [1u64, 2, 5, 7, 13, 64, 1000, 5000] {
            let mut all = Vec::new();
            let mut s = 0;
            while s < size {
                let e = (s + bs).min(size);
                all.extend(read_block(path, s, e, b'\n').unwrap());
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
    fn missing_files_and_patterns_are_named() {
        let err = expand("/no/such/file.csv").unwrap_err();
        assert!(err.to_string().contains("/no/such/file.csv"), "{err}");
        let err = expand("/no/such/dir/*.csv").unwrap_err();
        assert!(err.to_string().contains("no files match"), "{err}");
        let err = expand("s3://bucket/x.csv").unwrap_err();
        assert!(err.to_string().contains("brisk-io"), "{err}");
    }
}
