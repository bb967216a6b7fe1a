//! Rate limiting per client and route class, as the seed's nginx did (10
//! requests/s, burst 20), answering 429 with `Retry-After`. One instance keeps
//! its counters in memory (governor's GCRA); with Redis the counters live there
//! (the same algorithm, in a script), so a limit holds across instances — and
//! if Redis does not answer quickly, the local limiter decides.
//!
//! A client is its IP address: the peer's, or, when the peer is a trusted proxy
//! (`trusted_proxies`), the last address in `X-Forwarded-For` that is not one.

use super::ApiError;
use crate::store::redis::RedisBus;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use warp::Filter;
use warp::http::Method;

/// `[rate_limit]` in config.toml.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Requests per second and burst per client on the API.
    pub per_second: u32,
    pub burst: u32,
    /// The same for opening and sending uploads.
    pub upload_per_second: u32,
    pub upload_burst: u32,
    /// Proxies (CIDRs, e.g. "10.0.0.0/8") whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            per_second: 10,
            burst: 20,
            upload_per_second: 2,
            upload_burst: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    Api,
    Upload,
}

impl RouteClass {
    fn name(self) -> &'static str {
        match self {
            RouteClass::Api => "api",
            RouteClass::Upload => "upload",
        }
    }
}

/// The class of a request, or `None` when it is not limited: health, readiness
/// and metrics probes, and the authenticated webhooks (which the seed's nginx left
/// unthrottled too: a store or Alertmanager sends bursts by design).
pub fn classify(method: &Method, path: &str) -> Option<RouteClass> {
    if path.starts_with("/objects/") && method == Method::PUT {
        return Some(RouteClass::Upload);
    }
    if method == Method::POST && matches!(path, "/api/records/presigned-url" | "/api/records/upload") {
        return Some(RouteClass::Upload);
    }
    if path == "/api/records/async/upload-completed" || path.starts_with("/api/webhook/") {
        return None;
    }
    path.starts_with("/api/").then_some(RouteClass::Api)
}

/// Parses a list of CIDRs (a bare address is a /32 or /128).
pub fn parse_cidrs(what: &str, list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|e| format!("{what}: {s:?} is not an address or CIDR: {e}"))
        })
        .collect()
}

/// The client behind a request from `peer` carrying `forwarded` (X-Forwarded-For):
/// the peer, unless it is a trusted proxy; then the last forwarded address that is
/// not one (addresses further left could be made up by the client).
pub fn client_ip(peer: Option<SocketAddr>, forwarded: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.ip());
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    forwarded
        .into_iter()
        .flat_map(|h| h.rsplit(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

pub struct RateLimiter {
    api: (DefaultKeyedRateLimiter<IpAddr>, u64, u32),
    upload: (DefaultKeyedRateLimiter<IpAddr>, u64, u32),
    redis: Option<Arc<RedisBus>>,
    checks: AtomicU64,
}

fn limiter(per_second: u32, burst: u32) -> Result<(DefaultKeyedRateLimiter<IpAddr>, u64, u32), String> {
    let rate = NonZeroU32::new(per_second).ok_or("rate_limit: rates must be positive")?;
    let burst = NonZeroU32::new(burst).ok_or("rate_limit: bursts must be positive")?;
    let interval_ms = (1000 / u64::from(rate.get())).max(1);
    Ok((DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)), interval_ms, burst.get()))
}

impl RateLimiter {
    /// `None` when rate limiting is off.
    pub fn new(cfg: &RateLimitConfig, redis: Option<Arc<RedisBus>>) -> Result<Option<Self>, String> {
        if !cfg.enabled {
            return Ok(None);
        }
        Ok(Some(RateLimiter {
            api: limiter(cfg.per_second, cfg.burst)?,
            upload: limiter(cfg.upload_per_second, cfg.upload_burst)?,
            redis,
            checks: AtomicU64::new(0),
        }))
    }

    /// One request of `client` in `class`: `Err(wait)` when over the limit.
    pub async fn check(&self, class: RouteClass, client: IpAddr) -> Result<(), Duration> {
        let (local, interval_ms, burst) = match class {
            RouteClass::Api => &self.api,
            RouteClass::Upload => &self.upload,
        };
        if let Some(redis) = &self.redis {
            let key = format!("{}:{client}", class.name());
            match tokio::time::timeout(Duration::from_millis(250), redis.rate_check(&key, *interval_ms, *burst)).await {
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(wait_ms)) => return Err(Duration::from_millis(wait_ms)),
                Ok(Err(e)) => tracing::debug!(error = %e, "shared rate limit unavailable; limiting locally"),
                Err(_) => tracing::debug!("shared rate limit timed out; limiting locally"),
            }
        }
        // Forget idle clients now and then, so the table does not grow without bound.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            for (l, _, _) in [&self.api, &self.upload] {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
        local.check_key(&client).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Counts each request against its class's limit; a refused one is 429 with
/// `Retry-After` (whole seconds, at least 1).
pub fn filter(state: super::AppState) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    let limiter = state.limiter.clone();
    warp::method()
        .and(warp::path::full())
        .and(super::client_ip(state))
        .and_then(move |method: Method, path: warp::path::FullPath, client: IpAddr| {
            let limiter = limiter.clone();
            async move {
                let (Some(limiter), Some(class)) = (limiter, classify(&method, path.as_str())) else {
                    return Ok(());
                };
                match limiter.check(class, client).await {
                    Ok(()) => Ok(()),
                    Err(wait) => {
                        metrics::counter!(crate::telemetry::RATE_LIMITED, "class" => class.name()).increment(1);
                        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                        Err(ApiError::too_many_requests(secs.max(1)).reject())
                    }
                }
            }
        })
        .untuple_one()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_into_classes() {
        assert_eq!(classify(&Method::PUT, "/objects/audio/x"), Some(RouteClass::Upload));
        assert_eq!(classify(&Method::POST, "/api/records/upload"), Some(RouteClass::Upload));
        assert_eq!(classify(&Method::GET, "/api/records/x"), Some(RouteClass::Api));
        assert_eq!(classify(&Method::POST, "/api/records/async/upload-completed"), None);
        assert_eq!(classify(&Method::POST, "/api/webhook/alertmanager"), None);
        assert_eq!(classify(&Method::GET, "/health"), None);
        assert_eq!(classify(&Method::GET, "/metrics"), None);
    }

    #[tokio::test]
    async fn a_burst_passes_then_the_client_waits_and_others_do_not() {
        let cfg = RateLimitConfig { per_second: 10, burst: 3, ..RateLimitConfig::default() };
        let l = RateLimiter::new(&cfg, None).unwrap().unwrap();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(l.check(RouteClass::Api, a).await.is_ok());
        }
        let wait = l.check(RouteClass::Api, a).await.unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100), "{wait:?}");
        assert!(l.check(RouteClass::Api, b).await.is_ok(), "another client has its own budget");
        assert!(l.check(RouteClass::Upload, a).await.is_ok(), "another class has its own budget");
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted = parse_cidrs("t", &["10.0.0.0/8".into()]).unwrap();
        let proxy: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let stranger: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let xff = Some("198.51.100.7, 10.9.9.9");
        assert_eq!(client_ip(Some(proxy), xff, &trusted), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(Some(stranger), xff, &trusted), stranger.ip(), "a spoofed header from outside is ignored");
        assert_eq!(client_ip(Some(proxy), None, &trusted), proxy.ip());
        assert!(parse_cidrs("x", &["not-a-net".into()]).is_err());
    }
}
