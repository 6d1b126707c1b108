//! Direct access for formats with a layout of their own (arrays in `.npy` or Zarr): several
//! byte ranges read into one buffer, multipart uploads whose parts are written in any order by
//! different tasks, and the object_store client itself for libraries that take one.
//!
//! Local files get positioned reads (`pread`) on one open file, so a chunk made of many short
//! runs costs one `open` and no copies. Objects get one request per run, with runs less than
//! [`COALESCE`] apart merged into one request, and up to ten requests in flight.

use std::future::Future;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::Storage;
use crate::error::IoError;
use crate::storage::{Location, Remote, block_on_borrowed, clients_for, parse_location};

/// Byte runs of one object closer together than this are fetched by one request.
pub const COALESCE: u64 = 256 << 10;

/// The smallest part of a multipart upload other than the last (S3's rule).
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// The largest number of parts in one multipart upload (S3's rule).
pub const MAX_PARTS: usize = 10_000;

impl Storage {
    /// The local path `url` names, or `None` for an object store URL.
    pub fn local_path(&self, url: &str) -> Result<Option<PathBuf>, IoError> {
        Ok(match parse_location(url)? {
            Location::Local(p) => Some(p),
            Location::Remote(_) => None,
        })
    }

    /// Read the raw byte runs `(offset, length)` of `url`, one after the other, into `out`
    /// (whose length must be the sum of the lengths). A run past the end of the file is an
    /// error naming the URL.
    pub fn read_ranges_into(
        &self,
        url: &str,
        runs: &[(u64, usize)],
        out: &mut [u8],
    ) -> Result<(), IoError> {
        let total: usize = runs.iter().map(|r| r.1).sum();
        if total != out.len() {
            return Err(IoError::InvalidUrl {
                url: url.to_string(),
                reason: format!(
                    "{total} bytes of ranges read into a buffer of {}",
                    out.len()
                ),
            });
        }
        match parse_location(url)? {
            Location::Local(p) => {
                let f = std::fs::File::open(&p).map_err(|e| IoError::local("open", url, e))?;
                let mut at = 0;
                for &(offset, len) in runs {
                    f.read_exact_at(&mut out[at..at + len], offset)
                        .map_err(|e| IoError::local("read", url, e))?;
                    at += len;
                }
                Ok(())
            }
            Location::Remote(r) => {
                let ranges: Vec<Range<u64>> = runs
                    .iter()
                    .filter(|r| r.1 > 0)
                    .map(|&(o, l)| o..o + l as u64)
                    .collect();
                let store = clients_for(&r, self.options())?.store;
                let path = r.path();
                let got = block_on_borrowed(object_store::coalesce_ranges(
                    &ranges,
                    |range| {
                        let store = Arc::clone(&store);
                        let path = path.clone();
                        async move { store.get_range(&path, range).await }
                    },
                    COALESCE,
                ))
                .map_err(|e| IoError::store("read", url, &r.bucket, e))?;
                let mut at = 0;
                for (b, range) in got.iter().zip(&ranges) {
                    let len = (range.end - range.start) as usize;
                    if b.len() != len {
                        return Err(IoError::wrong_length(url, range.clone(), b.len() as u64));
                    }
                    out[at..at + len].copy_from_slice(b);
                    at += len;
                }
                Ok(())
            }
        }
    }

    /// Start a multipart upload to the object `url`: parts are put by index, in any order and
    /// from any thread or process, then [`Upload::complete`] joins them in index order. Every
    /// part but the last must be at least [`MIN_PART_SIZE`] bytes. Object stores only (S3,
    /// GCS, Azure): a local path or an `http(s)://` URL is an error naming it.
    pub fn create_upload(&self, url: &str) -> Result<Upload, IoError> {
        let (r, mp) = self.multipart(url)?;
        let path = r.path();
        let id = block_on_borrowed(mp.create_multipart(&path))
            .map_err(|e| IoError::store("start an upload to", url, &r.bucket, e))?;
        Ok(Upload {
            url: url.to_string(),
            id,
            storage: self.clone(),
        })
    }

