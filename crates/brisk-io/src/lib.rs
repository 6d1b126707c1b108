//! # brisk-io: one storage layer for every Brisk collection
//!
//! Files are named by URL: a local path or `file:///abs/path`, `s3://bucket/key`,
//! `gs://bucket/key`, `az://container/key` (also `abfs://`), or `http(s)://host/path`. On all of
//! them you can:
//!
//! - **expand a glob** into files with their sizes: [`expand`] (`data/2015-*.csv`,
//!   `s3://bucket/logs/**/*.gz`); results are sorted, and a pattern that matches nothing is an
//!   error naming it;
//! - **read** a whole file, decompressed by its extension ([`read_all`], [`open_reader`]), or raw
//!   bytes ([`read_range`]);
//! - **read one block** of a large file aligned to a delimiter ([`read_block`],
//!   [`open_block`]): the way one task reads its share of a CSV or text file, with
//!   [`blocks`] splitting files into such blocks (an object's blocks carry the size and ETag
//!   of its listing, so they read one version with no further HEAD requests);
//! - **write**, compressed by extension ([`open_writer`], [`write_all`]); a file or object
//!   appears only when its [`Writer`] finishes (large objects stream as multipart uploads,
//!   aborted if the writer is dropped unfinished);
//! - for formats with a layout of their own (arrays): read several byte runs into one buffer
//!   ([`Storage::read_ranges_into`], positioned reads for local files), put the parts of one
//!   object from many tasks in any order ([`Storage::create_upload`]), or hand the
//!   object_store client to a library ([`Storage::object_store`]).
//!
//! Compression by extension: `.gz` (gzip), `.zst` (zstd), `.bz2`, `.xz`, for reading and
//! writing ([`Compression`]). Compressed files cannot be split, so they are always one block.
//!
//! ```
//! use std::io::Write;
//! let dir = tempfile::tempdir().unwrap();
//! let url = dir.path().join("lines_0.txt.gz").display().to_string();
//! let mut w = brisk_io::open_writer(&url)?;
//! w.write_all(b"alpha\nbeta\ngamma\n").map_err(|e| brisk_io::IoError::from_std(&url, e))?;
//! w.finish()?;
//!
//! let pattern = dir.path().join("lines_*.txt.gz").display().to_string();
//! let files = brisk_io::expand(&pattern)?;
//! assert_eq!(files.len(), 1);
//! assert_eq!(brisk_io::read_all(&files[0].url)?, b"alpha\nbeta\ngamma\n");
//!
//! let plain = dir.path().join("plain.txt").display().to_string();
//! brisk_io::write_all(&plain, b"alpha\nbeta\ngamma\n")?;
//! // Bytes 3..9 asked for: realigned to the whole lines that start inside them.
//! assert_eq!(brisk_io::read_block(&plain, 3, 6, Some(b"\n"))?, b"beta\n");
//! # Ok::<(), brisk_io::IoError>(())
//! ```
//!
//! ## Object stores and credentials
//!
//! The free functions use the environment for credentials and endpoints (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `GOOGLE_APPLICATION_CREDENTIALS`,
//! `AZURE_STORAGE_ACCOUNT_NAME`, …). A [`Storage`] with [`StorageOptions`] sets them
//! explicitly, for example for a local S3-compatible server:
//!
//! ```no_run
//! use brisk_io::{Storage, StorageOptions};
//! let s3 = Storage::new(
//!     StorageOptions::new()
//!         .s3_endpoint("http://127.0.0.1:9000")
//!         .s3_credentials("testing", "testing"),
//! );
//! for f in s3.expand("s3://bucket/logs/*.json.gz")? {
//!     let text = s3.read_all(&f.url)?;
//!     println!("{} ({} bytes): {} bytes decompressed", f.url, f.size, text.len());
//! }
//! # Ok::<(), brisk_io::IoError>(())
//! ```
//!
//! A missing object, a missing bucket and rejected credentials are distinct [`IoError`]
//! variants, each naming the URL.
//!
//! ## Sync over async
//!
//! object_store's API is async; brisk-io is blocking, because tasks are plain functions. A small
//! runtime with two threads of its own drives the requests. Object reads stream with a few MiB
//! of read-ahead, so decoding overlaps downloading. Calls made from inside another async
//! runtime are handed to brisk-io's threads rather than nesting runtimes.

mod block;
mod compression;
mod direct;
mod error;
mod expand;
mod read;
mod storage;
mod write;

use std::io::Read;

