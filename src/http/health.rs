//! `/health` (the process answers), `/ready` (database reachable, actors alive)
//! and `/metrics` (Prometheus text format). `/ready` tells a caller only ready or
//! not ready: which check failed, and why, goes to the log (a database error can
//! name hosts and users).

use super::{AppState, with_state};
use serde_json::json;
use std::convert::Infallible;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

/// `/health`, `/ready`, and `/metrics` when `with_metrics` (it is not served on
/// a separate address).
pub fn routes(
    state: AppState,
    with_metrics: bool,
) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let health = warp::path!("health").and(warp::get()).map(|| warp::reply::json(&json!({"status": "ok"})));
    let ready = warp::path!("ready").and(warp::get()).and(with_state(state)).and_then(ready);
    let metrics = warp::any()
        .and_then(move || async move { if with_metrics { Ok(()) } else { Err(warp::reject::not_found()) } })
        .untuple_one()
        .and(metrics());
    health.or(ready).or(metrics)
}

/// `GET /metrics` in the Prometheus text format.
pub fn metrics() -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    warp::path!("metrics").and(warp::get()).map(|| {
        crate::telemetry::collect_process();
        let body = crate::telemetry::install().map(|h| h.render()).unwrap_or_default();
        warp::reply::with_header(body, "content-type", "text/plain; version=0.0.4; charset=utf-8")
    })
}

async fn ready(state: AppState) -> Result<warp::reply::Response, Infallible> {
    let d = &state.ctx.directory;
    let database = state.ctx.store.ping().await;
    let actors = d.alive()
        && d.sse().is_some()
        && d.pool().is_some()
        && d.retry().is_some()
        && d.job_source().is_some()
        && d.s3_event().is_some()
        && d.upload_session().is_some()
        && d.sweeper().is_some();
    if let Err(e) = &database {
        tracing::warn!(error = %e, "not ready: the database does not answer");
    }
    if !actors {
        tracing::warn!("not ready: a supervised actor is down");
    }
    let ok = database.is_ok() && actors;
    let body = json!({ "status": if ok { "ready" } else { "unavailable" } });
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok(warp::reply::with_status(warp::reply::json(&body), status).into_response())
}
