//! `GET /api/records/{id}/status`: a record's current status, for clients that
//! poll rather than stream. In the distributed mode it is answered from Redis —
//! the latest transition any instance announced (kept `[redis]
//! status_ttl_seconds`) and the record's owner — without touching the database;
//! otherwise, or on a cache miss, from the database.

use super::auth::{Caller, caller};
use super::records::visible_record;
use super::{ApiError, AppState, record_id_param, with_state};
use crate::domain::{RecordId, StatusEvent};
use serde_json::json;
use warp::Filter;
use warp::reply::{Reply, Response};

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "records" / ..)
        .and(record_id_param())
        .and(warp::path!("status"))
        .and(warp::get())
        .and(caller(state.clone()))
        .and(with_state(state))
        .and_then(status)
}

fn body(ev: &StatusEvent, cached: bool) -> Response {
    warp::reply::json(&json!({
        "record_id": ev.record_id, "status": ev.status, "attempt": ev.attempt, "error": ev.error, "cached": cached,
    }))
    .into_response()
}

async fn status(id: String, caller: Caller, state: AppState) -> Result<Response, warp::Rejection> {
    let rid = RecordId::parse(&id).map_err(|_| ApiError::not_found("record").reject())?;
    if let Some(bus) = &state.ctx.bus {
        // Both or neither: the owner decides who may see the cached status.
        if let (Ok(Some(owner)), Ok(Some(ev))) =
            (bus.redis.cached_owner(&rid).await, bus.redis.cached_status(&rid).await)
        {
            if caller.may_see(&owner) {
                return Ok(body(&ev, true));
            }
            return Err(ApiError::not_found("record").reject());
        }
    }
    let record = visible_record(&state, &caller, &id).await.map_err(ApiError::reject)?;
    if let Some(bus) = &state.ctx.bus
        && let Err(e) = bus.redis.cache_owner(&rid, &record.owner).await
    {
        tracing::debug!(error = %e, "could not cache a record's owner");
    }
    Ok(body(&record.status_event(), false))
}