pub use block::{Block, BlockReader, blocks};
pub use compression::{Compression, CompressionChoice};
pub use direct::{COALESCE, MAX_PARTS, MIN_PART_SIZE, Upload, UploadedPart, block_on};
pub use error::IoError;
pub use expand::{FileInfo, is_glob};
/// The object_store crate, for [`Storage::object_store`]'s client.
pub use object_store;
pub use storage::StorageOptions;
pub use write::Writer;

impl IoError {
    /// An error from writing to or reading from one of this crate's readers and writers, with
    /// the original [`IoError`] recovered when there is one.
    pub fn from_std(url: &str, e: std::io::Error) -> IoError {
        read::from_io(url, "read", e)
    }
}

/// Access to files and objects with one set of [`StorageOptions`]. Cheap to clone; clients
/// are shared between all `Storage` values with the same options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Storage {
    options: StorageOptions,
}

impl Storage {
    /// Storage configured by `options` (and the environment for anything they leave out).
    pub fn new(options: StorageOptions) -> Storage {
        Storage { options }
    }

    /// The options.
    pub fn options(&self) -> &StorageOptions {
        &self.options
    }

    /// The files a URL or glob names, sorted by URL, with their sizes.
    pub fn expand(&self, url_or_glob: &str) -> Result<Vec<FileInfo>, IoError> {
        expand::expand(url_or_glob, &self.options)
    }

    /// Expand several URLs or globs, keeping their order (each one's matches sorted).
    pub fn expand_all<S: AsRef<str>>(&self, patterns: &[S]) -> Result<Vec<FileInfo>, IoError> {
        let mut out = Vec::new();
        for p in patterns {
            out.extend(self.expand(p.as_ref())?);
        }
        Ok(out)
    }

    /// The size in bytes of a file or object.
    pub fn size(&self, url: &str) -> Result<u64, IoError> {
        read::size(url, &self.options)
    }

