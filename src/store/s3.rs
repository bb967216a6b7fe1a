//! `ObjectStore` over any S3-compatible service (AWS S3, MinIO, SeaweedFS) with
//! aws-sdk-s3: presigned PUT URLs bound to the declared size, streamed uploads
//! (one PUT below a part's size, server-side multipart above it, aborted when the
//! body breaks off or passes the limit), and downloads streamed to a temporary
//! file for the decoders.

use super::objects::{ByteStream, LocalCopy, ObjectError, ObjectStore, PresignedPut, PutOutcome, check_key};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Bytes per multipart part (S3's minimum is 5 MiB for all but the last).
const PART: usize = 8 * 1024 * 1024;

/// Where and how to reach the bucket (`[s3]` in config.toml).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// e.g. `http://127.0.0.1:8333`; empty: AWS's endpoint for the region.
    pub endpoint: String,
    /// The store's address as clients reach it, for presigned upload URLs (e.g.
    /// `https://s3.example.com` when the service reaches it as `http://seaweedfs:8333`);
    /// empty: `endpoint`.
    pub public_endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Path-style URLs (`endpoint/bucket/key`), as MinIO and SeaweedFS expect.
    pub path_style: bool,
    /// Create the bucket at start if it does not exist.
    pub create_bucket: bool,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: String::new(),
            public_endpoint: String::new(),
            region: "us-east-1".into(),
            bucket: "orakgaraki".into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            path_style: true,
            create_bucket: false,
        }
    }
}

/// A body being read: its running size (checked against the limit) and hash.
struct Tally {
    hasher: Sha256,
    size: u64,
    limit: u64,
}

impl Tally {
    fn new(limit: u64) -> Self {
        Tally { hasher: Sha256::new(), size: 0, limit }
    }

    /// The next chunk of the body appended to `buf`, or `None` at its end.
    async fn next_into(&mut self, body: &mut ByteStream<'_>, buf: &mut Vec<u8>) -> Result<Option<()>, ObjectError> {
        let Some(chunk) = body.next().await else { return Ok(None) };
        let chunk = chunk.map_err(|e| ObjectError::Body(e.to_string()))?;
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(ObjectError::TooLarge { limit: self.limit });
        }
        self.hasher.update(&chunk);
        buf.extend_from_slice(&chunk);
        Ok(Some(()))
    }

    fn outcome(self) -> PutOutcome {
        PutOutcome { size: self.size, sha256: hex::encode(self.hasher.finalize()) }
    }
}

/// Objects in an S3 bucket.
#[derive(Clone)]
pub struct S3Objects {
    client: Client,
    /// Signs upload URLs for the address clients reach (`public_endpoint`).
    presigner: Client,
    bucket: String,
    /// Where downloads for the decoders are written.
    tmp: PathBuf,
}

/// Maps an SDK error to `ObjectError::Remote`, prefixed with what was being done.
fn failed<E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static>(
    what: impl std::fmt::Display,
) -> impl FnOnce(aws_sdk_s3::error::SdkError<E>) -> ObjectError {
    move |e| ObjectError::Remote(format!("{what}: {}", describe(&e)))
}

/// The message of an SDK error with its service error code, when there is one.
fn describe<E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static>(
    e: &aws_sdk_s3::error::SdkError<E>,
) -> String {
    match e.as_service_error() {
        Some(s) => format!("{} ({})", s.message().unwrap_or("no message"), s.code().unwrap_or("no code")),
        None => aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
    }
}

impl S3Objects {
    /// A client for `cfg` (no network use yet unless `create_bucket`).
    pub async fn open(cfg: &S3Config, tmp: PathBuf) -> Result<Self, ObjectError> {
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)? {
            let _ = std::fs::remove_file(entry?.path());
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .credentials_provider(Credentials::new(
                &cfg.access_key_id,
                &cfg.secret_access_key,
                None,
                None,
                "orakgaraki-config",
            ))
            .force_path_style(cfg.path_style)
            .http_client(http);
        let mut public = builder.clone();
        if !cfg.endpoint.is_empty() {
            builder = builder.endpoint_url(&cfg.endpoint);
        }
        let presigner = if cfg.public_endpoint.is_empty() {
            Client::from_conf(builder.clone().build())
        } else {
            // Signed for the host clients use; no request goes through this client.
            public = public.endpoint_url(&cfg.public_endpoint);
            Client::from_conf(public.build())
        };
        let me = S3Objects { client: Client::from_conf(builder.build()), presigner, bucket: cfg.bucket.clone(), tmp };
        if cfg.create_bucket {
            me.ensure_bucket().await?;
        }
        Ok(me)
    }

