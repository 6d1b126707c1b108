//! Writing files and objects, compressed by extension.
//!
//! Local files are written in place (parent directories are created). Objects are buffered in
//! memory and uploaded by [`Writer::finish`]; dropping a writer without finishing it finishes
//! it anyway and logs any error, so always call `finish` to see errors.

use std::fs::File;
use std::io::{BufWriter, Write};

use object_store::{ObjectStoreExt, PutPayload};

use crate::compression::{Compression, Encoder};
use crate::error::IoError;
use crate::storage::{Location, Remote, StorageOptions, block_on, parse_location, store_for};

enum Sink {
    Local(BufWriter<File>),
    Memory(Vec<u8>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Local(f) => f.write(buf),
            Sink::Memory(v) => v.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Local(f) => f.write_all(buf),
            Sink::Memory(v) => v.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Local(f) => f.flush(),
            Sink::Memory(_) => Ok(()),
        }
    }
}

/// A writer to a file or object, compressing by the URL's extension (see
/// [`crate::Storage::open_writer`]). Call [`Writer::finish`] to complete the file.
pub struct Writer {
    url: String,
    compression: Compression,
    encoder: Option<Encoder<Sink>>,
    remote: Option<(Remote, StorageOptions)>,
}

impl Writer {
    pub(crate) fn open(
        url: &str,
        options: &StorageOptions,
        compression: Compression,
    ) -> Result<Writer, IoError> {
        let (sink, remote) = match parse_location(url)? {
            Location::Local(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| IoError::local("create the directory of", url, e))?;
                }
                let f = File::create(&p).map_err(|e| IoError::local("create", url, e))?;
                (Sink::Local(BufWriter::with_capacity(1 << 20, f)), None)
            }
            Location::Remote(r) => {
                // Fail early on bad options rather than after all the data is buffered.
                store_for(&r, options)?;
                (Sink::Memory(Vec::new()), Some((r, options.clone())))
            }
        };
        Ok(Writer {
            url: url.to_string(),
            compression,
            encoder: Some(compression.encoder(url, sink)?),
            remote,
        })
    }

    /// The URL being written.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Write the compression trailer, flush, and (for objects) upload. Returns the URL.
    pub fn finish(mut self) -> Result<String, IoError> {
        self.finish_inner()?;
        Ok(std::mem::take(&mut self.url))
    }

    fn finish_inner(&mut self) -> Result<(), IoError> {
        let Some(enc) = self.encoder.take() else {
            return Ok(());
        };
        let sink = enc.finish().map_err(|e| self.write_error(e))?;
        match sink {
            Sink::Local(mut f) => f.flush().map_err(|e| IoError::local("write", &self.url, e)),
            Sink::Memory(bytes) => {
                let Some((remote, options)) = self.remote.take() else {
                    return Ok(());
                };
                let store = store_for(&remote, &options)?;
                let path = remote.path();
                let url = self.url.clone();
                block_on(async move {
                    store
                        .put(&path, PutPayload::from(bytes))
                        .await
                        .map(|_| ())
                        .map_err(|e| IoError::store("write", url, &remote.bucket, e))
                })
            }
        }
    }

    fn write_error(&self, e: std::io::Error) -> IoError {
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
        if self.encoder.is_some()
            && let Err(e) = self.finish_inner()
        {
            tracing::error!(url = %self.url, error = %e, "a writer dropped without finish() failed to complete");
        }
    }
}
