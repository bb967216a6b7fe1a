//! Rate limiting per client and route class, as the seed's nginx did (10
//! requests/s, burst 20), answering 429 with `Retry-After`. One instance keeps
//! its counters in memory (governor's GCRA); with Redis the counters live there
//! (the same algorithm, in a script), so a limit holds across instances — and
//! if Redis does not answer quickly, the local limiter decides.
//!
//! A client is its IP address: the peer's, or, when the peer is a trusted proxy
//! (`trusted_proxies`), the last address in `X-Forwarded-For` that is not one.
//! An IPv6 client counts as its /64 (one host usually holds a whole /64, so
//! counting single addresses would give it 2^64 budgets). A signed-in caller is
//! also counted per user, so many addresses do not multiply one account's budget.
//! Failed webhook authentications are counted per client too ([`FailureLimiter`]).

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
    /// Requests per second and burst per signed-in user (on top of the client's).
    pub per_user_per_second: u32,
    pub per_user_burst: u32,
    /// Proxies (CIDRs, e.g. "10.0.0.0/8") whose `X-Forwarded-For` names the client.
    /// Only these: list exactly the proxies in front of the service.
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
            per_user_per_second: 20,
            per_user_burst: 40,
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

/// The key a client is counted under: an IPv4 address as it is (an IPv4-mapped
/// IPv6 address as its IPv4), an IPv6 address as its /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

/// One keyed limiter with the figures the shared (Redis) check needs.
type Limit<K> = (DefaultKeyedRateLimiter<K>, u64, u32);