    async fn ensure_bucket(&self) -> Result<(), ObjectError> {
        if self.client.head_bucket().bucket(&self.bucket).send().await.is_ok() {
            return Ok(());
        }
        match self.client.create_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()) =>
            {
                Ok(())
            }
            Err(e) => Err(failed(format!("create bucket {}", self.bucket))(e)),
        }
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        if let Err(e) =
            self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(upload_id).send().await
        {
            tracing::warn!(
                key,
                error = %describe(&e),
                "could not abort a multipart upload; the bucket's lifecycle rule must clean it",
            );
        }
    }

    /// Uploads `buf` as part `n` of `upload_id`.
    async fn part(&self, key: &str, upload_id: &str, n: i32, buf: Vec<u8>) -> Result<CompletedPart, ObjectError> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(n)
            .body(S3Body::from(buf))
            .send()
            .await
            .map_err(failed(format!("upload part {n} of {key}")))?;
        Ok(CompletedPart::builder().part_number(n).set_e_tag(out.e_tag().map(str::to_owned)).build())
    }

    /// The body of `put_stream` once a multipart upload is open.
    async fn multipart(
        &self,
        key: &str,
        upload_id: &str,
        first: Vec<u8>,
        body: &mut ByteStream<'_>,
        tally: &mut Tally,
    ) -> Result<(), ObjectError> {
        let mut parts = vec![self.part(key, upload_id, 1, first).await?];
        let mut buf = Vec::with_capacity(PART);
        let limit = tally.limit;
        let number = |n: usize| i32::try_from(n).map_err(|_| ObjectError::TooLarge { limit });
        while tally.next_into(body, &mut buf).await?.is_some() {
            if buf.len() >= PART {
                let n = number(parts.len() + 1)?;
                parts.push(self.part(key, upload_id, n, std::mem::replace(&mut buf, Vec::with_capacity(PART))).await?);
            }
        }
        if !buf.is_empty() {
            let n = number(parts.len() + 1)?;
            parts.push(self.part(key, upload_id, n, buf).await?);
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(failed(format!("complete upload of {key}")))?;
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn presign_put(
        &self,
        key: &str,
        size: u64,
        content_type: &str,
        expires: i64,
    ) -> Result<PresignedPut, ObjectError> {
        check_key(key)?;
        let ttl = (expires - crate::clock::now_ms() / 1000).max(1);
        let config = PresigningConfig::expires_in(Duration::from_secs(ttl.unsigned_abs()))
            .map_err(|e| ObjectError::Remote(format!("presign: {e}")))?;
        let mut put = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX));
        if !content_type.is_empty() {
            put = put.content_type(content_type);
        }
        let req = put.presigned(config).await.map_err(failed(format!("presign {key}")))?;
        // The signature covers Content-Length: S3 refuses a body of any other size.
        let headers = req
            .headers()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok(PresignedPut { url: req.uri().to_owned(), method: "PUT", headers })
    }

    async fn put_stream(&self, key: &str, mut body: ByteStream<'_>, limit: u64) -> Result<PutOutcome, ObjectError> {
        check_key(key)?;
        let mut tally = Tally::new(limit);
        let mut buf = Vec::new();
        // Up to one part: buffered and sent in one PUT.
        while buf.len() < PART && tally.next_into(&mut body, &mut buf).await?.is_some() {}
        if buf.len() < PART {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(S3Body::from(buf))
                .send()
                .await
                .map_err(failed(format!("put {key}")))?;
            return Ok(tally.outcome());
        }
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(failed(format!("start upload of {key}")))?;
        let upload_id = created.upload_id().ok_or_else(|| ObjectError::Remote("no upload id".into()))?.to_owned();
        match self.multipart(key, &upload_id, buf, &mut body, &mut tally).await {
            Ok(()) => Ok(tally.outcome()),
            Err(e) => {
                self.abort(key, &upload_id).await;
                Err(e)
            }
        }
    }

    async fn fetch(&self, key: &str) -> Result<LocalCopy, ObjectError> {
        check_key(key)?;
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(ObjectError::NotFound(key.to_owned()));
            }
            Err(e) => return Err(failed(format!("get {key}"))(e)),
        };
        let copy = LocalCopy { path: self.tmp.join(uuid::Uuid::new_v4().to_string()), temporary: true };
        let mut file = tokio::fs::File::create(&copy.path).await?;
        let mut reader = out.body.into_async_read();
        tokio::io::copy_buf(&mut reader, &mut file).await?;
        file.flush().await?;
        Ok(copy)
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, ObjectError> {
        check_key(key)?;
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(failed(format!("head {key}"))(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(failed(format!("delete {key}")))?;
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires: i64, content_type: &str) -> Result<String, ObjectError> {
        check_key(key)?;
        let ttl = (expires - crate::clock::now_ms() / 1000).max(1);
        let config = PresigningConfig::expires_in(Duration::from_secs(ttl.unsigned_abs()))
            .map_err(|e| ObjectError::Remote(format!("presign: {e}")))?;
        let req = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type(content_type)
            .response_content_disposition("attachment")
            .presigned(config)
            .await
            .map_err(failed(format!("presign get {key}")))?;
        Ok(req.uri().to_owned())
    }
}
