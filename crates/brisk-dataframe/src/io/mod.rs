//! Readers and writers: CSV, newline-delimited JSON, Parquet, and frames already in memory.
//! Every file access goes through [`crate::source`] (brisk-io: local paths, object-store
//! URLs, globs, compression by extension).

pub(crate) mod csv;
pub(crate) mod json;
pub(crate) mod memory;
pub(crate) mod parquet;
pub(crate) mod stats;
pub(crate) mod write;

use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};
use crate::source::{self, FileInfo, Storage};

/// The default block size for splitting text files: 64 MiB, as in Dask.
pub const DEFAULT_BLOCKSIZE: u64 = 64 * 1024 * 1024;

/// A byte range of one file, read as one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Block {
    /// Index into the file list.
    pub file: usize,
    /// First byte (moved forward to a line start when read).
    pub start: u64,
    /// End byte (moved forward to a line end when read).
    pub end: u64,
}

/// The blocks of `files`, each at most `blocksize` bytes (one block per file when `None`, and
/// always for compressed files, which cannot be split). Empty files still give one (empty)
/// block, so every file is checked and the frame always has a partition.
pub(crate) fn blocks(files: &[FileInfo], blocksize: Option<u64>) -> Result<Vec<Block>> {
    if blocksize == Some(0) {
        return Err(DataFrameError::invalid("blocksize", "must be positive"));
    }
    let mut out = Vec::new();
    for (f, info) in files.iter().enumerate() {
        match blocksize {
            Some(bs) if info.size > bs && !source::is_compressed(&info.url) => {
                let mut s = 0;
                while s < info.size {
                    let e = (s + bs).min(info.size);
                    out.push(Block {
                        file: f,
                        start: s,
                        end: e,
                    });
                    s = e;
                }
            }
            _ => out.push(Block {
                file: f,
                start: 0,
                end: info.size,
            }),
        }
    }
    Ok(out)
}

/// A sample of the start of `url` (decompressed): up to `n` bytes, cut after the last complete
/// line (unless the whole file fits).
pub(crate) fn sample_lines(storage: &Storage, url: &str, n: u64) -> Result<Vec<u8>> {
    let mut bytes = source::read_head(storage, url, n)?;
    if bytes.len() as u64 >= n
        && let Some(last) = bytes.iter().rposition(|&b| b == b'\n')
    {
        bytes.truncate(last + 1);
    }
    Ok(bytes)
}
