//! Reading: whole files, raw byte ranges, and streaming readers over local files and objects.
//!
//! Object reads stream: a task on brisk-io's runtime pulls the response body and hands chunks
//! through a small bounded channel, so the next chunk downloads while the caller works on the
//! current one, and dropping the reader stops the download.

use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::{GetOptions, GetRange, ObjectStoreExt};

use crate::error::IoError;
use std::sync::Arc;

use object_store::ObjectStore;

use crate::storage::{
    Location, Remote, Scheme, StorageOptions, block_on, parse_location, store_for,
};

/// One version of an object: its size and the ETag that pins reads to it (`If-Match`).
/// [`crate::FileInfo`] and [`crate::Block`] carry it from a listing, so reading a block needs
/// no HEAD request and every block of a file reads the version that was listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pin {
    pub size: u64,
    pub e_tag: Option<String>,
}

/// The size and ETag of an object (one HEAD request).
pub(crate) fn head(remote: &Remote, options: &StorageOptions, url: &str) -> Result<Pin, IoError> {
    let store = store_for(remote, options)?;
    let path = remote.path();
    let bucket = remote.bucket.clone();
    let url = url.to_string();
    block_on(async move {
        store
            .head(&path)
            .await
            .map(|m| Pin {
                size: m.size,
                e_tag: m.e_tag,
            })
            .map_err(|e| IoError::store("read", url, &bucket, e))
    })
}

/// [`head`], telling a missing bucket apart from a missing object.
fn head_checked(remote: &Remote, options: &StorageOptions, url: &str) -> Result<Pin, IoError> {
    let n = head(remote, options, url);
    // A HEAD response has no body, so a missing bucket looks like a missing object; a listing
    // tells them apart.
    if let Err(IoError::NotFound { .. }) = n {
        crate::expand::expand(url, options)?;
    }
    n
}

/// The size of the file or object at `url`.
pub(crate) fn size(url: &str, options: &StorageOptions) -> Result<u64, IoError> {
    match parse_location(url)? {
        Location::Local(p) => std::fs::metadata(&p)
            .map(|m| m.len())
            .map_err(|e| IoError::local("open", url, e)),
        Location::Remote(r) => head_checked(&r, options, url).map(|p| p.size),
    }
}