    fn multipart(&self, url: &str) -> Result<(Remote, Arc<dyn MultipartStore>), IoError> {
        let not_supported = || IoError::Config {
            url: url.to_string(),
            message: "multipart uploads need an object store (s3://, gs://, az://)".into(),
        };
        let Location::Remote(r) = parse_location(url)? else {
            return Err(not_supported());
        };
        let mp = clients_for(&r, self.options())?
            .multipart
            .ok_or_else(not_supported)?;
        Ok((r, mp))
    }

    /// The object_store client and the object's path in it, for libraries that take an
    /// [`ObjectStore`] (the client is `None`-free: local paths are an error naming them).
    /// Drive its futures with [`crate::block_on`].
    pub fn object_store(&self, url: &str) -> Result<(Arc<dyn ObjectStore>, StorePath), IoError> {
        match parse_location(url)? {
            Location::Local(_) => Err(IoError::Config {
                url: url.to_string(),
                message: "a local path has no object store client".into(),
            }),
            Location::Remote(r) => Ok((clients_for(&r, self.options())?.store, r.path())),
        }
    }
}

/// Run a future of an object_store client (from [`Storage::object_store`]) to completion on
/// this thread, with brisk-io's runtime driving its I/O.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    block_on_borrowed(fut)
}

/// A multipart upload in progress (see [`Storage::create_upload`]). It is plain data, so
/// tasks on other workers can put parts of the same upload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Upload {
    url: String,
    id: String,
    storage: Storage,
}

/// One part of an [`Upload`] that has been put.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UploadedPart {
    /// Its index (0-based).
    pub index: usize,
    /// The store's name for it.
    pub id: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
}

impl Upload {
    /// The URL of the object being written.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Put part `index` (0-based; at most [`MAX_PARTS`] parts).
    pub fn put_part(&self, index: usize, data: Vec<u8>) -> Result<UploadedPart, IoError> {
        if index >= MAX_PARTS {
            return Err(IoError::Config {
                url: self.url.clone(),
                message: format!("part {index} of an upload: stores take at most {MAX_PARTS}"),
            });
        }
        let (r, mp) = self.storage.multipart(&self.url)?;
        let path = r.path();
        let id = self.id.clone();
        let size = data.len() as u64;
        let part = block_on_borrowed(mp.put_part(&path, &id, index, PutPayload::from(data)))
            .map_err(|e| IoError::store("write part of", &self.url, &r.bucket, e))?;
        Ok(UploadedPart {
            index,
            id: part.content_id,
            size,
        })
    }

    /// Join the parts (which must be exactly the indices `0..n`, in any order) into the
    /// object. Every part but the last must have at least [`MIN_PART_SIZE`] bytes: a smaller
    /// one is [`IoError::PartTooSmall`] before the store is asked (the upload stays open, so
    /// the part can be put again, or [`Upload::abort`] it).
    pub fn complete(&self, mut parts: Vec<UploadedPart>) -> Result<(), IoError> {
        parts.sort_by_key(|p| p.index);
        if let Some(missing) = parts.iter().enumerate().find(|(i, p)| p.index != *i) {
            return Err(IoError::Config {
                url: self.url.clone(),
                message: format!(
                    "cannot complete the upload: part {} is missing or repeated",
                    missing.0
                ),
            });
        }
        let last = parts.len().saturating_sub(1);
        if let Some(small) = parts[..last].iter().find(|p| p.size < MIN_PART_SIZE) {
            return Err(IoError::PartTooSmall {
                url: self.url.clone(),
                index: small.index,
                size: small.size,
                min: MIN_PART_SIZE,
            });
        }
        let (r, mp) = self.storage.multipart(&self.url)?;
        let path = r.path();
        let ids: Vec<PartId> = parts
            .into_iter()
            .map(|p| PartId { content_id: p.id })
            .collect();
        block_on_borrowed(mp.complete_multipart(&path, &self.id, ids))
            .map(|_| ())
            .map_err(|e| IoError::store("complete the upload of", &self.url, &r.bucket, e))
    }

    /// Give up the upload and drop its parts.
    pub fn abort(&self) -> Result<(), IoError> {
        let (r, mp) = self.storage.multipart(&self.url)?;
        let path = r.path();
        block_on_borrowed(mp.abort_multipart(&path, &self.id))
            .map_err(|e| IoError::store("abort the upload of", &self.url, &r.bucket, e))
    }
}

brisk_core::data!(Upload, serde);
brisk_core::data!(UploadedPart, serde);
