//! Authentication and URL signing: bearer JWTs (who is calling) and HMAC-signed
//! upload URLs (what an upload may write). Pure computation over a secret; the
//! secret itself is loaded by [`crate::store::secrets`].

pub mod jwt;
pub mod presign;

pub use jwt::{Claims, JwtKeys, Role};
pub use presign::UploadSigner;
