//! Signed upload URLs for the embedded object store: an HMAC-SHA256 over the
//! method, record, expiry and size limit, so the URL grants exactly one upload.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Signs and checks upload URLs.
#[derive(Clone)]
pub struct UploadSigner {
    key: Vec<u8>,
}

/// Why an upload URL was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the upload URL has expired")]
    Expired,
    #[error("the upload URL signature is invalid")]
    BadSignature,
}

impl UploadSigner {
    /// A signer keyed by `secret` (domain-separated from the JWT use of it).
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"orakgaraki upload-url v1").expect("HMAC takes any key");
        mac.update(secret);
        UploadSigner { key: mac.finalize().into_bytes().to_vec() }
    }

    fn mac(&self, record_id: &str, expires: i64, max_size: u64) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("PUT\n{record_id}\n{expires}\n{max_size}").as_bytes());
        mac
    }

    /// The hex signature for an upload of at most `max_size` bytes to `record_id`,
    /// valid until `expires` (unix seconds).
    pub fn sign(&self, record_id: &str, expires: i64, max_size: u64) -> String {
        hex::encode(self.mac(record_id, expires, max_size).finalize().into_bytes())
    }

    /// Checks a signature in constant time, then the expiry against `now`.
    pub fn verify(
        &self,
        record_id: &str,
        expires: i64,
        max_size: u64,
        sig: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        let raw = hex::decode(sig).map_err(|_| SignatureError::BadSignature)?;
        self.mac(record_id, expires, max_size).verify_slice(&raw).map_err(|_| SignatureError::BadSignature)?;
        if now > expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_every_field() {
        let s = UploadSigner::new(b"k");
        let sig = s.sign("r1", 1000, 50);
        assert_eq!(s.verify("r1", 1000, 50, &sig, 999), Ok(()));
        assert_eq!(s.verify("r2", 1000, 50, &sig, 999), Err(SignatureError::BadSignature));
        assert_eq!(s.verify("r1", 1001, 50, &sig, 999), Err(SignatureError::BadSignature));
        assert_eq!(s.verify("r1", 1000, 51, &sig, 999), Err(SignatureError::BadSignature));
        assert_eq!(s.verify("r1", 1000, 50, "zz", 999), Err(SignatureError::BadSignature));
        assert_eq!(s.verify("r1", 1000, 50, &sig, 1001), Err(SignatureError::Expired));
        assert_ne!(UploadSigner::new(b"other").sign("r1", 1000, 50), sig);
    }
}
