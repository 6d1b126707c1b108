//! Where an array file lives: a local path or a URL that brisk-io understands (`file://`,
//! `s3://`, `gs://`, `az://`, `http(s)://`), with the storage options to reach it.

use std::path::{Path, PathBuf};

use brisk_io::{Storage, StorageOptions};
use serde::{Deserialize, Serialize};

use crate::error::{ArrayError, Result};

/// A file or object to read or write: anything path-like converts (`&str`, `String`,
/// `&Path`, `PathBuf`), and a string with a scheme (`s3://bucket/x.npy`) names an object.
/// Credentials and endpoints come from the environment unless set with
/// [`UrlPath::with_options`].
///
/// ```
/// use brisk_array::io::UrlPath;
/// use brisk_io::StorageOptions;
/// let local = UrlPath::from(std::path::Path::new("data/x.npy"));
/// assert!(local.is_local());
/// let s3 = UrlPath::from("s3://bucket/x.npy")
///     .with_options(StorageOptions::new().s3_endpoint("http://127.0.0.1:9000"));
/// assert!(!s3.is_local());
/// assert_eq!(s3.url(), "s3://bucket/x.npy");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UrlPath {
    url: String,
    storage: Storage,
}
brisk_core::data!(UrlPath, serde);

impl UrlPath {
    /// `url` (a local path or a URL) with options from the environment.
    pub fn new(url: impl Into<String>) -> Self {
        UrlPath {
            url: url.into(),
            storage: Storage::default(),
        }
    }

    /// The same file, reached with `storage`.
    pub fn with_storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// The same file, reached with `options` (credentials, endpoint, …).
    pub fn with_options(self, options: StorageOptions) -> Self {
        self.with_storage(Storage::new(options))
    }

    /// The URL or path as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How the file is reached.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The URL followed by `/` and `key`.
    pub fn join(&self, key: &str) -> UrlPath {
        UrlPath {
            url: format!("{}/{key}", self.url.trim_end_matches('/')),
            storage: self.storage.clone(),
        }
    }

    /// The local path, or `None` for an object store URL.
    pub fn local_path(&self) -> Result<Option<PathBuf>> {
        Ok(self.storage.local_path(&self.url)?)
    }

    /// Whether this is a local path or `file://` URL (a malformed URL counts as not local).
    pub fn is_local(&self) -> bool {
        matches!(self.local_path(), Ok(Some(_)))
    }

    /// The local path, or an error saying that `format` works on local files only.
    pub(crate) fn require_local(&self, format: &'static str) -> Result<PathBuf> {
        self.local_path()?.ok_or_else(|| ArrayError::NotLocal {
            format,
            url: self.url.clone(),
        })
    }

    /// The URL as a path, for errors that name a file.
    pub(crate) fn display_path(&self) -> PathBuf {
        PathBuf::from(&self.url)
    }
}

impl std::fmt::Display for UrlPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

fn from_path(p: &Path) -> UrlPath {
    let s = p.to_string_lossy();
    if !s.contains("://") {
        return UrlPath::new(s.into_owned());
    }
    // A local path that looks like a URL: name it as a file:// URL so it stays local.
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    UrlPath::new(format!(
        "file://{}",
        abs.to_string_lossy().replace('%', "%25")
    ))
}

impl From<&str> for UrlPath {
    fn from(s: &str) -> Self {
        UrlPath::new(s)
    }
}
impl From<String> for UrlPath {
    fn from(s: String) -> Self {
        UrlPath::new(s)
    }
}
impl From<&String> for UrlPath {
    fn from(s: &String) -> Self {
        UrlPath::new(s.as_str())
    }
}
impl From<&Path> for UrlPath {
    fn from(p: &Path) -> Self {
        from_path(p)
    }
}
impl From<PathBuf> for UrlPath {
    fn from(p: PathBuf) -> Self {
        from_path(&p)
    }
}
impl From<&PathBuf> for UrlPath {
    fn from(p: &PathBuf) -> Self {
        from_path(p)
    }
}
impl From<&UrlPath> for UrlPath {
    fn from(u: &UrlPath) -> Self {
        u.clone()
    }
}
