//! Byte-range blocks aligned to a delimiter, as `dask.bytes.read_block` defines them.
//!
//! A block asks for bytes `offset..offset + length` of a file. With a delimiter (`b"\n"` for
//! lines), it starts just after the first delimiter that begins at or after `offset` (or at 0
//! when `offset` is 0) and ends just after the first delimiter that begins at or after
//! `offset + length` (or at the end of the file). Neighbouring blocks therefore split a file
//! into whole records with nothing lost and nothing read twice, whatever the block size.

use std::io::Read;

use memchr::memmem;
use serde::{Deserialize, Serialize};

use crate::compression::{Compression, CompressionChoice};
use crate::error::IoError;
use crate::expand::FileInfo;

/// One piece of a file for one task: bytes `offset..offset + length` (aligned to a delimiter
/// when read with one), or the whole file when `length` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Block {
    /// The file's URL.
    pub url: String,
    /// Where the block starts (before alignment).
    pub offset: u64,
    /// How many bytes it spans (before alignment); `None` for the rest of the file.
    pub length: Option<u64>,
    /// How the file is compressed (compressed files are always one whole block).
    pub compression: Compression,
    /// The whole file's size, as listed ([`FileInfo::size`]); `None` asks the store.
    #[serde(default)]
    pub file_size: Option<u64>,
    /// The object's ETag as listed ([`FileInfo::e_tag`]): every read of the block is pinned
    /// to it.
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// Split `files` into blocks of about `blocksize` bytes. Compressed files, and every file when
/// `blocksize` is `None`, stay whole. Empty files give no block.
///
/// ```
/// use brisk_io::{blocks, CompressionChoice, FileInfo};
/// let files = vec![
///     FileInfo::new("a.txt", 250),
///     FileInfo::new("b.txt.gz", 900),
/// ];
/// let b = blocks(&files, Some(100), CompressionChoice::Infer);
/// let spans: Vec<_> = b.iter().map(|b| (b.url.as_str(), b.offset, b.length)).collect();
/// assert_eq!(spans, [("a.txt", 0, Some(100)), ("a.txt", 100, Some(100)),
///                    ("a.txt", 200, Some(50)), ("b.txt.gz", 0, None)]);
/// ```
pub fn blocks(
    files: &[FileInfo],
    blocksize: Option<u64>,
    compression: CompressionChoice,
) -> Vec<Block> {
    let mut out = Vec::new();
    for f in files {
        let c = compression.for_url(&f.url);
        match blocksize {
            Some(bs) if bs > 0 && !c.is_compressed() => {
                let mut off = 0;
                while off < f.size {
                    let len = bs.min(f.size - off);
                    out.push(Block {
                        url: f.url.clone(),
                        offset: off,
                        length: Some(len),
                        compression: c,
                        file_size: Some(f.size),
                        e_tag: f.e_tag.clone(),
                    });
                    off += len;
                }
            }
            _ => {
                if f.size > 0 || c.is_compressed() {
                    out.push(Block {
                        url: f.url.clone(),
                        offset: 0,
                        length: None,
                        compression: c,
                        file_size: Some(f.size),
                        e_tag: f.e_tag.clone(),
                    });
                }
            }
        }
    }
    out
}

enum State {
    /// Dropping bytes up to and including the first delimiter.
    Skipping,
    /// Passing bytes through.
    Streaming,
    /// Finished.
    Done,
}

/// A reader of one delimiter-aligned block (see the module docs), streaming.
pub struct BlockReader {
    inner: Box<dyn Read + Send>,
    delim: Vec<u8>,
    buf: Vec<u8>,
    /// The unread window of `buf`.
    lo: usize,
    hi: usize,
    /// The absolute position of `buf[lo]`.
    pos: u64,
    /// `offset + length`: the block ends after the first delimiter starting at or after it.
    limit: u64,
    eof: bool,
    state: State,
}

impl BlockReader {
    /// A block over a raw reader positioned at `offset`. `delim` empty means no alignment.
    pub(crate) fn new(
        inner: Box<dyn Read + Send>,
        offset: u64,
        length: Option<u64>,
        delim: &[u8],
    ) -> Self {
        let state = if offset > 0 && !delim.is_empty() {
            State::Skipping
        } else {
            State::Streaming
        };
        BlockReader {
            inner,
            delim: delim.to_vec(),
            buf: vec![0; 1 << 16],
            lo: 0,
            hi: 0,
            pos: offset,
            limit: length.map_or(u64::MAX, |l| offset.saturating_add(l)),
            eof: false,
            state,
        }
    }

    /// Read more raw bytes, keeping the unread window. Returns false at the end of the input.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.lo > 0 {
            self.buf.copy_within(self.lo..self.hi, 0);
            self.hi -= self.lo;
            self.lo = 0;
        }
        if self.hi == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.hi..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.hi += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn advance(&mut self, n: usize) {
        self.lo += n;
        self.pos += n as u64;
    }
}

