//! Response hardening on every response: the security headers of the seed's nginx
//! (frame, sniffing, referrer and content policies; HSTS when the service is
//! reached over TLS) and CORS, closed unless origins are configured.

use serde::{Deserialize, Serialize};
use warp::http::header::{HeaderMap, HeaderName, HeaderValue};

/// `[http]` in config.toml.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Origins whose browser pages may call the API (CORS), e.g.
    /// ["https://app.example.com"]. Empty: none besides the service's own pages.
    pub cors_allowed_origins: Vec<String>,
    /// `Strict-Transport-Security` max-age, sent when `server.public_url` is https.
    pub hsts_seconds: u64,
    /// COMPLETED records kept as JSON for `GET /api/records/{id}` (embedded mode
    /// only; 0: none).
    pub record_cache_entries: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { cors_allowed_origins: Vec::new(), hsts_seconds: 31_536_000, record_cache_entries: 10_000 }
    }
}

/// Origins besides the service's own that its web page must reach: the S3
/// endpoint the browser uploads to (presigned PUT) and plays audio from
/// (presigned GET), when the audio lives in S3.
pub fn object_store_origins(config: &crate::config::Config) -> Vec<String> {
    if config.storage.objects != "s3" {
        return Vec::new();
    }
    let s3 = &config.s3;
    let endpoint = if s3.public_endpoint.is_empty() { &s3.endpoint } else { &s3.public_endpoint };
    if endpoint.is_empty() {
        return vec!["https://*.amazonaws.com".into()];
    }
    match reqwest::Url::parse(endpoint) {
        Ok(url) => vec![url.origin().ascii_serialization()],
        Err(_) => vec![endpoint.clone()],
    }
}

/// The headers every response carries. `extra_origins` may be fetched from and
/// played from by the service's own pages (see [`object_store_origins`]).
pub fn headers(cfg: &HttpConfig, public_url: &str, extra_origins: &[String]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set("x-frame-options", "DENY".into());
    set("x-content-type-options", "nosniff".into());
    set("referrer-policy", "strict-origin-when-cross-origin".into());
    let extra: String = extra_origins.iter().map(|o| format!(" {o}")).collect();
    set(
        "content-security-policy",
        format!(
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:{extra}; connect-src 'self'{extra}; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
    );
    if public_url.starts_with("https://") && cfg.hsts_seconds > 0 {
        set("strict-transport-security", format!("max-age={}; includeSubDomains", cfg.hsts_seconds));
    }
    h
}

/// The CORS policy for the configured origins; `None` (no CORS headers at all,
/// so browsers keep other sites out) when none are configured.
pub fn cors(cfg: &HttpConfig) -> Option<warp::filters::cors::Builder> {
    if cfg.cors_allowed_origins.is_empty() {
        return None;
    }
    Some(
        warp::cors()
            .allow_origins(cfg.cors_allowed_origins.iter().map(String::as_str))
            .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
            .allow_headers(["authorization", "content-type", "last-event-id"])
            .expose_headers(["retry-after", "location"])
            .max_age(600),
    )
}

/// Checks the configured origins (before warp's CORS filter would panic on a bad one).
pub fn validate(cfg: &HttpConfig) -> Result<(), String> {
    for o in &cfg.cors_allowed_origins {
        let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| {
            !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
        if !ok {
            return Err(format!("http.cors_allowed_origins: {o:?} is not an origin like https://app.example.com"));
        }
    }
    Ok(())
}
