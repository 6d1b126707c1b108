//! Where data lives: parsing URLs into locations, configuring object store clients, and the
//! small runtime that turns object_store's async API into blocking calls.
//!
//! Clients are cached per (scheme, bucket, options), so every task that reads from one bucket
//! shares one connection pool. The runtime has its own two threads; a blocking call made from
//! inside some other async runtime is handed to those threads instead of nesting runtimes.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use object_store::ObjectStore;
use object_store::multipart::MultipartStore;
use object_store::path::Path as StorePath;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::IoError;
/// Options that Brisk reads itself (never passed to the object store's configuration).
const BRISK_PREFIX: &str = "brisk_";
const RANGE_PART_KEY: &str = "brisk_range_part_bytes";
const RANGE_CONCURRENCY_KEY: &str = "brisk_range_concurrency";
const DEFAULT_RANGE_PART: u64 = 4 << 20;
const DEFAULT_RANGE_CONCURRENCY: usize = 8;
const WRITE_PART_KEY: &str = "brisk_write_part_bytes";
const WRITE_CONCURRENCY_KEY: &str = "brisk_write_concurrency";
const DEFAULT_WRITE_PART: u64 = 8 << 20;
const DEFAULT_WRITE_CONCURRENCY: u64 = 4;

/// Options for object stores: credentials, endpoints, regions, ….
///
/// Keys are object_store's configuration keys (the same names as the environment variables,
/// lower case): `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`,
/// `aws_region`, `aws_endpoint`, `aws_skip_signature`, `google_service_account`,
/// `azure_storage_account_name`, `azure_storage_account_key`, `allow_http`, `timeout`, ….
/// Anything not given here is read from the environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
/// An `aws_endpoint` starting with `http://` allows plain HTTP by itself. Keys starting with
/// `brisk_` are Brisk's own (see [`StorageOptions::parallel_ranges`]).
///
/// ```
/// use brisk_io::StorageOptions;
/// let opts = StorageOptions::new()
///     .with("aws_endpoint", "http://127.0.0.1:5000")
///     .with("aws_access_key_id", "testing")
///     .with("aws_secret_access_key", "testing");
/// assert_eq!(opts.get("aws_region"), None);
/// ```
///
/// Options travel with the tasks that read (they are part of the task graph), so a cluster's
/// workers use the same settings as the client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StorageOptions {
    options: BTreeMap<String, String>,
}