    /// Whether a file or object exists. A missing bucket or bad credentials are errors, not
    /// `false`.
    pub fn exists(&self, url: &str) -> Result<bool, IoError> {
        match self.size(url) {
            Ok(_) => Ok(true),
            Err(IoError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The whole contents of `url`, decompressed according to its extension.
    pub fn read_all(&self, url: &str) -> Result<Vec<u8>, IoError> {
        let c = Compression::from_path(url);
        if !c.is_compressed() {
            return read::read_raw(url, &self.options).map(|b| b.to_vec());
        }
        read::read_to_end(url, self.open_reader(url)?, 0)
    }

    /// The whole raw (still compressed) contents of `url`, without a copy for objects.
    pub fn read_raw(&self, url: &str) -> Result<bytes::Bytes, IoError> {
        read::read_raw(url, &self.options)
    }

    /// Raw bytes `offset..offset + length` of `url` (fewer at the end of the file).
    pub fn read_range(&self, url: &str, offset: u64, length: u64) -> Result<Vec<u8>, IoError> {
        read::read_range(url, &self.options, offset, offset.saturating_add(length))
    }

    /// A streaming reader of `url`, decompressed according to its extension.
    pub fn open_reader(&self, url: &str) -> Result<Box<dyn Read + Send>, IoError> {
        self.open_reader_as(url, Compression::from_path(url))
    }

    /// A streaming reader of `url`, decompressed as `compression`.
    pub fn open_reader_as(
        &self,
        url: &str,
        compression: Compression,
    ) -> Result<Box<dyn Read + Send>, IoError> {
        let raw = read::open_range(url, &self.options, 0, None, None)?;
        Ok(compression.decoder(url, raw))
    }

    /// A streaming reader of one block of `url`: bytes `offset..offset + length` realigned to
    /// `delimiter` as described in [`BlockReader`]'s module docs (`None`: exact bytes).
    /// Compressed files can only be read whole (`offset` 0); their block is decompressed.
    pub fn open_block(
        &self,
        url: &str,
        offset: u64,
        length: Option<u64>,
        delimiter: Option<&[u8]>,
    ) -> Result<BlockReader, IoError> {
        self.open_block_as(url, offset, length, delimiter, Compression::from_path(url))
    }

    /// [`Storage::open_block`] with an explicit compression.
    pub fn open_block_as(
        &self,
        url: &str,
        offset: u64,
        length: Option<u64>,
        delimiter: Option<&[u8]>,
        compression: Compression,
    ) -> Result<BlockReader, IoError> {
        self.open_block_pinned(url, offset, length, delimiter, compression, None)
    }

    fn open_block_pinned(
        &self,
        url: &str,
        offset: u64,
        length: Option<u64>,
        delimiter: Option<&[u8]>,
        compression: Compression,
        pin: Option<read::Pin>,
    ) -> Result<BlockReader, IoError> {
        block::check_range(url, offset, compression)?;
        let delim = delimiter.unwrap_or(b"");
        if compression.is_compressed() {
            let raw = read::open_range(url, &self.options, 0, None, pin)?;
            return Ok(BlockReader::new(
                compression.decoder(url, raw),
                0,
                None,
                delim,
            ));
        }
        let raw = read::open_from(url, &self.options, offset, length, pin)?;
        Ok(BlockReader::new(raw, offset, length, delim))
    }

    /// Open the block described by `block` (from [`blocks`]) with `delimiter`.
    ///
    /// An object's block carries the size and ETag its listing saw, so it is read with GET
    /// requests only (no HEAD), all pinned to that version (`If-Match`): every block of one
    /// object reads the same version, and an object replaced after the listing is
    /// [`IoError::Changed`], naming its URL.
    pub fn open(&self, block: &Block, delimiter: Option<&[u8]>) -> Result<BlockReader, IoError> {
        let pin = block.file_size.map(|size| read::Pin {
            size,
            e_tag: block.e_tag.clone(),
        });
        self.open_block_pinned(
            &block.url,
            block.offset,
            block.length,
            delimiter,
            block.compression,
            pin,
        )
    }

    /// One whole block of `url` in memory (see [`Storage::open_block`]).
    pub fn read_block(
        &self,
        url: &str,
        offset: u64,
        length: u64,
        delimiter: Option<&[u8]>,
    ) -> Result<Vec<u8>, IoError> {
        let r = self.open_block(url, offset, Some(length), delimiter)?;
        read::read_to_end(url, Box::new(r), length.min(1 << 30) as usize)
    }

    /// A writer to `url`, compressing according to its extension.
    pub fn open_writer(&self, url: &str) -> Result<Writer, IoError> {
        Writer::open(url, &self.options, Compression::from_path(url))
    }

    /// A writer to `url` with an explicit compression.
    pub fn open_writer_as(&self, url: &str, compression: Compression) -> Result<Writer, IoError> {
        Writer::open(url, &self.options, compression)
    }

    /// Write `data` to `url` (compressed according to its extension), replacing it.
    pub fn write_all(&self, url: &str, data: &[u8]) -> Result<(), IoError> {
        use std::io::Write;
        let mut w = self.open_writer(url)?;
        w.write_all(data).map_err(|e| IoError::from_std(url, e))?;
        w.finish().map(|_| ())
    }
}

/// [`Storage::expand`] with options from the environment.
pub fn expand(url_or_glob: &str) -> Result<Vec<FileInfo>, IoError> {
    Storage::default().expand(url_or_glob)
}

/// [`Storage::size`] with options from the environment.
pub fn size(url: &str) -> Result<u64, IoError> {
    Storage::default().size(url)
}

/// [`Storage::read_all`] with options from the environment.
pub fn read_all(url: &str) -> Result<Vec<u8>, IoError> {
    Storage::default().read_all(url)
}

/// [`Storage::read_range`] with options from the environment.
pub fn read_range(url: &str, offset: u64, length: u64) -> Result<Vec<u8>, IoError> {
    Storage::default().read_range(url, offset, length)
}

/// [`Storage::open_reader`] with options from the environment.
pub fn open_reader(url: &str) -> Result<Box<dyn Read + Send>, IoError> {
    Storage::default().open_reader(url)
}

/// [`Storage::open_block`] with options from the environment.
pub fn open_block(
    url: &str,
    offset: u64,
    length: Option<u64>,
    delimiter: Option<&[u8]>,
) -> Result<BlockReader, IoError> {
    Storage::default().open_block(url, offset, length, delimiter)
}

/// [`Storage::read_block`] with options from the environment.
pub fn read_block(
    url: &str,
    offset: u64,
    length: u64,
    delimiter: Option<&[u8]>,
) -> Result<Vec<u8>, IoError> {
    Storage::default().read_block(url, offset, length, delimiter)
}

/// [`Storage::open_writer`] with options from the environment.
pub fn open_writer(url: &str) -> Result<Writer, IoError> {
    Storage::default().open_writer(url)
}

/// [`Storage::write_all`] with options from the environment.
pub fn write_all(url: &str, data: &[u8]) -> Result<(), IoError> {
    Storage::default().write_all(url, data)
}

brisk_core::data!(Storage, serde);
brisk_core::data!(Block, serde);
brisk_core::data!(FileInfo, serde);