/// Raw bytes `start..end` (`end` clamped to the size) of `url`.
pub(crate) fn read_range(
    url: &str,
    options: &StorageOptions,
    start: u64,
    end: u64,
) -> Result<Vec<u8>, IoError> {
    if end <= start {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity((end - start).min(1 << 30) as usize);
    open_range(url, options, start, Some(end), None)?
        .read_to_end(&mut out)
        .map_err(|e| from_io(url, "read", e))?;
    Ok(out)
}

/// The whole raw contents of `url`.
pub(crate) fn read_raw(url: &str, options: &StorageOptions) -> Result<Bytes, IoError> {
    match parse_location(url)? {
        Location::Local(p) => std::fs::read(&p)
            .map(Bytes::from)
            .map_err(|e| IoError::local("read", url, e)),
        Location::Remote(r) => {
            let store = store_for(&r, options)?;
            let path = r.path();
            let bucket = r.bucket.clone();
            let u = url.to_string();
            block_on(async move {
                let res = store
                    .get(&path)
                    .await
                    .map_err(|e| IoError::store("read", u.clone(), &bucket, e))?;
                res.bytes()
                    .await
                    .map_err(|e| IoError::store("read", u, &bucket, e))
            })
        }
    }
}

/// A streaming reader of raw bytes `start..end` (`None`: to the end) of `url`, pinned to the
/// version `pin` (or to the one a HEAD request sees).
pub(crate) fn open_range(
    url: &str,
    options: &StorageOptions,
    start: u64,
    end: Option<u64>,
    pin: Option<Pin>,
) -> Result<Box<dyn Read + Send>, IoError> {
    match parse_location(url)? {
        Location::Local(p) => {
            let mut f = std::fs::File::open(&p).map_err(|e| IoError::local("open", url, e))?;
            if start > 0 {
                f.seek(SeekFrom::Start(start))
                    .map_err(|e| IoError::local("seek in", url, e))?;
            }
            Ok(match end {
                Some(e) => Box::new(f.take(e.saturating_sub(start))),
                None => Box::new(f),
            })
        }
        Location::Remote(r) => {
            let pin = match pin {
                Some(p) => p,
                None => head_checked(&r, options, url)?,
            };
            let end = end.map_or(pin.size, |e| e.min(pin.size));
            if start >= end {
                return Ok(Box::new(std::io::empty()));
            }
            Ok(Box::new(ObjectReader::start(
                &r, options, url, start, end, &pin,
            )?))
        }
    }
}

/// A streaming reader of raw bytes from `start` to the end of `url`, for a block that will
/// probably stop near `start + hint`: objects are fetched as a first range of about `hint`
/// bytes and then in further ranges only while the reader keeps going, so a block never asks
/// the server for the rest of a large object.
/// Every request is pinned to the version `pin` (or the one a HEAD request sees).
pub(crate) fn open_from(
    url: &str,
    options: &StorageOptions,
    start: u64,
    hint: Option<u64>,
    pin: Option<Pin>,
) -> Result<Box<dyn Read + Send>, IoError> {
    match parse_location(url)? {
        Location::Local(_) => open_range(url, options, start, None, None),
        Location::Remote(r) => {
            let pin = match pin {
                Some(p) => p,
                None => head_checked(&r, options, url)?,
            };
            Ok(Box::new(RangeChain {
                remote: r,
                options: options.clone(),
                url: url.to_string(),
                pos: start,
                next_len: hint.map_or(pin.size, |h| h.saturating_add(TAIL)),
                pin,
                current: None,
            }))
        }
    }
}

/// How far past a block's nominal end the first request reaches (most records end there).
const TAIL: u64 = 64 << 10;
/// The size of each further request.
const MORE: u64 = 4 << 20;

struct RangeChain {
    remote: Remote,
    options: StorageOptions,
    url: String,
    pos: u64,
    pin: Pin,
    next_len: u64,
    current: Option<ObjectReader>,
}

impl Read for RangeChain {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.current.is_none() {
                if self.pos >= self.pin.size || buf.is_empty() {
                    return Ok(0);
                }
                let end = self
                    .pin
                    .size
                    .min(self.pos.saturating_add(self.next_len.max(1)));
                let r = ObjectReader::start(
                    &self.remote,
                    &self.options,
                    &self.url,
                    self.pos,
                    end,
                    &self.pin,
                )
                .map_err(std::io::Error::other)?;
                self.current = Some(r);
                self.next_len = MORE;
            }
            let n = match self.current.as_mut() {
                Some(r) => r.read(buf)?,
                None => 0,
            };
            if n == 0 {
                self.current = None;
                continue;
            }
            self.pos += n as u64;
            return Ok(n);
        }
    }
}

/// Turn an `std::io::Error` from one of this crate's readers back into an [`IoError`].
pub(crate) fn from_io(url: &str, action: &'static str, e: std::io::Error) -> IoError {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<IoError>()) {
        return inner.clone();
    }
    IoError::local(action, url, e)
}

/// A streaming GET hands its body over in runs of about this many bytes (one channel message).
const PIECE: usize = 1 << 20;
/// A range read as parts in parallel: `part` bytes each, `in_flight` requested at once.
struct Parts {
    part: u64,
    in_flight: usize,
    start: u64,
    end: u64,
    /// The version every part is pinned to.
    e_tag: Option<String>,
}

/// Streams one byte range of an object through a bounded channel. Each message is a run of
/// body chunks as they came off the connection (a coalesced piece, or a whole part of a
/// parallel read), so bytes are copied once, into the reader's buffer.
struct ObjectReader {
    rx: tokio::sync::mpsc::Receiver<Result<Vec<Bytes>, IoError>>,
    pending: std::collections::VecDeque<Bytes>,
    done: bool,
    /// What was asked for (`start..end` of `url`) and how many bytes came: a stream that ends
    /// early or says more is an error naming the URL, never a silently different block.
    url: String,
    start: u64,
    end: u64,
    received: u64,
}

