//! Authentication of incoming webhooks (bucket notifications, Alertmanager): a
//! shared secret, sent either as `Authorization: Bearer <secret>` or as an
//! HMAC-SHA256 of the body, `X-Orak-Signature: sha256=<hex>`, both compared in
//! constant time; and, as in the seed, an optional allowlist of source networks
//! (`[webhooks] allowed_cidrs`). Replays are harmless by design (each handler
//! applies an event at most once), so no nonce is kept.
//!
//! A stranger costs as little as possible: the source, and a bearer secret, are
//! checked before a byte of the body is read; only a request that offers an HMAC
//! has its body read (at most [`MAX_BODY`]) to check it. A source that keeps
//! failing is shut out for a while ([`super::rate_limit::FailureLimiter`]).

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

/// Whether the Authorization header carries `secret` as a bearer token.
fn bearer_matches(secret: &str, authorization: Option<&str>) -> bool {
    authorization
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|token| bool::from(token.trim().as_bytes().ct_eq(secret.as_bytes())))
}

/// Whether `signature` is the HMAC of `body` under `secret`.
fn signed(secret: &str, signature: Option<&str>, body: &[u8]) -> bool {
    let Some(given) = signature.and_then(|s| s.trim().strip_prefix("sha256=")) else { return false };
    let Ok(given) = hex::decode(given) else { return false };
    mac(secret, body).verify_slice(&given).is_ok()
}

/// Largest webhook body read (a bucket notification or an Alertmanager group is
/// a few KiB; 256 KiB holds hundreds of alerts).
pub const MAX_BODY: u64 = 256 * 1024;

/// How a request claims to know the secret, once its headers passed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proof {
    /// The bearer secret matched: the body may be read.
    Bearer,
    /// An HMAC to check over the body.
    Signature,
}

/// The body of a webhook request once it passed every webhook's checks; what
/// the routes build on. `what` names the endpoint in errors.
pub fn verified_body(
    state: super::AppState,
    what: &'static str,
) -> impl warp::Filter<Extract = (bytes::Bytes,), Error = warp::Rejection> + Clone {
    use warp::Filter;
    let before_body = warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>(SIGNATURE_HEADER))
        .and(super::client_ip(state.clone()))
        .and(super::with_state(state))
        .and_then(
            move |auth: Option<String>, signature: Option<String>, client: IpAddr, state: super::AppState| async move {
                let proof = headers_gate(&state, what, client, auth.as_deref(), signature.is_some())
                    .map_err(ApiError::reject)?;
                Ok::<_, warp::Rejection>((proof, signature, client, state))
            },
        )
        .untuple_one();
    before_body.and(warp::body::content_length_limit(MAX_BODY)).and(warp::body::bytes()).and_then(after_body)
}

/// With an HMAC offered, checks it over the body that was read.
async fn after_body(
    proof: Proof,
    signature: Option<String>,
    client: IpAddr,
    state: super::AppState,
    body: bytes::Bytes,
) -> Result<bytes::Bytes, warp::Rejection> {
    if proof == Proof::Signature && !signed(&state.ctx.config.webhooks.secret, signature.as_deref(), &body) {
        return Err(refused(&state, client).reject());
    }
    Ok(body)
}

/// What every webhook route checks from the headers alone: the endpoint is off
/// (404) while `[webhooks] secret` is unset; a source shut out for failing is
/// 429; then the allowlist (403) and a bearer secret (401), or an HMAC to check
/// once the body is read.
fn headers_gate(
    state: &super::AppState,
    what: &str,
    client: IpAddr,
    authorization: Option<&str>,
    has_signature: bool,
) -> Result<Proof, ApiError> {
    let secret = &state.ctx.config.webhooks.secret;
    if secret.is_empty() {
        let message = format!("{what}: off until [webhooks] secret is set");
        return Err(ApiError::new(warp::http::StatusCode::NOT_FOUND, "not_found", message));
    }
    state.webhook_failures.check(client).map_err(super::rate_limit::too_many)?;
    if !allowed(&state.webhook_sources, client) {
        state.webhook_failures.failed(client);
        return Err(ApiError::forbidden("this source may not send webhooks"));
    }
    if bearer_matches(secret, authorization) {
        return Ok(Proof::Bearer);
    }
    if has_signature {
        return Ok(Proof::Signature);
    }
    Err(refused(state, client))
}

/// A failed authentication: counted against the client, and 401.
fn refused(state: &super::AppState, client: IpAddr) -> ApiError {
    state.webhook_failures.failed(client);
    tracing::warn!(client = %client, "webhook with a missing or wrong secret refused");
    ApiError::unauthorized("missing or wrong webhook secret (Bearer, or X-Orak-Signature: sha256=HMAC of the body)")
}

fn allowed(allowed: &[IpNet], client: IpAddr) -> bool {
    let ok = allowed.is_empty() || allowed.iter().any(|n| n.contains(&client));
    if !ok {
        tracing::warn!(client = %client, "webhook from outside the allowed networks refused");
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"Records":[]}"#;

    /// Whether the request proves it knows `secret`.
    fn authenticated(secret: &str, authorization: Option<&str>, signature: Option<&str>, body: &[u8]) -> bool {
        bearer_matches(secret, authorization) || signed(secret, signature, body)
    }

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
    fn the_allowlist_admits_its_networks_or_everyone_when_empty() {
        let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(allowed(&nets, "10.2.3.4".parse().unwrap()));
        assert!(!allowed(&nets, "192.0.2.1".parse().unwrap()));
        assert!(allowed(&[], "192.0.2.1".parse().unwrap()));
    }
}
