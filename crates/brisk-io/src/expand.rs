//! Glob expansion on local paths and object stores: `data/2015-*.csv`, `s3://b/logs/**/*.gz`.
//!
//! `*` and `?` never cross a `/`; `**` matches any number of directories. Results are sorted by
//! URL (plain byte order, as Dask does). A pattern that matches nothing is an error; so is a
//! plain path that does not exist. A plain path naming a directory (or an object store prefix)
//! expands to the files directly inside it.

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::error::IoError;
use crate::storage::{Location, Remote, StorageOptions, block_on, parse_location, store_for};

/// One file found by [`crate::Storage::expand`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileInfo {
    /// The file's URL (a local path stays a path; object URLs keep their scheme).
    pub url: String,
    /// Its size in bytes (compressed size for compressed files).
    pub size: u64,
    /// The object's ETag when the store gives one (never for local files): blocks made from
    /// this entry read exactly this version.
    #[serde(default)]
    pub e_tag: Option<String>,
}

impl FileInfo {
    /// A file of `size` bytes with no ETag.
    pub fn new(url: impl Into<String>, size: u64) -> FileInfo {
        FileInfo {
            url: url.into(),
            size,
            e_tag: None,
        }
    }
}

/// Whether `s` holds glob characters.
pub fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

pub(crate) fn expand(pattern: &str, options: &StorageOptions) -> Result<Vec<FileInfo>, IoError> {
    let mut files = match parse_location(pattern)? {
        Location::Local(path) => expand_local(pattern, &path)?,
        Location::Remote(remote) => expand_remote(pattern, &remote, options)?,
    };
    files.sort_by(|a, b| a.url.cmp(&b.url));
    files.dedup_by(|a, b| a.url == b.url);
    if files.is_empty() {
        return Err(IoError::NoMatch {
            pattern: pattern.to_string(),
        });
    }
    Ok(files)
}

fn local_url(pattern: &str, path: &std::path::Path) -> String {
    if pattern.starts_with("file://") {
        format!("file://{}", path.display())
    } else {
        path.display().to_string()
    }
}

fn expand_local(pattern: &str, path: &std::path::Path) -> Result<Vec<FileInfo>, IoError> {
    let text = path.to_string_lossy();
    if !is_glob(&text) {
        let meta = std::fs::metadata(path).map_err(|e| IoError::local("open", pattern, e))?;
        if !meta.is_dir() {
            return Ok(vec![FileInfo::new(pattern, meta.len())]);
        }
        let mut out = Vec::new();
        let entries = std::fs::read_dir(path).map_err(|e| IoError::local("list", pattern, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| IoError::local("list", pattern, e))?;
            let meta = entry
                .metadata()
                .map_err(|e| IoError::local("list", pattern, e))?;
            if meta.is_file() && !is_temp(&entry.path()) {
                out.push(FileInfo::new(local_url(pattern, &entry.path()), meta.len()));
            }
        }
        return Ok(out);
    }
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let paths = glob::glob_with(&text, opts).map_err(|e| IoError::BadGlob {
        pattern: pattern.to_string(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for p in paths {
        let p = p.map_err(|e| {
            let url = e.path().display().to_string();
            IoError::local("list", url, e.into())
        })?;
        let meta = std::fs::metadata(&p)
            .map_err(|e| IoError::local("open", p.display().to_string(), e))?;
        if meta.is_file() && !is_temp(&p) {
            out.push(FileInfo::new(local_url(pattern, &p), meta.len()));
        }
    }
    Ok(out)
}

/// Whether `path` is a local writer's unfinished temporary file (skipped by listings).
fn is_temp(path: &std::path::Path) -> bool {
    path.file_name()
        .is_some_and(|n| crate::write::is_temp_name(&n.to_string_lossy()))
}

/// List every object under the directory `prefix` ("" for the whole bucket).
fn list(
    pattern: &str,
    remote: &Remote,
    options: &StorageOptions,
    prefix: &str,
) -> Result<Vec<object_store::ObjectMeta>, IoError> {
    let store = store_for(remote, options)?;
    let prefix = (!prefix.is_empty()).then(|| object_store::path::Path::from(prefix));
    let bucket = remote.bucket.clone();
    let url = pattern.to_string();
    block_on(async move {
        store
            .list(prefix.as_ref())
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| IoError::store("list", url, &bucket, e))
    })
}

fn expand_remote(
    pattern: &str,
    remote: &Remote,
    options: &StorageOptions,
) -> Result<Vec<FileInfo>, IoError> {
    if !is_glob(&remote.key) {
        match crate::read::head(remote, options, pattern) {
            Ok(pin) if !remote.key.is_empty() => {
                return Ok(vec![FileInfo {
                    url: pattern.to_string(),
                    size: pin.size,
                    e_tag: pin.e_tag,
                }]);
            }
            Ok(_) => {}
            Err(IoError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        // Not an object: maybe a "directory" prefix. Listing also tells a missing bucket apart.
        let dir = remote.key.trim_end_matches('/');
        let objects = list(pattern, remote, options, dir)?;
        let out: Vec<FileInfo> = objects
            .into_iter()
            .filter(|m| {
                let k = m.location.as_ref();
                let rest = if dir.is_empty() {
                    k
                } else {
                    k.strip_prefix(dir)
                        .and_then(|r| r.strip_prefix('/'))
                        .unwrap_or("")
                };
                !rest.is_empty() && !rest.contains('/')
            })
            .map(|m| FileInfo {
                url: remote.url_of(m.location.as_ref()),
                size: m.size,
                e_tag: m.e_tag,
            })
            .collect();
        if out.is_empty() {
            return Err(IoError::NotFound {
                url: pattern.to_string(),
            });
        }
        return Ok(out);
    }
    let first_glob = remote.key.find(['*', '?', '[']).unwrap_or(0);
    let dir = remote.key[..first_glob]
        .rsplit_once('/')
        .map(|(d, _)| d)
        .unwrap_or("");
    let matcher = globset::GlobBuilder::new(&remote.key)
        .literal_separator(true)
        .build()
        .map_err(|e| IoError::BadGlob {
            pattern: pattern.to_string(),
            reason: e.kind().to_string(),
        })?
        .compile_matcher();
    let objects = list(pattern, remote, options, dir)?;
    Ok(objects
        .into_iter()
        .filter(|m| matcher.is_match(m.location.as_ref()))
        .map(|m| FileInfo {
            url: remote.url_of(m.location.as_ref()),
            size: m.size,
            e_tag: m.e_tag,
        })
        .collect())
}