impl ObjectReader {
    fn start(
        remote: &Remote,
        options: &StorageOptions,
        url: &str,
        start: u64,
        end: u64,
        pin: &Pin,
    ) -> Result<Self, IoError> {
        let size = pin.size;
        let e_tag = pin.e_tag.clone();
        let store = store_for(remote, options)?;
        let path = remote.path();
        let bucket = remote.bucket.clone();
        let url = url.to_string();
        let (part, in_flight) = options.range_parts(&url)?;
        if remote.scheme != Scheme::Http && in_flight > 1 && end - start >= part.saturating_mul(2) {
            let parts = Parts {
                part,
                in_flight,
                start,
                end,
                e_tag,
            };
            return Ok(Self::start_parallel(store, path, bucket, url, parts));
        }
        let reader_url = url.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Bytes>, IoError>>(8);
        crate::storage::spawn(async move {
            // The whole object is a plain GET (servers without range support answer it too).
            let opts = GetOptions {
                range: (start > 0 || end < size).then_some(GetRange::Bounded(start..end)),
                if_match: e_tag,
                ..Default::default()
            };
            let res = match store.get_opts(&path, opts).await {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(IoError::store("read", url, &bucket, e))).await;
                    return;
                }
            };
            // Gather the body's chunks (no copy) into runs of about 1 MiB; the bounded channel
            // lets up to 8 of them download ahead of the reader.
            let mut stream = res.into_stream();
            let mut piece = Vec::new();
            let mut piece_len = 0;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(c) => {
                        piece_len += c.len();
                        piece.push(c);
                        if piece_len >= PIECE {
                            piece_len = 0;
                            if tx.send(Ok(std::mem::take(&mut piece))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx
                            .send(Err(IoError::store("read", url.clone(), &bucket, e)))
                            .await;
                        return;
                    }
                }
            }
            if !piece.is_empty() {
                let _ = tx.send(Ok(piece)).await;
            }
        });
        Ok(ObjectReader::new(rx, reader_url, start, end))
    }
}

impl ObjectReader {
    /// A large range of an object store (S3, GCS, Azure; all answer range requests) as
    /// consecutive parts, several requested at once and handed over in order: one
    /// connection's stream is often slower than the server and the network can go (a server
    /// that reads each request in small pieces, a long path).
    fn start_parallel(
        store: Arc<dyn ObjectStore>,
        path: object_store::path::Path,
        bucket: String,
        url: String,
        p: Parts,
    ) -> Self {
        let reader_url = url.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Bytes>, IoError>>(2);
        let mut ranges = Vec::new();
        let mut s = p.start;
        while s < p.end {
            let e = p.end.min(s.saturating_add(p.part));
            ranges.push(s..e);
            s = e;
        }
        let in_flight = p.in_flight;
        let e_tag = p.e_tag;
        crate::storage::spawn(async move {
            // Every part pinned to one version (If-Match on its ETag), so an object replaced
            // during the read is an error, never a mix of two versions.
            let mut parts = futures::stream::iter(ranges)
                .map(|r| {
                    let store = Arc::clone(&store);
                    let path = path.clone();
                    let opts = GetOptions {
                        range: Some(GetRange::Bounded(r)),
                        if_match: e_tag.clone(),
                        ..Default::default()
                    };
                    // The part's body chunks as they came (no copy into one buffer).
                    async move {
                        let body = store.get_opts(&path, opts).await?.into_stream();
                        body.try_collect::<Vec<Bytes>>().await
                    }
                })
                .buffered(in_flight);
            while let Some(part) = parts.next().await {
                let msg = part.map_err(|e| IoError::store("read", url.clone(), &bucket, e));
                let failed = msg.is_err();
                if tx.send(msg).await.is_err() || failed {
                    return;
                }
            }
        });
        ObjectReader::new(rx, reader_url, p.start, p.end)
    }