impl StorageOptions {
    /// No options: everything from the environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// With one more option (keys are case-insensitive).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options
            .insert(key.into().to_ascii_lowercase(), value.into());
        self
    }

    /// An S3-compatible server at `endpoint` (`http://127.0.0.1:9000`), with path-style
    /// requests, as local servers (MinIO, moto) want.
    pub fn s3_endpoint(self, endpoint: impl Into<String>) -> Self {
        self.with("aws_endpoint", endpoint)
            .with("aws_virtual_hosted_style_request", "false")
    }

    /// Static credentials for S3.
    pub fn s3_credentials(self, key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.with("aws_access_key_id", key_id)
            .with("aws_secret_access_key", secret)
    }

    /// Read large ranges of S3, GCS and Azure objects as parts of `part_bytes`, `concurrency`
    /// of them requested at once (the default: 4 MiB parts, 8 at once; a concurrency of 1
    /// reads each range with one streaming request). Parallel range requests are how object
    /// stores give their full rate to one reader; a server that answers a range request by
    /// reading the whole object (moto) wants 1. Ranges shorter than two parts are one
    /// request. An open reader holds up to `concurrency + 2` parts in memory (40 MiB by
    /// default). Every part is pinned to the ETag that a HEAD request saw first (If-Match),
    /// so an object replaced during the read is an error, never a mix of two versions.
    ///
    /// ```
    /// use brisk_io::StorageOptions;
    /// let opts = StorageOptions::new().parallel_ranges(16 << 20, 4);
    /// assert_eq!(opts.get("brisk_range_concurrency"), Some("4"));
    /// ```
    pub fn parallel_ranges(self, part_bytes: u64, concurrency: usize) -> Self {
        self.with(RANGE_PART_KEY, part_bytes.to_string())
            .with(RANGE_CONCURRENCY_KEY, concurrency.to_string())
    }

    /// Write objects larger than `part_bytes` as multipart uploads of `part_bytes` parts
    /// (at least 5 MiB, S3's minimum), with up to `concurrency` parts being sent while the
    /// writer goes on (default: 8 MiB parts, 4 in flight). A writer holds at most
    /// `concurrency + 1` parts in memory. See [`crate::Writer`].
    ///
    /// ```
    /// use brisk_io::StorageOptions;
    /// let opts = StorageOptions::new().multipart_writes(16 << 20, 2);
    /// assert_eq!(opts.get("brisk_write_concurrency"), Some("2"));
    /// ```
    pub fn multipart_writes(self, part_bytes: u64, concurrency: usize) -> Self {
        self.with(WRITE_PART_KEY, part_bytes.to_string())
            .with(WRITE_CONCURRENCY_KEY, concurrency.to_string())
    }

    fn positive(&self, url: &str, key: &str, default: u64) -> Result<u64, IoError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| IoError::Config {
                    url: url.to_string(),
                    message: format!(
                        "storage option {key:?} must be a positive integer, not {v:?}"
                    ),
                }),
        }
    }

    /// The part size and concurrency of parallel range reads (see
    /// [`StorageOptions::parallel_ranges`]); a value that is not a positive integer is an
    /// error naming `url`.
    pub(crate) fn range_parts(&self, url: &str) -> Result<(u64, usize), IoError> {
        let part = self.positive(url, RANGE_PART_KEY, DEFAULT_RANGE_PART)?;
        let concurrency =
            self.positive(url, RANGE_CONCURRENCY_KEY, DEFAULT_RANGE_CONCURRENCY as u64)?;
        Ok((part, usize::try_from(concurrency).unwrap_or(usize::MAX)))
    }

    /// The part size and concurrency of multipart writes (see
    /// [`StorageOptions::multipart_writes`]); a part under 5 MiB is an error naming `url`.
    pub(crate) fn write_parts(&self, url: &str) -> Result<(usize, usize), IoError> {
        let part = self.positive(url, WRITE_PART_KEY, DEFAULT_WRITE_PART)?;
        if part < crate::MIN_PART_SIZE {
            return Err(IoError::Config {
                url: url.to_string(),
                message: format!(
                    "storage option {WRITE_PART_KEY:?} is {part} bytes; object stores need parts \
                     of at least {} bytes (5 MiB)",
                    crate::MIN_PART_SIZE
                ),
            });
        }
        let concurrency = self.positive(url, WRITE_CONCURRENCY_KEY, DEFAULT_WRITE_CONCURRENCY)?;
        Ok((
            usize::try_from(part).unwrap_or(usize::MAX),
            usize::try_from(concurrency).unwrap_or(usize::MAX),
        ))
    }

    /// The value of an option, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// All options.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The kinds of object store a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    S3,
    Gcs,
    Azure,
    Http,
}

/// A parsed URL: a local path, or an object in a store.
#[derive(Debug, Clone)]
pub(crate) enum Location {
    Local(PathBuf),
    Remote(Remote),
}

/// An object (or prefix) in an object store.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pub scheme: Scheme,
    /// `s3://bucket` — what object URLs are built on (no trailing slash).
    pub base: String,
    /// The bucket, container or host.
    pub bucket: String,
    /// The key inside the store (no leading slash, not percent-encoded).
    pub key: String,
}

impl Remote {
    /// The URL of `key` in the same store.
    pub fn url_of(&self, key: &str) -> String {
        format!("{}/{}", self.base, key)
    }

    pub fn path(&self) -> StorePath {
        StorePath::from(self.key.as_str())
    }
}