pub struct RateLimiter {
    api: Limit<IpAddr>,
    upload: Limit<IpAddr>,
    user: Limit<String>,
    redis: Option<Arc<RedisBus>>,
    checks: AtomicU64,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_second: u32, burst: u32) -> Result<Limit<K>, String> {
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
            user: limiter(cfg.per_user_per_second, cfg.per_user_burst)?,
            redis,
            checks: AtomicU64::new(0),
        }))
    }

    /// One request of `client` in `class`: `Err(wait)` when over the limit.
    pub async fn check(&self, class: RouteClass, client: IpAddr) -> Result<(), Duration> {
        let limit = match class {
            RouteClass::Api => &self.api,
            RouteClass::Upload => &self.upload,
        };
        let client = client_key(client);
        self.check_in(limit, format!("{}:{client}", class.name()), &client).await
    }

    /// One request of the signed-in `user`: `Err(wait)` when over their limit.
    pub async fn check_user(&self, user: &str) -> Result<(), Duration> {
        self.check_in(&self.user, format!("user:{user}"), &user.to_owned()).await
    }

    /// Counts a request against `limit`: in Redis under `shared_key` when there
    /// is one (and it answers within 250 ms), else locally under `key`.
    async fn check_in<K: std::hash::Hash + Eq + Clone>(
        &self,
        (local, interval_ms, burst): &Limit<K>,
        shared_key: String,
        key: &K,
    ) -> Result<(), Duration> {
        if let Some(redis) = &self.redis {
            match tokio::time::timeout(Duration::from_millis(250), redis.rate_check(&shared_key, *interval_ms, *burst))
                .await
            {
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(wait_ms)) => return Err(Duration::from_millis(wait_ms)),
                Ok(Err(e)) => tracing::debug!(error = %e, "shared rate limit unavailable; limiting locally"),
                Err(_) => tracing::debug!("shared rate limit timed out; limiting locally"),
            }
        }
        // Forget idle clients now and then, so the tables do not grow without bound.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            for (l, _, _) in [&self.api, &self.upload] {
                l.retain_recent();
                l.shrink_to_fit();
            }
            self.user.0.retain_recent();
            self.user.0.shrink_to_fit();
        }
        local.check_key(key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Failed webhook authentications per client (its [`client_key`]): after
/// `max` failures within `window`, the client is refused (429) until the window
/// that began with its first failure ends, whatever it sends — guessing the
/// secret costs a window per `max` guesses. Bounded: the least recently failing
/// clients are forgotten first.
pub struct FailureLimiter {
    max: u32,
    window: Duration,
    seen: std::sync::Mutex<lru::LruCache<IpAddr, (u32, std::time::Instant)>>,
}

impl FailureLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        let capacity = std::num::NonZeroUsize::new(65_536).unwrap_or(std::num::NonZeroUsize::MIN);
        FailureLimiter { max: max.max(1), window, seen: std::sync::Mutex::new(lru::LruCache::new(capacity)) }
    }

    /// `Err(wait)` while `client` is shut out.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let Ok(mut seen) = self.seen.lock() else { return Ok(()) };
        match seen.get(&client_key(client)) {
            Some((n, since)) if *n >= self.max && since.elapsed() < self.window => {
                Err(self.window.saturating_sub(since.elapsed()))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure of `client`.
    pub fn failed(&self, client: IpAddr) {
        let Ok(mut seen) = self.seen.lock() else { return };
        let key = client_key(client);
        let now = std::time::Instant::now();
        match seen.get_mut(&key) {
            Some((n, since)) if since.elapsed() < self.window => *n += 1,
            _ => {
                seen.put(key, (1, now));
            }
        }
    }
}

/// A 429 for a wait of `wait` (`Retry-After` in whole seconds, at least 1).
pub fn too_many(wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::too_many_requests(secs.max(1))
}

/// Counts each request against its class's limit, and a signed-in caller's
/// against their user's; a refused one is 429 with `Retry-After`. (A token that
/// does not verify counts only against the client; the route refuses it.)
pub fn filter(state: super::AppState) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(super::client_ip(state.clone()))
        .and(warp::header::optional::<String>("authorization"))
        .and_then(move |method: Method, path: warp::path::FullPath, client: IpAddr, auth: Option<String>| {
            let state = state.clone();
            async move {
                let (Some(limiter), Some(class)) = (state.limiter.as_ref(), classify(&method, path.as_str())) else {
                    return Ok(());
                };
                let mut outcome = limiter.check(class, client).await;
                if outcome.is_ok()
                    && let Some(token) = auth.as_deref().and_then(|h| h.strip_prefix("Bearer "))
                    && let Ok(claims) = state.jwt.verify(token.trim())
                {
                    outcome = limiter.check_user(&claims.sub).await;
                }
                outcome.map_err(|wait| {
                    metrics::counter!(crate::telemetry::RATE_LIMITED, "class" => class.name()).increment(1);
                    too_many(wait).reject()
                })
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
    fn ipv6_clients_count_as_their_slash_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")), ip("2001:db8:1:2::"));
        assert_ne!(client_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(client_key(ip("198.51.100.7")), ip("198.51.100.7"));
    }

    #[tokio::test]
    async fn a_user_has_one_budget_across_addresses() {
        let cfg = RateLimitConfig { per_user_per_second: 1, per_user_burst: 2, ..RateLimitConfig::default() };
        let l = RateLimiter::new(&cfg, None).unwrap().unwrap();
        assert!(l.check_user("mallory").await.is_ok() && l.check_user("mallory").await.is_ok());
        assert!(l.check_user("mallory").await.is_err());
        assert!(l.check_user("alice").await.is_ok());
    }

    #[test]
    fn failed_webhook_attempts_shut_a_client_out_for_the_window() {
        let f = FailureLimiter::new(3, Duration::from_millis(200));
        let (a, b): (IpAddr, IpAddr) = ("2001:db8::1".parse().unwrap(), "192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            assert!(f.check(a).is_ok());
            f.failed(a);
        }
        let wait = f.check(a).unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert!(f.check("2001:db8::2".parse().unwrap()).is_err(), "the same /64");
        assert!(f.check(b).is_ok(), "others are not affected");
        std::thread::sleep(Duration::from_millis(220));
        assert!(f.check(a).is_ok(), "the window ends");
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
