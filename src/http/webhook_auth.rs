//! Authentication of incoming webhooks (bucket notifications, Alertmanager): a
//! shared secret, sent either as `Authorization: Bearer <secret>` or as an
//! HMAC-SHA256 of the body, `X-Orak-Signature: sha256=<hex>`, both compared in
//! constant time; and, as in the seed, an optional allowlist of source networks
//! (`[webhooks] allowed_cidrs`). Replays are harmless by design (each handler
//! applies an event at most once), so no nonce is kept.

use super::ApiError;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::Sha256;
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// The header carrying the body's HMAC.
pub const SIGNATURE_HEADER: &str = "x-orak-signature";

/// `sha256=<hex>` of `body` under `secret`: what a sender puts in [`SIGNATURE_HEADER`].
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, body).finalize().into_bytes()))
}

/// HMAC-SHA256 of `body` under `secret`.
fn mac(secret: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac
}

/// Whether the request proves it knows `secret`.
fn authenticated(secret: &str, authorization: Option<&str>, signature: Option<&str>, body: &[u8]) -> bool {
    if let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) {
        if bool::from(token.trim().as_bytes().ct_eq(secret.as_bytes())) {
            return true;
        }
    }
    if let Some(given) = signature.and_then(|s| s.trim().strip_prefix("sha256=")) {
        let Ok(given) = hex::decode(given) else { return false };
        return mac(secret, body).verify_slice(&given).is_ok();
    }
    false
}

/// The body of a webhook request (at most `max_body` bytes) once it passed every
/// webhook's checks ([`gate`]); what the routes build on.
pub fn verified_body(
    state: super::AppState,
    what: &'static str,
    max_body: u64,
) -> impl warp::Filter<Extract = (bytes::Bytes,), Error = warp::Rejection> + Clone {
    use warp::Filter;
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>(SIGNATURE_HEADER))
        .and(super::client_ip(state.clone()))
        .and(warp::body::content_length_limit(max_body))
        .and(warp::body::bytes())
        .and(super::with_state(state))
        .and_then(
            move |auth: Option<String>,
                  signature: Option<String>,
                  client: IpAddr,
                  body: bytes::Bytes,
                  state: super::AppState| async move {
                gate(&state, what, client, auth.as_deref(), signature.as_deref(), &body).map_err(ApiError::reject)?;
                Ok::<_, warp::Rejection>(body)
            },
        )
}

/// What every webhook route checks first: the endpoint (`what`) is off (404)
/// while `[webhooks] secret` is unset; then [`verify`].
fn gate(
    state: &super::AppState,
    what: &str,
    client: IpAddr,
    authorization: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    let secret = &state.ctx.config.webhooks.secret;
    if secret.is_empty() {
        let message = format!("{what}: off until [webhooks] secret is set");
        return Err(ApiError::new(warp::http::StatusCode::NOT_FOUND, "not_found", message));
    }
    verify(secret, &state.webhook_sources, client, authorization, signature, body)
}

/// Checks a webhook request from `client`: 403 from outside `allowed` (when
/// set), 401 without the secret.
pub fn verify(
    secret: &str,
    allowed: &[IpNet],
    client: IpAddr,
    authorization: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    if !allowed.is_empty() && !allowed.iter().any(|n| n.contains(&client)) {
        tracing::warn!(client = %client, "webhook from outside the allowed networks refused");
        return Err(ApiError::forbidden("this source may not send webhooks"));
    }
    if !authenticated(secret, authorization, signature, body) {
        return Err(ApiError::unauthorized(
            "missing or wrong webhook secret (Bearer, or X-Orak-Signature: sha256=HMAC of the body)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"Records":[]}"#;

    #[test]
    fn bearer_or_signature_and_nothing_else() {
        assert!(authenticated("s3cret", Some("Bearer s3cret"), None, BODY));
        assert!(!authenticated("s3cret", Some("Bearer s3cre"), None, BODY));
        assert!(!authenticated("s3cret", Some("Bearer s3cretX"), None, BODY));
        assert!(!authenticated("s3cret", Some("s3cret"), None, BODY), "a bare secret is not a bearer token");
        assert!(authenticated("s3cret", None, Some(&sign("s3cret", BODY)), BODY));
        assert!(!authenticated("s3cret", None, Some(&sign("other", BODY)), BODY), "wrong key");
        assert!(!authenticated("s3cret", None, Some(&sign("s3cret", b"{}")), BODY), "another body");
        assert!(!authenticated("s3cret", None, Some("sha256=zz"), BODY));
        assert!(!authenticated("s3cret", None, None, BODY));
    }

    #[test]
    fn the_allowlist_is_checked_first() {
        let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let inside: IpAddr = "10.2.3.4".parse().unwrap();
        let outside: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(verify("k", &nets, inside, Some("Bearer k"), None, BODY).is_ok());
        let e = verify("k", &nets, outside, Some("Bearer k"), None, BODY).unwrap_err();
        assert_eq!(e.status.as_u16(), 403);
        assert_eq!(verify("k", &[], outside, None, None, BODY).unwrap_err().status.as_u16(), 401);
    }
}