/// Parse a local path, `file://` URL or object store URL.
pub(crate) fn parse_location(url: &str) -> Result<Location, IoError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        if url.is_empty() {
            return Err(IoError::InvalidUrl {
                url: url.into(),
                reason: "the path is empty".into(),
            });
        }
        return Ok(Location::Local(PathBuf::from(url)));
    };
    let scheme_lc = scheme.to_ascii_lowercase();
    if scheme_lc == "file" {
        // file:///abs/path or file://localhost/abs/path
        let path = rest.strip_prefix("localhost").unwrap_or(rest);
        if !path.starts_with('/') {
            return Err(IoError::InvalidUrl {
                url: url.into(),
                reason: "a file:// URL needs an absolute path (file:///dir/file)".into(),
            });
        }
        return Ok(Location::Local(PathBuf::from(percent_decode(path))));
    }
    let kind = match scheme_lc.as_str() {
        "s3" | "s3a" => Scheme::S3,
        "gs" | "gcs" => Scheme::Gcs,
        "az" | "azure" | "abfs" | "abfss" | "adl" => Scheme::Azure,
        "http" | "https" => Scheme::Http,
        _ => {
            return Err(IoError::UnsupportedScheme {
                url: url.into(),
                scheme: scheme.into(),
            });
        }
    };
    let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err(IoError::InvalidUrl {
            url: url.into(),
            reason: "the bucket (or host) is missing".into(),
        });
    }
    // abfs://container@account.dfs.core.windows.net/path names the container before the '@'.
    let bucket = authority.split('@').next().unwrap_or(authority).to_string();
    Ok(Location::Remote(Remote {
        scheme: kind,
        base: format!("{scheme}://{authority}"),
        bucket,
        key: percent_decode(key.trim_start_matches('/')),
    }))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The runtime that drives object_store's futures.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("brisk-io")
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            // Without threads nothing works; there is no useful way to go on.
            Err(e) => panic!("brisk-io cannot start its I/O runtime: {e}"),
        }
    })
}

/// Run `fut` to completion from synchronous code. Inside another async runtime the future
/// runs on brisk-io's own threads and this thread waits, instead of nesting runtimes.
pub(crate) fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return runtime().block_on(fut);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    match rx.recv() {
        Ok(v) => v,
        Err(_) => panic!("brisk-io: an I/O task was dropped before it finished"),
    }
}

/// Run `fut` (which may borrow) to completion on this thread, inside brisk-io's runtime
/// context so that its I/O is driven by brisk-io's threads.
pub(crate) fn block_on_borrowed<F: Future>(fut: F) -> F::Output {
    let _guard = runtime().enter();
    futures::executor::block_on(fut)
}

/// Enter brisk-io's runtime context on this thread (so that tokio tasks can be spawned).
pub(crate) fn enter() -> tokio::runtime::EnterGuard<'static> {
    runtime().enter()
}

/// Start `fut` on brisk-io's runtime without waiting for it.
pub(crate) fn spawn<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    runtime().spawn(fut);
}

type StoreKey = (String, StorageOptions);

/// One bucket's client, also as a [`MultipartStore`] where the store has explicit multipart
/// uploads (S3, GCS, Azure; not plain HTTP).
#[derive(Clone)]
pub(crate) struct Clients {
    pub store: Arc<dyn ObjectStore>,
    pub multipart: Option<Arc<dyn MultipartStore>>,
}

fn store_cache() -> &'static Mutex<std::collections::HashMap<StoreKey, Clients>> {
    static CACHE: OnceLock<Mutex<std::collections::HashMap<StoreKey, Clients>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn retry() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

fn client_options() -> object_store::ClientOptions {
    object_store::ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(120))
}

/// The (cached) client for `remote`'s bucket under `options`.
pub(crate) fn store_for(
    remote: &Remote,
    options: &StorageOptions,
) -> Result<Arc<dyn ObjectStore>, IoError> {
    clients_for(remote, options).map(|c| c.store)
}

/// The (cached) clients for `remote`'s bucket under `options`.
pub(crate) fn clients_for(remote: &Remote, options: &StorageOptions) -> Result<Clients, IoError> {
    let key = (remote.base.clone(), options.clone());
    if let Some(s) = store_cache().lock().get(&key) {
        return Ok(s.clone());
    }
    let clients = build_store(remote, options)?;
    store_cache().lock().insert(key, clients.clone());
    Ok(clients)
}

fn with_multipart<S: ObjectStore + MultipartStore>(s: S) -> Clients {
    let s = Arc::new(s);
    Clients {
        store: Arc::clone(&s) as Arc<dyn ObjectStore>,
        multipart: Some(s as Arc<dyn MultipartStore>),
    }
}

fn config_error(url: &str, e: impl std::fmt::Display) -> IoError {
    IoError::Config {
        url: url.to_string(),
        message: e.to_string(),
    }
}

