//! Writing files and objects, compressed by extension, that appear only when finished.
//!
//! A [`Writer`] makes its file or object visible only at [`Writer::finish`], after the
//! compression trailer is written; dropping it unfinished (a failed task, a panic, an early
//! return) leaves nothing behind:
//!
//! - **Local files** are written to a hidden temporary name in the same folder
//!   (`.name.<pid>-<n>.brisk-tmp`) and renamed over the target by `finish`; an unfinished
//!   writer removes its temporary file.
//! - **Objects** (S3, GCS, Azure) are buffered up to one part
//!   ([`StorageOptions::multipart_writes`], 8 MiB by default). An object that ends within that
//!   is one PUT at `finish`. A larger one streams as a multipart upload: each full part is sent
//!   while the caller goes on writing, with at most `concurrency` parts (4) in flight, so the
//!   writer holds at most `concurrency + 1` parts in memory. `finish` sends the last part and
//!   completes the upload; an unfinished writer aborts it, so the store drops its parts and no
//!   object appears. `http(s)://` has no multipart uploads: it is buffered whole and PUT at
//!   `finish`.

use std::fs::File;
use std::io::{BufWriter, Write};

/// The suffix of a local writer's temporary file (`.name.<pid>-<n>.brisk-tmp`).
const TEMP_SUFFIX: &str = ".brisk-tmp";

/// Whether `file_name` is a local writer's unfinished temporary file: listings and globs skip
/// them, so a reader never sees a file that is still being written.
pub(crate) fn is_temp_name(file_name: &str) -> bool {
    file_name.starts_with('.') && file_name.ends_with(TEMP_SUFFIX)
}
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::compression::{Compression, Encoder};
use crate::error::IoError;
use crate::storage::{
    Location, Remote, StorageOptions, block_on_borrowed, clients_for, enter, parse_location,
};

/// A local file written under a temporary name and renamed into place by `finish`.
struct LocalSink {
    url: String,
    file: Option<BufWriter<File>>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl LocalSink {
    fn create(url: &str, dest: PathBuf) -> Result<LocalSink, IoError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = dest
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(PathBuf::from);
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| IoError::local("create the directory of", url, e))?;
        }
        let name = dest
            .file_name()
            .ok_or_else(|| IoError::InvalidUrl {
                url: url.to_string(),
                reason: "the path names no file".into(),
            })?
            .to_string_lossy();
        let tmp_name = format!(
            ".{name}.{}-{}{TEMP_SUFFIX}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = dir.map_or_else(|| PathBuf::from(&tmp_name), |d| d.join(&tmp_name));
        let f = File::create(&tmp).map_err(|e| IoError::local("create", url, e))?;
        Ok(LocalSink {
            url: url.to_string(),
            file: Some(BufWriter::with_capacity(1 << 20, f)),
            tmp,
            dest,
        })
    }

    fn finish(&mut self) -> Result<(), IoError> {
        let Some(f) = self.file.take() else {
            return Ok(());
        };
        let result = f
            .into_inner()
            .map_err(|e| IoError::local("write", &self.url, e.into_error()))
            .and_then(|f| {
                drop(f);
                std::fs::rename(&self.tmp, &self.dest)
                    .map_err(|e| IoError::local("rename into place", &self.url, e))
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result
    }
}

impl Drop for LocalSink {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            drop(f.into_parts());
            if let Err(e) = std::fs::remove_file(&self.tmp) {
                tracing::warn!(url = %self.url, error = %e, "cannot remove the temporary file of an unfinished writer");
            }
        }
    }
}

/// An object: buffered up to one part, then streamed as a multipart upload.
struct RemoteSink {
    url: String,
    remote: Remote,
    store: Arc<dyn ObjectStore>,
    /// Whether the store has multipart uploads (not plain HTTP).
    multipart: bool,
    part: usize,
    concurrency: usize,
    buffer: Vec<u8>,
    upload: Option<WriteMultipart>,
    finished: bool,
}

impl RemoteSink {
    fn error(&self, action: &'static str, e: object_store::Error) -> IoError {
        IoError::store(action, self.url.clone(), &self.remote.bucket, e)
    }

    /// Send one whole part, starting the upload with the first one, after waiting for fewer
    /// than `concurrency` parts to be in flight.
    fn send_part(&mut self, part: Vec<u8>) -> Result<(), IoError> {
        if self.upload.is_none() {
            let path = self.remote.path();
            let store = Arc::clone(&self.store);
            let upload = block_on_borrowed(store.put_multipart(&path))
                .map_err(|e| self.error("start an upload to", e))?;
            self.upload = Some(WriteMultipart::new_with_chunk_size(upload, self.part));
        }
        let concurrency = self.concurrency;
        let Some(w) = self.upload.as_mut() else {
            return Ok(());
        };
        if let Err(e) = block_on_borrowed(w.wait_for_capacity(concurrency)) {
            return Err(self.error("write part of", e));
        }
        let _guard = enter();
        // Exactly one part long, so this starts exactly one part upload, without a copy.
        w.put(bytes::Bytes::from(part));
        Ok(())
    }

    fn write_all_inner(&mut self, mut buf: &[u8]) -> Result<(), IoError> {
        if self.finished {
            return Err(IoError::WriterClosed {
                url: self.url.clone(),
            });
        }
        if !self.multipart {
            self.buffer.extend_from_slice(buf);
            return Ok(());
        }
        loop {
            // Buffer up to one byte past a part: an object of at most one part is one PUT.
            let n = (self.part + 1)
                .saturating_sub(self.buffer.len())
                .min(buf.len());
            self.buffer.extend_from_slice(&buf[..n]);
            buf = &buf[n..];
            if self.buffer.len() <= self.part {
                return Ok(());
            }
            let mut next = Vec::with_capacity(self.part + 1);
            next.extend(self.buffer.pop());
            let part = std::mem::replace(&mut self.buffer, next);
            self.send_part(part)?;
        }
    }

