//! Bearer tokens with expiry, issuer and audience checks: HS256 with a shared
//! secret (tokens this service issues), or RS256 with an identity provider's
//! public key or JWKS (keys chosen by the token's `kid`).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// How many verified tokens [`JwtKeys::verify`] remembers (a few hundred bytes each).
const VERIFIED_CAPACITY: usize = 4096;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

/// The claims a token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's name: records belong to it.
    pub sub: String,
    /// `user` when the token does not say (an identity provider's token may not).
    #[serde(default = "default_role")]
    pub role: Role,
    pub iss: String,
    pub aud: String,
    #[serde(default)]
    pub iat: i64,
    pub exp: i64,
}

fn default_role() -> Role {
    Role::User
}

/// A token that was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("the signing key is unusable: {0}")]
    Key(String),
}

/// Signs and verifies tokens for one issuer and audience.
#[derive(Clone)]
pub struct JwtKeys {
    algorithm: Algorithm,
    /// `None` where only an identity provider can sign (RS256 without a private key).
    encoding: Option<EncodingKey>,
    /// Keys by `kid`; a `None` kid matches any token.
    decoding: Vec<(Option<String>, DecodingKey)>,
    issuer: String,
    audience: String,
    /// What every token must satisfy; built once (its sets of issuers, audiences
    /// and required claims cost allocations that every request would repeat).
    validation: Validation,
    /// Tokens that passed every check, by their exact text, with their claims. A
    /// client sends the same token with every request, and checking it again (the
    /// signature — HMAC, or RSA with a provider's keys — base64 and the claims'
    /// JSON) was the largest single piece of user-space work on the read path. A
    /// token's signature, issuer and audience cannot change while these keys stand;
    /// its expiry is checked again on every hit. Shared by clones, dropped with the keys.
    verified: Arc<Mutex<lru::LruCache<Box<str>, Claims>>>,
}

fn verified_cache() -> Arc<Mutex<lru::LruCache<Box<str>, Claims>>> {
    let capacity = NonZeroUsize::new(VERIFIED_CAPACITY).unwrap_or(NonZeroUsize::MIN);
    Arc::new(Mutex::new(lru::LruCache::new(capacity)))
}

/// Signature, expiry (5 s leeway), issuer, audience and the claims we rely on.
fn validation(algorithm: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 5;
    validation
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").field("issuer", &self.issuer).field("audience", &self.audience).finish()
    }
}

