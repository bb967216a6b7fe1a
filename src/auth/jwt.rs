//! HS256 bearer tokens with expiry, issuer and audience checks.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
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
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audience: String,
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
            encoding: EncodingKey::from_secret(secret).map_err(|e| AuthError::Key(e.to_string()))?,
            decoding: DecodingKey::from_secret(secret).map_err(|e| AuthError::Key(e.to_string()))?,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Key(e.to_string()))
    }

    /// Verifies signature, expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
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
}
