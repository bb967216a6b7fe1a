//! The HTTP API (warp): routes, handlers, authentication and the SSE stream.
//! Handlers only translate HTTP to calls on actors and stores, and back.

pub mod alerts;
pub mod audio;
pub mod auth;
pub mod bucket_events;
pub mod dead_letters;
pub mod error;
pub mod health;
pub mod me;
pub mod objects;
pub mod openapi;
pub mod rate_limit;
pub mod recommendations;
pub mod record_cache;
pub mod records;
pub mod route_metrics;
pub mod security;
pub mod session;
pub mod similar;
pub mod sse;
pub mod status;
pub mod stream_slots;
pub mod tickets;
pub mod web;
pub mod webhook_auth;

use crate::actors::Ctx;
use crate::auth::{JwtKeys, SignInLink, TicketSigner, UploadSigner};
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

pub use error::ApiError;

/// What every handler can reach: one shared allocation, so the many clones warp's
/// filters make per request cost one reference count, not one per field (a
/// profile of the read path had 18 % in cloning and dropping the fields).
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    pub fn new(inner: AppStateInner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct AppStateInner {
    pub ctx: Ctx,
    pub jwt: Arc<JwtKeys>,
    pub signer: UploadSigner,
    /// Off when `[rate_limit] enabled = false`.
    pub limiter: Option<Arc<rate_limit::RateLimiter>>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[IpNet]>,
    /// Where webhooks may come from; empty: anywhere.
    pub webhook_sources: Arc<[IpNet]>,
    /// Whether `POST /api/dev/token` gives out user tokens (loopback-only, embedded).
    pub dev_sign_in: bool,
    /// The one-time sign-in link (loopback-only instances).
    pub sign_in_link: Option<Arc<SignInLink>>,
    /// Issues and checks the tickets of `POST /api/tickets`.
    pub tickets: TicketSigner,
    /// Failed webhook authentications per source.
    pub webhook_failures: Arc<rate_limit::FailureLimiter>,
    /// Open server-sent-event streams per user.
    pub stream_slots: Arc<stream_slots::StreamSlots>,
    /// COMPLETED records' JSON for `GET /api/records/{id}` (embedded mode only).
    pub record_cache: Option<Arc<record_cache::RecordCache>>,
}

/// Passes the state into a handler.
pub fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// A path segment that is a record id (passed on as given). Anything else is not
/// this route at all, so a sibling route's own error (e.g. a bad query on
/// `/dead-letters/audit`, a missing form on `/records/upload`) is what the caller sees.
pub fn record_id_param() -> impl Filter<Extract = (String,), Error = warp::Rejection> + Clone {
    warp::path::param::<String>().and_then(|s: String| async move {
        match crate::domain::RecordId::parse(&s) {
            Ok(_) => Ok(s),
            Err(_) => Err(warp::reject::not_found()),
        }
    })
}

/// The client's address: the peer's, or behind a trusted proxy the forwarded one.
pub fn client_ip(state: AppState) -> impl Filter<Extract = (IpAddr,), Error = warp::Rejection> + Clone {
    warp::addr::remote().and(warp::header::optional::<String>("x-forwarded-for")).map(
        move |peer: Option<SocketAddr>, xff: Option<String>| {
            rate_limit::client_ip(peer, xff.as_deref(), &state.trusted_proxies)
        },
    )
}

/// Every route of the service: rate limited, errors mapped to the one error
/// shape, security headers (and CORS, when configured) on every response.
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let config = state.ctx.config.clone();
    let api = records::routes(state.clone())
        .or(sse::routes(state.clone()))
        .or(bucket_events::routes(state.clone()))
        .or(similar::routes(state.clone()))
        .or(recommendations::routes(state.clone()))
        .or(objects::routes(state.clone()))
        .or(dead_letters::routes(state.clone()))
        .or(alerts::routes(state.clone()))
        .or(session::routes(state.clone()))
        .or(tickets::routes(state.clone()))
        .or(me::routes(state.clone()))
        .or(audio::routes(state.clone()))
        .or(web::routes())
        .or(openapi::routes())
        .or(status::routes(state.clone()))
        .or(health::routes(state.clone(), config.server.metrics_bind.is_empty()));
    let headers = security::headers(&config.http, &config.server.public_url, &security::object_store_origins(&config));
    let route_metrics = Arc::new(route_metrics::RouteMetrics::default());
    let served = rate_limit::filter(state.clone())
        .and(api)
        .recover(error::recover)
        .with(warp::reply::with::headers(headers))
        .with(warp::log::custom(move |info| {
            route_metrics.record(info.method(), info.path(), info.status().as_u16(), info.elapsed());
            tracing::info!(
                method = %info.method(),
                path = info.path(),
                status = info.status().as_u16(),
                ms = info.elapsed().as_secs_f64() * 1000.0,
                "http"
            );
        }))
        .map(into_response)
        // Every log line of a request carries its id. (tracing evaluates the id
        // only where request spans are enabled.)
        .with(warp::trace(|info| tracing::info_span!("request", request_id = %request_id(&info))));
    match security::cors(&config.http) {
        Some(cors) => served.with(cors).map(into_response).boxed(),
        None => served.map(into_response).boxed(),
    }
}

/// `/metrics` alone, for `[server] metrics_bind`.
pub fn metrics_routes() -> BoxedFilter<(Response,)> {
    health::metrics().map(into_response).boxed()
}

/// The caller's X-Request-Id when it sends a sane one, else a new one.
fn request_id(info: &warp::trace::Info<'_>) -> String {
    let given = info.request_headers().get("x-request-id").and_then(|v| v.to_str().ok());
    given
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned)
}

fn into_response<R: Reply>(r: R) -> Response {
    r.into_response()
}