fn build_store(remote: &Remote, options: &StorageOptions) -> Result<Clients, IoError> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    use object_store::http::HttpBuilder;

    let url = remote.base.as_str();
    let bad_key = |k: &str| IoError::Config {
        url: url.to_string(),
        message: format!("unknown storage option {k:?} for this kind of store"),
    };
    Ok(match remote.scheme {
        Scheme::S3 => {
            let mut b = AmazonS3Builder::from_env()
                .with_url(url)
                .with_retry(retry())
                .with_client_options(client_options());
            let mut region_set =
                std::env::var("AWS_REGION").is_ok() || std::env::var("AWS_DEFAULT_REGION").is_ok();
            let mut http_set = false;
            for (k, v) in options.iter().filter(|(k, _)| !k.starts_with(BRISK_PREFIX)) {
                let key: AmazonS3ConfigKey = k.parse().map_err(|_| bad_key(k))?;
                region_set |= matches!(key, AmazonS3ConfigKey::Region);
                http_set |= k.contains("allow_http");
                b = b.with_config(key, v);
            }
            let endpoint = options
                .get("aws_endpoint")
                .or(options.get("endpoint"))
                .or(options.get("aws_endpoint_url"))
                .map(str::to_string)
                .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
                .or_else(|| std::env::var("AWS_ENDPOINT").ok());
            if let Some(ep) = endpoint {
                if ep.starts_with("http://") && !http_set {
                    b = b.with_allow_http(true);
                }
                if !region_set {
                    b = b.with_region("us-east-1");
                }
            }
            with_multipart(b.build().map_err(|e| config_error(url, e))?)
        }
        Scheme::Gcs => {
            let mut b = GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .with_retry(retry())
                .with_client_options(client_options());
            for (k, v) in options.iter().filter(|(k, _)| !k.starts_with(BRISK_PREFIX)) {
                let key: GoogleConfigKey = k.parse().map_err(|_| bad_key(k))?;
                b = b.with_config(key, v);
            }
            with_multipart(b.build().map_err(|e| config_error(url, e))?)
        }
        Scheme::Azure => {
            let mut b = MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .with_retry(retry())
                .with_client_options(client_options());
            for (k, v) in options.iter().filter(|(k, _)| !k.starts_with(BRISK_PREFIX)) {
                let key: AzureConfigKey = k.parse().map_err(|_| bad_key(k))?;
                b = b.with_config(key, v);
            }
            with_multipart(b.build().map_err(|e| config_error(url, e))?)
        }
        Scheme::Http => {
            // An http:// URL asks for plain HTTP by itself.
            let mut b = HttpBuilder::new()
                .with_url(url)
                .with_retry(retry())
                .with_client_options(client_options().with_allow_http(url.starts_with("http://")));
            for (k, v) in options.iter().filter(|(k, _)| !k.starts_with(BRISK_PREFIX)) {
                let key: object_store::ClientConfigKey = k.parse().map_err(|_| bad_key(k))?;
                b = b.with_config(key, v);
            }
            Clients {
                store: Arc::new(b.build().map_err(|e| config_error(url, e))?),
                multipart: None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let Location::Remote(r) = parse_location("s3://bucket/a/b%20c.txt").unwrap() else {
            panic!("remote expected")
        };
        assert_eq!(r.scheme, Scheme::S3);
        assert_eq!(r.bucket, "bucket");
        assert_eq!(r.key, "a/b c.txt");
        assert_eq!(r.url_of("x"), "s3://bucket/x");
        assert!(matches!(
            parse_location("file:///tmp/x").unwrap(),
            Location::Local(p) if p == std::path::Path::new("/tmp/x")
        ));
        assert!(matches!(
            parse_location("rel/x.txt").unwrap(),
            Location::Local(_)
        ));
        let e = parse_location("ftp://h/x").unwrap_err();
        assert!(e.to_string().contains("ftp"), "{e}");
        let e = parse_location("s3:///x").unwrap_err();
        assert!(e.to_string().contains("bucket"), "{e}");
        let e = parse_location("file://relative").unwrap_err();
        assert!(e.to_string().contains("absolute"), "{e}");
    }

    #[test]
    fn block_on_works_inside_a_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let v = rt.block_on(async { block_on(async { 7 }) });
        assert_eq!(v, 7);
        assert_eq!(block_on(async { 8 }), 8);
    }
}
