//! Object storage for the audio: the trait, and the local-folder backend used in
//! embedded mode. Bodies are streamed — never held whole in memory — hashed on the
//! way through, written to a temporary file, fsynced, then renamed into place.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

use crate::auth::UploadSigner;

/// A failed object operation.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The body passed the byte limit; nothing was stored.
    #[error("the upload is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The client's body stream broke off.
    #[error("the upload was interrupted: {0}")]
    Body(String),
    #[error("object not found: {0}")]
    NotFound(String),
    #[error("invalid object key: {0}")]
    BadKey(String),
    /// The store has no URLs of its own for downloads.
    #[error("this object store serves no direct download URLs")]
    NoDirectUrl,
    #[error("object storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The remote object store refused or failed a request.
    #[error("object store request failed: {0}")]
    Remote(String),
}

/// What a finished upload stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// A readable local copy of an object, for the (blocking) decoders.
#[derive(Debug)]
pub struct LocalCopy {
    pub path: PathBuf,
    /// Removed on drop when the copy was made for this read.
    pub temporary: bool,
}

impl Drop for LocalCopy {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A signed request that uploads one object directly.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PresignedPut {
    pub url: String,
    pub method: &'static str,
    /// Headers the client must send with the body.
    pub headers: std::collections::BTreeMap<String, String>,
}

/// A body stream as the HTTP layer hands it over.
pub type ByteStream<'a> = BoxStream<'a, Result<Bytes, std::io::Error>>;

/// Where the audio lives.
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// A URL through which a client uploads at most `size` bytes to `key` until
    /// `expires` (unix seconds).
    async fn presign_put(
        &self,
        key: &str,
        size: u64,
        content_type: &str,
        expires: i64,
    ) -> Result<PresignedPut, ObjectError>;
    /// Streams `body` to `key`, refusing (and storing nothing) past `limit` bytes.
    async fn put_stream(&self, key: &str, body: ByteStream<'_>, limit: u64) -> Result<PutOutcome, ObjectError>;
    /// A local file with the object's bytes.
    async fn fetch(&self, key: &str) -> Result<LocalCopy, ObjectError>;
    /// The object's size, if it exists.
    async fn size(&self, key: &str) -> Result<Option<u64>, ObjectError>;
    /// Removes the object; a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), ObjectError>;
    /// A URL from which a client downloads the object until `expires` (unix
    /// seconds), for stores that can sign one; the embedded store's files are
    /// served by the HTTP layer instead (`NoDirectUrl`).
    /// The download is answered as `content_type` with `Content-Disposition:
    /// attachment`, whatever the object's stored metadata says.
    async fn presign_get(&self, key: &str, expires: i64, content_type: &str) -> Result<String, ObjectError>;
}

/// Server-made object keys only (`audio/<uuid>`): anything that could climb out
/// of a folder or needs escaping is refused.
pub fn check_key(key: &str) -> Result<(), ObjectError> {
    let ok = !key.is_empty()
        && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(ObjectError::BadKey(key.chars().take(80).collect())) }
}

/// Objects as files under a folder; uploads go to this binary's own
/// `PUT /objects/<key>` route, authorised by an HMAC signature.
#[derive(Clone)]
pub struct LocalObjects {
    root: PathBuf,
    signer: UploadSigner,
    base_url: String,
}

impl LocalObjects {
    /// Uses (creating) `root` and its `tmp/` folder; leftovers of interrupted uploads are removed.
    pub fn open(root: &Path, signer: UploadSigner, base_url: &str) -> Result<Self, ObjectError> {
        std::fs::create_dir_all(root.join("tmp"))?;
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(LocalObjects { root: root.to_owned(), signer, base_url: base_url.trim_end_matches('/').to_owned() })
    }

    fn path(&self, key: &str) -> Result<PathBuf, ObjectError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl ObjectStore for LocalObjects {
    async fn presign_put(
        &self,
        key: &str,
        size: u64,
        content_type: &str,
        expires: i64,
    ) -> Result<PresignedPut, ObjectError> {
        self.path(key)?;
        let sig = self.signer.sign(key, expires, size);
        let mut headers = std::collections::BTreeMap::new();
        if !content_type.is_empty() {
            headers.insert("Content-Type".to_owned(), content_type.to_owned());
        }
        Ok(PresignedPut {
            url: format!("{}/objects/{key}?expires={expires}&size={size}&sig={sig}", self.base_url),
            method: "PUT",
            headers,
        })
    }

    async fn put_stream(&self, key: &str, mut body: ByteStream<'_>, limit: u64) -> Result<PutOutcome, ObjectError> {
        let dest = self.path(key)?;
        let tmp = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut hasher = Sha256::new();
            let mut size: u64 = 0;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| ObjectError::Body(e.to_string()))?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(ObjectError::TooLarge { limit });
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            Ok(PutOutcome { size, sha256: hex::encode(hasher.finalize()) })
        }
        .await;
        match result {
            Ok(outcome) => {
                if let Some(parent) = dest.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::rename(&tmp, &dest).await?;
                Ok(outcome)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    async fn fetch(&self, key: &str) -> Result<LocalCopy, ObjectError> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(_) => Ok(LocalCopy { path, temporary: false }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ObjectError::NotFound(key.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, ObjectError> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn presign_get(&self, _key: &str, _expires: i64, _content_type: &str) -> Result<String, ObjectError> {
        Err(ObjectError::NoDirectUrl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: Vec<&'static [u8]>) -> ByteStream<'static> {
        futures_util::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c)))).boxed()
    }

    #[tokio::test]
    async fn stores_hashes_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalObjects::open(dir.path(), UploadSigner::new(b"k"), "http://h").unwrap();
        let out = store.put_stream("audio/x", body(vec![b"ab", b"c"]), 10).await.unwrap();
        assert_eq!(out.size, 3);
        assert_eq!(out.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(store.size("audio/x").await.unwrap(), Some(3));
        assert_eq!(std::fs::read(store.fetch("audio/x").await.unwrap().path.clone()).unwrap(), b"abc");
        store.delete("audio/x").await.unwrap();
        store.delete("audio/x").await.unwrap();
        assert_eq!(store.size("audio/x").await.unwrap(), None);
    }

    #[tokio::test]
    async fn refuses_oversize_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalObjects::open(dir.path(), UploadSigner::new(b"k"), "http://h").unwrap();
        let err = store.put_stream("audio/y", body(vec![b"12345", b"678"]), 6).await.unwrap_err();
        assert!(matches!(err, ObjectError::TooLarge { limit: 6 }));
        assert_eq!(store.size("audio/y").await.unwrap(), None);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn presigned_urls_carry_a_verifiable_signature() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalObjects::open(dir.path(), UploadSigner::new(b"k"), "http://h/").unwrap();
        let p = store.presign_put("audio/x", 10, "audio/wav", 99).await.unwrap();
        let sig = p.url.rsplit("sig=").next().unwrap();
        assert!(p.url.starts_with("http://h/objects/audio/x?expires=99&size=10&sig="), "{}", p.url);
        assert_eq!(UploadSigner::new(b"k").verify("audio/x", 99, 10, sig, 98), Ok(()));
        assert_eq!(p.headers.get("Content-Type").map(String::as_str), Some("audio/wav"));
    }

    #[tokio::test]
    async fn refuses_keys_that_climb_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalObjects::open(dir.path(), UploadSigner::new(b"k"), "http://h").unwrap();
        for key in ["../x", "audio/../../x", "/etc/passwd", "", "a//b", "a b"] {
            assert!(matches!(store.size(key).await, Err(ObjectError::BadKey(_))), "{key}");
        }
    }
}
