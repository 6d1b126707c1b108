//! Readers and writers: CSV, newline-delimited JSON, Parquet, and frames already in memory.
//! Every file access goes through [`crate::source`] (brisk-io: local paths, object-store
//! URLs, globs, compression by extension).

pub(crate) mod csv;
mod csv_fast;
pub(crate) mod csv_infer;
mod csv_tokenize;
pub(crate) mod hive;
pub(crate) mod json;
pub(crate) mod memory;
pub(crate) mod parquet;
pub(crate) mod stats;
pub(crate) mod write;

use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};
use crate::source::{self, FileInfo, Storage, Version};

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
fn blocks(files: &[FileInfo], blocksize: Option<u64>) -> Result<Vec<Block>> {
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

/// How a line-oriented reader (CSV, newline-delimited JSON) is partitioned: the files a
/// pattern names, cut into blocks at line boundaries, and a sample of the first file for the
/// schema. Shared by `read_csv` and `read_json`, so both split, order and sample the same way.
pub(crate) struct TextPlan {
    /// The files, in natural order.
    pub files: Vec<FileInfo>,
    /// One partition each.
    pub blocks: Vec<Block>,
    /// The first bytes of the first file, cut after the last complete line.
    pub sample: Vec<u8>,
}

impl TextPlan {
    /// Plan the partitions of `pattern` with `blocksize` (see [`blocks`]), sampling `sample`
    /// bytes of the first file.
    pub fn new(
        storage: &Storage,
        pattern: &str,
        blocksize: Option<u64>,
        sample: u64,
    ) -> Result<TextPlan> {
        let files = source::expand(storage, pattern)?;
        let blocks = blocks(&files, blocksize)?;
        let sample = sample_lines(storage, &files[0], sample)?;
        Ok(TextPlan {
            files,
            blocks,
            sample,
        })
    }

    /// The first file (whose sample gives the schema).
    pub fn first(&self) -> &FileInfo {
        &self.files[0]
    }

    /// The number of partitions.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// The file, byte range and listed version of partition `i`.
    pub fn block(&self, i: usize) -> (String, u64, u64, Version) {
        let b = &self.blocks[i];
        let f = &self.files[b.file];
        (f.url.clone(), b.start, b.end, Version::of(f))
    }
}

/// The lines of one block (see [`source::read_block`]), or `None` when it holds nothing but
/// whitespace (an empty partition of the reader's schema).
pub(crate) fn read_lines(
    storage: &Storage,
    url: &str,
    version: &Version,
    start: u64,
    end: u64,
) -> Result<Option<Vec<u8>>> {
    let bytes = source::read_block(storage, url, version, start, end)?;
    Ok(if bytes.iter().all(|c| c.is_ascii_whitespace()) {
        None
    } else {
        Some(bytes)
    })
}

/// A sample of the start of `url` (decompressed): up to `n` bytes, cut after the last complete
/// line (unless the whole file fits).
pub(crate) fn sample_lines(storage: &Storage, file: &FileInfo, n: u64) -> Result<Vec<u8>> {
    let mut bytes = source::read_head(storage, &file.url, &Version::of(file), n)?;
    if bytes.len() as u64 >= n
        && let Some(last) = bytes.iter().rposition(|&b| b == b'\n')
    {
        bytes.truncate(last + 1);
    }
    Ok(bytes)
}