impl JwtKeys {
    /// Keys from a shared HS256 secret.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Result<Self, AuthError> {
        Ok(JwtKeys {
            algorithm: Algorithm::HS256,
            encoding: Some(EncodingKey::from_secret(secret).map_err(|e| AuthError::Key(e.to_string()))?),
            decoding: vec![(None, DecodingKey::from_secret(secret).map_err(|e| AuthError::Key(e.to_string()))?)],
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            validation: validation(Algorithm::HS256, issuer, audience),
            verified: verified_cache(),
        })
    }

    /// RS256 keys: a PEM public key and/or a JWKS document (its RSA signing keys),
    /// and optionally the PEM private key to issue tokens with (`orakgaraki token`).
    pub fn rs256(
        public_pem: Option<&[u8]>,
        jwks_json: Option<&[u8]>,
        private_pem: Option<&[u8]>,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AuthError> {
        let key_err = |what: &str, e: &dyn std::fmt::Display| AuthError::Key(format!("{what}: {e}"));
        let mut decoding = Vec::new();
        if let Some(pem) = public_pem {
            decoding.push((None, DecodingKey::from_rsa_pem(pem).map_err(|e| key_err("public key", &e))?));
        }
        if let Some(json) = jwks_json {
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(json).map_err(|e| key_err("JWKS", &e))?;
            for jwk in &set.keys {
                if !matches!(jwk.algorithm, jsonwebtoken::jwk::AlgorithmParameters::RSA(_)) {
                    continue;
                }
                let key = DecodingKey::from_jwk(jwk).map_err(|e| key_err("JWKS key", &e))?;
                decoding.push((jwk.common.key_id.clone(), key));
            }
        }
        if decoding.is_empty() {
            return Err(AuthError::Key("RS256 needs a public key or a JWKS with an RSA key".into()));
        }
        let encoding =
            private_pem.map(EncodingKey::from_rsa_pem).transpose().map_err(|e| key_err("private key", &e))?;
        Ok(JwtKeys {
            algorithm: Algorithm::RS256,
            encoding,
            decoding,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            validation: validation(Algorithm::RS256, issuer, audience),
            verified: verified_cache(),
        })
    }

    /// Whether this service can sign tokens itself (not with RS256 keys from a
    /// provider alone).
    pub fn can_issue(&self) -> bool {
        self.encoding.is_some()
    }

    /// Issues a token for `user`, valid from `now` (unix seconds) for `ttl_seconds`.
    pub fn issue(&self, user: &str, role: Role, now: i64, ttl_seconds: u64) -> Result<String, AuthError> {
        let claims = Claims {
            sub: user.to_owned(),
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl_seconds).unwrap_or(i64::MAX)),
        };
        let key = self.encoding.as_ref().ok_or_else(|| {
            AuthError::Key(
                "no signing key: tokens come from the identity provider (set auth.private_key_file to issue)".into(),
            )
        })?;
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key).map_err(|e| AuthError::Key(e.to_string()))
    }

    /// Verifies signature, expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        self.verify_at(token, jsonwebtoken::get_current_timestamp())
    }

    /// [`verify`](Self::verify) as of `now` (unix seconds) for a token seen before;
    /// a new token is checked in full against the clock.
    fn verify_at(&self, token: &str, now: u64) -> Result<Claims, AuthError> {
        // A poisoned lock only means another request panicked mid-update: the
        // cache is then skipped, never trusted.
        if let Ok(mut verified) = self.verified.lock()
            && let Some(claims) = verified.get(token)
        {
            // jsonwebtoken's rule: expired when exp < now - leeway.
            let now = i64::try_from(now).unwrap_or(i64::MAX);
            let leeway = i64::try_from(self.validation.leeway).unwrap_or(i64::MAX);
            if claims.exp.saturating_add(leeway) >= now {
                return Ok(claims.clone());
            }
            verified.pop(token);
            return Err(AuthError::Invalid("ExpiredSignature".into()));
        }
        let claims = self.verify_uncached(token)?;
        if let Ok(mut verified) = self.verified.lock() {
            verified.put(token.into(), claims.clone());
        }
        Ok(claims)
    }

    fn verify_uncached(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        // The key the token names (kid), or, when it names none, each in turn.
        let mut last = AuthError::Invalid(format!("unknown key id {:?}", header.kid));
        let mut verified = None;
        for (_, key) in
            self.decoding.iter().filter(|(kid, _)| kid.is_none() || header.kid.is_none() || *kid == header.kid)
        {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => {
                    verified = Some(data);
                    break;
                }
                Err(e) => last = AuthError::Invalid(e.to_string()),
            }
        }
        let data = verified.ok_or(last)?;
        if data.claims.sub.is_empty() {
            return Err(AuthError::Invalid("empty subject".into()));
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn round_trip() {
        let keys = JwtKeys::hs256(b"0123456789abcdef0123456789abcdef", "orak", "orak").unwrap();
        let t = keys.issue("alice", Role::Admin, now(), 60).unwrap();
        let c = keys.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.role), ("alice", Role::Admin));
    }

    #[test]
    fn refuses_expired_foreign_and_mismatched_tokens() {
        let keys = JwtKeys::hs256(b"secret-one-secret-one-secret-one", "orak", "orak").unwrap();
        let expired = keys.issue("bob", Role::User, now() - 3600, 60).unwrap();
        assert!(keys.verify(&expired).is_err());
        let other = JwtKeys::hs256(b"secret-two-secret-two-secret-two", "orak", "orak").unwrap();
        assert!(keys.verify(&other.issue("bob", Role::User, now(), 60).unwrap()).is_err());
        let wrong_aud = JwtKeys::hs256(b"secret-one-secret-one-secret-one", "orak", "elsewhere").unwrap();
        assert!(keys.verify(&wrong_aud.issue("bob", Role::User, now(), 60).unwrap()).is_err());
        assert!(keys.verify("not.a.token").is_err());
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let keys = JwtKeys::hs256(b"0123456789abcdef0123456789abcdef", "orak", "orak").unwrap();
        let t = keys.issue("alice", Role::User, now(), 60).unwrap();
        let at = u64::try_from(now()).unwrap();
        assert_eq!(keys.verify_at(&t, at).unwrap().sub, "alice");
        assert_eq!(keys.verified.lock().unwrap().len(), 1, "remembered once verified");
        // Within the 5 s leeway after expiry: still good; past it: refused, and forgotten.
        assert!(keys.verify_at(&t, at + 64).is_ok());
        let err = keys.verify_at(&t, at + 70).unwrap_err();
        assert!(err.to_string().contains("Expired"), "{err}");
        assert!(keys.verified.lock().unwrap().is_empty());
        // A refused token is never remembered; nor is one that differs by a byte.
        let mut forged = t.clone();
        forged.pop();
        assert!(keys.verify_at(&forged, at).is_err());
        assert!(keys.verify_at(&forged, at).is_err(), "still refused the second time");
        assert_eq!(keys.verified.lock().unwrap().len(), 0);
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn rs256_with_a_public_key_or_a_jwks() {
        let private = fixture("rs256-private.pem");
        let provider = JwtKeys::rs256(Some(&fixture("rs256-public.pem")), None, Some(&private), "idp", "orak").unwrap();
        let token = provider.issue("carol", Role::Admin, now(), 60).unwrap();
        assert_eq!(provider.verify(&token).unwrap().role, Role::Admin);

        // The JWKS picks its key by kid.
        let jwks = JwtKeys::rs256(None, Some(&fixture("jwks.json")), None, "idp", "orak").unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("test-key-1".into());
        let claims = serde_json::json!({"sub": "dave", "iss": "idp", "aud": "orak", "exp": now() + 60});
        let signed = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(&private).unwrap()).unwrap();
        let c = jwks.verify(&signed).unwrap();
        assert_eq!((c.sub.as_str(), c.role), ("dave", Role::User), "no role claim: a user");
        header.kid = Some("another".into());
        let unknown = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(&private).unwrap()).unwrap();
        assert!(jwks.verify(&unknown).is_err());
        assert!(jwks.issue("x", Role::User, now(), 60).is_err(), "no private key, no tokens");

        // A stranger's key, an HS256 token, or the wrong audience: refused.
        let stranger = JwtKeys::rs256(
            Some(&fixture("rs256-public.pem")),
            None,
            Some(&fixture("other-private.pem")),
            "idp",
            "orak",
        )
        .unwrap();
        assert!(jwks.verify(&stranger.issue("eve", Role::Admin, now(), 60).unwrap()).is_err());
        let hs = JwtKeys::hs256(b"0123456789abcdef0123456789abcdef", "idp", "orak").unwrap();
        assert!(provider.verify(&hs.issue("eve", Role::Admin, now(), 60).unwrap()).is_err(), "no algorithm confusion");
        let elsewhere =
            JwtKeys::rs256(Some(&fixture("rs256-public.pem")), None, Some(&private), "idp", "other").unwrap();
        assert!(provider.verify(&elsewhere.issue("eve", Role::User, now(), 60).unwrap()).is_err());
    }
}
