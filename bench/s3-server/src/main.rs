//! `brisk-bench-s3-server ROOT --port P --access-key K --secret-key S`: an S3-compatible server on
//! 127.0.0.1 for the S3 benchmarks.
//!
//! Every request goes through `s3s` (the S3 protocol crate that s3s-fs and RustFS build on) and,
//! but for object GETs, through `s3s_fs::FileSystem` unchanged. GETs take the object's
//! metadata and ETag from s3s-fs's HEAD and send the requested bytes as 1 MiB slices of a memory
//! map of the file: stock s3s-fs streams in 4 KiB reads (one blocking-pool round trip each) and
//! serves ~300 MB/s on loopback, which measures the server rather than the client; and on a
//! 2-core machine every cycle the server spends is taken from the client it is measuring. `If-Match` is checked against
//! the ETag (412 when it differs), as S3 does.

use std::path::PathBuf;

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use tokio::net::TcpListener;

/// How many bytes each piece of a GET body holds.
const READ: usize = 1 << 20;

struct FastGet {
    inner: s3s_fs::FileSystem,
    root: PathBuf,
}

fn etag_matches(cond: &ETagCondition, etag: &ETag) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(want) => want.value() == etag.value(),
    }
}

#[async_trait::async_trait]
impl S3 for FastGet {
    // Everything but GET: s3s-fs unchanged.
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.inner.create_bucket(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.inner.delete_bucket(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.inner.head_bucket(req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.inner.list_buckets(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.inner.head_object(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.inner.put_object(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.inner.copy_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.inner.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.inner.delete_objects(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.inner.list_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.inner.list_objects_v2(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.inner.create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.inner.upload_part(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.inner.list_parts(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.inner.complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.inner.abort_multipart_upload(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let bucket = req.input.bucket.clone();
        let key = req.input.key.clone();
        let range = req.input.range;
        let if_match = req.input.if_match.clone();
        let head = req.map_input(|_| HeadObjectInput {
            bucket: bucket.clone(),
            key: key.clone(),
            ..Default::default()
        });
        let head = self.inner.head_object(head).await?.output;
        if let (Some(cond), Some(etag)) = (&if_match, &head.e_tag)
            && !etag_matches(cond, etag)
        {
            return Err(s3_error!(
                PreconditionFailed,
                "the object's ETag differs from If-Match"
            ));
        }
        if key.split('/').any(|p| p == ".." || p == ".") {
            return Err(s3_error!(InvalidArgument, "bad key"));
        }
        let path = self.root.join(&bucket).join(&key);
        let file = std::fs::File::open(&path).map_err(|_| s3_error!(NoSuchKey))?;
        let len = file
            .metadata()
            .map_err(|e| s3_error!(e, InternalError))?
            .len();
        let (start, end, content_range) = match range {
            None => (0, len, None),
            Some(r) => {
                let r = r.check(len)?;
                let shown = format!("bytes {}-{}/{len}", r.start, r.end.saturating_sub(1));
                (r.start, r.end, Some(shown))
            }
        };
        let count = end - start;
        // The body is slices of a memory map of the file: the kernel copies each page once,
        // into the socket (no read into a buffer first).
        let body: Vec<Result<Bytes, std::io::Error>> = if count == 0 {
            Vec::new()
        } else {
            // SAFETY: the benchmark's objects are not modified while they are served.
            let map =
                unsafe { memmap2::Mmap::map(&file) }.map_err(|e| s3_error!(e, InternalError))?;
            let whole = Bytes::from_owner(map).slice(start as usize..end as usize);
            (0..whole.len())
                .step_by(READ)
                .map(|i| Ok(whole.slice(i..(i + READ).min(whole.len()))))
                .collect()
        };
        let body = futures::stream::iter(body);
        let output = GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: Some(count as i64),
            content_range,
            last_modified: head.last_modified,
            e_tag: head.e_tag,
            metadata: head.metadata,
            content_encoding: head.content_encoding,
            content_type: head.content_type,
            accept_ranges: Some("bytes".into()),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: brisk-bench-s3-server ROOT --port P --access-key K --secret-key S";
    let root = PathBuf::from(args.get(1).ok_or(usage)?);
    let port: u16 = arg(&args, "--port").ok_or(usage)?.parse()?;
    let key = arg(&args, "--access-key").ok_or(usage)?;
    let secret = arg(&args, "--secret-key").ok_or(usage)?;
    let inner = s3s_fs::FileSystem::new(&root).map_err(|e| format!("{}: {e:?}", root.display()))?;
    let mut b = S3ServiceBuilder::new(FastGet { inner, root });
    b.set_auth(SimpleAuth::from_single(key, secret));
    let service = b.build();
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let (socket, _) = listener.accept().await?;
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