    fn finish(&mut self) -> Result<(), IoError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        match self.upload.take() {
            Some(mut w) => {
                // Sends the last part and waits for all of them; aborts the upload on failure.
                let _guard = enter();
                w.put(bytes::Bytes::from(std::mem::take(&mut self.buffer)));
                block_on_borrowed(w.finish())
                    .map(|_| ())
                    .map_err(|e| self.error("complete the upload of", e))
            }
            None => {
                let bytes = std::mem::take(&mut self.buffer);
                let path = self.remote.path();
                block_on_borrowed(self.store.put(&path, PutPayload::from(bytes)))
                    .map(|_| ())
                    .map_err(|e| self.error("write", e))
            }
        }
    }
}

impl Drop for RemoteSink {
    fn drop(&mut self) {
        self.finished = true;
        if let Some(w) = self.upload.take() {
            let _guard = enter();
            match block_on_borrowed(w.abort()) {
                Ok(()) => {
                    tracing::debug!(url = %self.url, "aborted the upload of an unfinished writer")
                }
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "cannot abort the upload of an unfinished writer (its parts may stay until the bucket's lifecycle rules remove them)")
                }
            }
        }
    }
}

enum Sink {
    Local(LocalSink),
    Remote(Box<RemoteSink>),
    /// An abandoned writer's encoder may still flush into its sink while it is dropped.
    Discard,
}

impl Sink {
    fn finish(&mut self) -> Result<(), IoError> {
        match self {
            Sink::Local(l) => l.finish(),
            Sink::Remote(r) => r.finish(),
            Sink::Discard => Ok(()),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Local(l) => match l.file.as_mut() {
                Some(f) => f.write_all(buf),
                None => Err(std::io::Error::other(IoError::WriterClosed {
                    url: l.url.clone(),
                })),
            },
            Sink::Remote(r) => r.write_all_inner(buf).map_err(std::io::Error::other),
            Sink::Discard => Ok(()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        // Objects are sent in whole parts; flushing them early would make small parts.
        match self {
            Sink::Local(l) => l.file.as_mut().map_or(Ok(()), |f| f.flush()),
            _ => Ok(()),
        }
    }
}

/// A writer to a file or object, compressing by the URL's extension (see
/// [`crate::Storage::open_writer`]). Nothing appears at the URL until [`Writer::finish`]
/// succeeds; dropping an unfinished writer discards what was written (see the module docs).
pub struct Writer {
    url: String,
    compression: Compression,
    encoder: Option<Encoder<Sink>>,
}

impl Writer {
    pub(crate) fn open(
        url: &str,
        options: &StorageOptions,
        compression: Compression,
    ) -> Result<Writer, IoError> {
        let sink = match parse_location(url)? {
            Location::Local(p) => Sink::Local(LocalSink::create(url, p)?),
            Location::Remote(r) => {
                // Fail early on bad options rather than after data is buffered.
                let clients = clients_for(&r, options)?;
                let (part, concurrency) = options.write_parts(url)?;
                Sink::Remote(Box::new(RemoteSink {
                    url: url.to_string(),
                    remote: r,
                    store: clients.store,
                    multipart: clients.multipart.is_some(),
                    part,
                    concurrency,
                    buffer: Vec::new(),
                    upload: None,
                    finished: false,
                }))
            }
        };
        Ok(Writer {
            url: url.to_string(),
            compression,
            encoder: Some(compression.encoder(url, sink)?),
        })
    }

    /// The URL being written.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Write the compression trailer, then make the file or object appear at its URL (rename
    /// a local file into place, send the last part and complete an upload, or PUT a small
    /// object). Returns the URL. On error nothing appears (an upload is aborted).
    pub fn finish(mut self) -> Result<String, IoError> {
        let Some(enc) = self.encoder.take() else {
            return Err(IoError::WriterClosed {
                url: self.url.clone(),
            });
        };
        let mut sink = enc.finish().map_err(|e| self.write_error(e))?;
        sink.finish()?;
        Ok(std::mem::take(&mut self.url))
    }

    fn write_error(&self, e: std::io::Error) -> IoError {
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<IoError>()) {
            return inner.clone();
        }
        if self.compression.is_compressed() {
            IoError::Compression {
                action: "compress",
                url: self.url.clone(),
                compression: self.compression.name(),
                source: std::sync::Arc::new(e),
            }
        } else {
            IoError::local("write", &self.url, e)
        }
    }

    fn closed(&self) -> std::io::Error {
        std::io::Error::other(IoError::WriterClosed {
            url: self.url.clone(),
        })
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.encoder.as_mut() {
            Some(e) => e.write(buf),
            None => Err(self.closed()),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self.encoder.as_mut() {
            Some(e) => e.write_all(buf),
            None => Err(self.closed()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.encoder.as_mut() {
            Some(e) => e.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let Some(mut enc) = self.encoder.take() else {
            return;
        };
        // Unfinished: take the sink out (so an encoder that flushes on drop writes nowhere),
        // then drop it, which removes the temporary file or aborts the upload.
        let sink = std::mem::replace(enc.get_mut(), Sink::Discard);
        drop(enc);
        if !matches!(sink, Sink::Discard) {
            tracing::debug!(url = %self.url, "a writer was dropped without finish(): discarding it");
        }
        drop(sink);
    }
}