impl Read for BlockReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Skipping => {
                    let window = &self.buf[self.lo..self.hi];
                    if let Some(i) = memmem::find(window, &self.delim) {
                        let starts_at = self.pos + i as u64;
                        self.advance(i + self.delim.len());
                        // A first delimiter at or past the limit also ends the block: it is
                        // empty (the previous block owns that record).
                        self.state = if starts_at >= self.limit {
                            State::Done
                        } else {
                            State::Streaming
                        };
                        continue;
                    }
                    // Keep a possible partial delimiter at the end of the window.
                    let keep = (self.delim.len() - 1).min(window.len());
                    let drop = window.len() - keep;
                    self.advance(drop);
                    if !self.fill()? {
                        self.state = State::Done;
                    }
                }
                State::Streaming => {
                    // Nothing buffered and the whole request lies before the limit: read
                    // straight into the caller's buffer, saving a copy (as BufReader does).
                    let left = self.limit.saturating_sub(self.pos);
                    if self.lo == self.hi && !self.eof && left >= out.len() as u64 {
                        let n = loop {
                            match self.inner.read(out) {
                                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                                r => break r?,
                            }
                        };
                        if n == 0 {
                            self.eof = true;
                            self.state = State::Done;
                        }
                        self.pos += n as u64;
                        return Ok(n);
                    }
                    if self.lo == self.hi && !self.fill()? {
                        self.state = State::Done;
                        continue;
                    }
                    if self.delim.is_empty() {
                        // Plain byte range: stop at the limit.
                        let left = self.limit.saturating_sub(self.pos);
                        if left == 0 {
                            self.state = State::Done;
                            continue;
                        }
                        let n = out
                            .len()
                            .min(self.hi - self.lo)
                            .min(left.min(usize::MAX as u64) as usize);
                        out[..n].copy_from_slice(&self.buf[self.lo..self.lo + n]);
                        self.advance(n);
                        return Ok(n);
                    }
                    if self.pos < self.limit {
                        // Bytes before the limit all belong to the block.
                        let before =
                            (self.limit - self.pos).min((self.hi - self.lo) as u64) as usize;
                        let n = out.len().min(before);
                        out[..n].copy_from_slice(&self.buf[self.lo..self.lo + n]);
                        self.advance(n);
                        return Ok(n);
                    }
                    // At or past the limit: pass bytes up to the end of the first delimiter
                    // that starts here or later.
                    let window = &self.buf[self.lo..self.hi];
                    if let Some(i) = memmem::find(window, &self.delim) {
                        let end = i + self.delim.len();
                        let n = out.len().min(end);
                        out[..n].copy_from_slice(&window[..n]);
                        self.advance(n);
                        if n == end {
                            self.state = State::Done;
                        } else {
                            // The rest of the delimiter is still to come: keep looking from
                            // here, which finds this same occurrence first.
                            self.pending_tail(end - n);
                        }
                        return Ok(n);
                    }
                    // No delimiter yet: pass all but a possible partial delimiter.
                    let keep = (self.delim.len() - 1).min(window.len());
                    let n = out.len().min(window.len() - keep);
                    if n == 0 {
                        if !self.fill()? {
                            // End of file: the rest belongs to the block.
                            let rest = self.hi - self.lo;
                            let n = out.len().min(rest);
                            out[..n].copy_from_slice(&self.buf[self.lo..self.lo + n]);
                            self.advance(n);
                            if self.lo == self.hi {
                                self.state = State::Done;
                            }
                            return Ok(n);
                        }
                        continue;
                    }
                    out[..n].copy_from_slice(&window[..n]);
                    self.advance(n);
                    return Ok(n);
                }
            }
        }
    }
}

impl BlockReader {
    /// The caller's buffer ended inside the terminating delimiter: the next `n` bytes finish
    /// the block.
    fn pending_tail(&mut self, n: usize) {
        self.delim.clear();
        self.limit = self.pos + n as u64;
    }
}

/// The block's compression, checked against the range asked for.
pub(crate) fn check_range(url: &str, offset: u64, compression: Compression) -> Result<(), IoError> {
    if compression.is_compressed() && offset > 0 {
        return Err(IoError::CompressedRange {
            url: url.to_string(),
            offset,
            compression: compression.name(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(data: &[u8], offset: u64, length: Option<u64>, delim: &[u8]) -> Vec<u8> {
        let inner: Box<dyn Read + Send> =
            Box::new(std::io::Cursor::new(data[offset as usize..].to_vec()));
        let mut r = BlockReader::new(inner, offset, length, delim);
        let mut out = Vec::new();
        // Read in awkward small pieces to exercise the buffer edges.
        let mut piece = [0u8; 3];
        loop {
            let n = r.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&piece[..n]);
        }
        out
    }

    /// The reference: dask's read_block, written plainly.
    fn reference(data: &[u8], offset: usize, length: usize, delim: &[u8]) -> Vec<u8> {
        let find_from = |x: usize| -> usize {
            if x >= data.len() {
                return data.len();
            }
            match memmem::find(&data[x..], delim) {
                Some(i) => x + i + delim.len(),
                None => data.len(),
            }
        };
        let start = if offset == 0 { 0 } else { find_from(offset) };
        let end = find_from(offset + length).max(start);
        data[start..end].to_vec()
    }

    #[test]
    fn blocks_partition_the_file_exactly() {
        let data: Vec<u8> = (0..500)
            .map(|i| format!("line {i} {}\n", "x".repeat(i % 17)))
            .collect::<String>()
            .into_bytes();
        for delim in [&b"\n"[..], b"x\nl", b"||"] {
            for bs in [1usize, 2, 7, 64, 100, 1000, 100_000] {
                let mut joined = Vec::new();
                let mut off = 0;
                while off < data.len() {
                    let len = bs.min(data.len() - off);
                    let got = block(&data, off as u64, Some(len as u64), delim);
                    assert_eq!(got, reference(&data, off, len, delim), "bs {bs} off {off}");
                    joined.extend(got);
                    off += len;
                }
                assert_eq!(joined, data, "delim {delim:?} bs {bs}");
            }
        }
    }

    #[test]
    fn no_delimiter_is_a_plain_range() {
        let data = b"0123456789".to_vec();
        assert_eq!(block(&data, 3, Some(4), b""), b"3456");
        assert_eq!(block(&data, 8, Some(10), b""), b"89");
        assert_eq!(block(&data, 0, None, b"\n"), data);
    }
}