    fn new(
        rx: tokio::sync::mpsc::Receiver<Result<Vec<Bytes>, IoError>>,
        url: String,
        start: u64,
        end: u64,
    ) -> Self {
        ObjectReader {
            rx,
            pending: std::collections::VecDeque::new(),
            done: false,
            url,
            start,
            end,
            received: 0,
        }
    }

    /// The error for a body of `self.received` bytes where `end - start` were asked for.
    fn wrong_length(&self) -> std::io::Error {
        std::io::Error::other(IoError::wrong_length(
            &self.url,
            self.start..self.end,
            self.received,
        ))
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            if self.done {
                return Ok(0);
            }
            // Works on any thread, inside an async runtime or not.
            match futures::executor::block_on(self.rx.recv()) {
                Some(Ok(chunks)) => {
                    self.received += chunks.iter().map(|c| c.len() as u64).sum::<u64>();
                    if self.received > self.end - self.start {
                        self.done = true;
                        return Err(self.wrong_length());
                    }
                    self.pending
                        .extend(chunks.into_iter().filter(|c| !c.is_empty()));
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Err(std::io::Error::other(e));
                }
                None => {
                    self.done = true;
                    if self.received != self.end - self.start {
                        return Err(self.wrong_length());
                    }
                    return Ok(0);
                }
            }
        }
        // Fill `buf` from as many received chunks as fit (without waiting for more).
        let mut n = 0;
        while n < buf.len() {
            let Some(front) = self.pending.front_mut() else {
                break;
            };
            let k = (buf.len() - n).min(front.len());
            buf[n..n + k].copy_from_slice(&front[..k]);
            let _ = front.split_to(k);
            if front.is_empty() {
                self.pending.pop_front();
            }
            n += k;
        }
        Ok(n)
    }
}

/// Read `reader` to the end, naming `url` in errors.
pub(crate) fn read_to_end(
    url: &str,
    mut reader: Box<dyn Read + Send>,
    hint: usize,
) -> Result<Vec<u8>, IoError> {
    let mut out = Vec::with_capacity(hint);
    reader
        .read_to_end(&mut out)
        .map_err(|e| from_io(url, "read", e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader of `start..end` fed `messages` (runs of chunks), as the download task would.
    fn fed(start: u64, end: u64, messages: Vec<Vec<&'static [u8]>>) -> ObjectReader {
        let (tx, rx) = tokio::sync::mpsc::channel(messages.len().max(1));
        for m in messages {
            let chunks = m.into_iter().map(Bytes::from_static).collect();
            tx.try_send(Ok(chunks)).expect("room in the channel");
        }
        ObjectReader::new(rx, "s3://b/key.txt".into(), start, end)
    }

    #[test]
    fn chunks_are_read_across_messages_in_order() {
        let mut r = fed(10, 21, vec![vec![b"hello", b" "], vec![b"", b"world"]]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("whole body");
        assert_eq!(out, b"hello world");
        // Small reads straddle chunks.
        let mut r = fed(0, 11, vec![vec![b"hello", b" "], vec![b"world"]]);
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = r.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b"hello world");
    }

    #[test]
    fn a_body_of_the_wrong_length_is_an_error_naming_the_url() {
        for (what, messages) in [
            ("short", vec![vec![b"hello".as_slice()]]),
            ("long", vec![vec![b"hello world, and more".as_slice()]]),
        ] {
            let mut r = fed(100, 111, messages);
            let mut out = Vec::new();
            let e = r.read_to_end(&mut out).expect_err(what);
            let io = from_io("s3://b/key.txt", "read", e);
            let text = io.to_string();
            assert!(text.contains("s3://b/key.txt"), "{what}: {text}");
            assert!(text.contains("bytes 100..111 asked for"), "{what}: {text}");
        }
    }
}
