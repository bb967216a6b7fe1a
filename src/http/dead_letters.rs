//! Dead-letter review for admins: list and filter FAILED records, see each
//! one's attempts, requeue it (a fresh budget of attempts) or discard it (the
//! record and its object go; an audit row keeps a copy).
//!
//! - `GET    /api/admin/dead-letters?owner=&error=&failed_after=&failed_before=&limit=&cursor=`
//! - `GET    /api/admin/dead-letters/audit?record_id=&before=&limit=`
//! - `GET    /api/admin/dead-letters/{id}`
//! - `POST   /api/admin/dead-letters/{id}/requeue`
//! - `DELETE /api/admin/dead-letters/{id}`

use super::auth::{Caller, admin};
use super::records::{parse_cursor, parse_limit};
use super::{ApiError, AppState, record_id_param, with_state};
use crate::clock::now_ms;
use crate::domain::RecordId;
use crate::domain::dead_letter::{AuditEntry, DeadLetter, DeadLetterFilter};
use crate::telemetry;
use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let list = warp::path!("api" / "admin" / "dead-letters")
        .and(warp::get())
        .and(admin(state.clone()))
        .and(warp::query::<ListQuery>())
        .and(with_state(state.clone()))
        .and_then(list);
    let audit = warp::path!("api" / "admin" / "dead-letters" / "audit")
        .and(warp::get())
        .and(admin(state.clone()))
        .and(warp::query::<AuditQuery>())
        .and(with_state(state.clone()))
        .and_then(audit);
    let get = warp::path!("api" / "admin" / "dead-letters" / ..)
        .and(record_id_param())
        .and(warp::path::end())
        .and(warp::get())
        .and(admin(state.clone()))
        .and(with_state(state.clone()))
        .and_then(get);
    let requeue = warp::path!("api" / "admin" / "dead-letters" / ..)
        .and(record_id_param())
        .and(warp::path!("requeue"))
        .and(warp::post())
        .and(admin(state.clone()))
        .and(with_state(state.clone()))
        .and_then(requeue);
    let discard = warp::path!("api" / "admin" / "dead-letters" / ..)
        .and(record_id_param())
        .and(warp::path::end())
        .and(warp::delete())
        .and(admin(state.clone()))
        .and(with_state(state))
        .and_then(discard);
    list.or(audit).or(get).or(requeue).or(discard)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    owner: Option<String>,
    /// Text the last error contains.
    error: Option<String>,
    /// RFC 3339 times.
    failed_after: Option<String>,
    failed_before: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct ListResponse {
    items: Vec<DeadLetter>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_millis())
                .map_err(|e| ApiError::bad_request(format!("{name} must be an RFC 3339 time: {e}")))
        })
        .transpose()
}

fn record_id(id: &str) -> Result<RecordId, ApiError> {
    RecordId::parse(id).map_err(|_| ApiError::not_found("record"))
}

async fn list(_admin: Caller, q: ListQuery, state: AppState) -> Result<Response, warp::Rejection> {
    let result: Result<Response, ApiError> = async {
        let limit = parse_limit(q.limit)?;
        let filter = DeadLetterFilter {
            owner: q.owner.filter(|o| !o.is_empty()),
            error_contains: q.error.filter(|e| !e.is_empty()),
            failed_after: parse_time("failed_after", q.failed_after.as_deref())?,
            failed_before: parse_time("failed_before", q.failed_before.as_deref())?,
        };
        let cursor = q.cursor.as_deref().map(parse_cursor).transpose()?;
        let mut rows = state.ctx.dead_letters.dead_letters(&filter, limit + 1, cursor.as_ref()).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(|(d, at)| format!("{at}_{}", d.record_id)) } else { None };
        let body = ListResponse { items: rows.into_iter().map(|(d, _)| d).collect(), next_cursor };
        Ok(warp::reply::json(&body).into_response())
    }
    .await;
    result.map_err(ApiError::reject)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    record_id: Option<String>,
    /// Entries with a smaller id (the last `id` seen, for the next page).
    before: Option<i64>,
    limit: Option<i64>,
}

async fn audit(_admin: Caller, q: AuditQuery, state: AppState) -> Result<Response, warp::Rejection> {
    let result: Result<Response, ApiError> = async {
        let limit = parse_limit(q.limit)?;
        let entries: Vec<AuditEntry> =
            state.ctx.dead_letters.dead_letter_audit(q.record_id.as_deref(), q.before, limit).await?;
        Ok(warp::reply::json(&json!({ "items": entries })).into_response())
    }
    .await;
    result.map_err(ApiError::reject)
}

/// The dead letter with its attempts (errors and timings) and what admins did with it.
async fn get(id: String, _admin: Caller, state: AppState) -> Result<Response, warp::Rejection> {
    let result: Result<Response, ApiError> = async {
        let id = record_id(&id)?;
        let letter = state.ctx.dead_letters.dead_letter(&id).await?;
        let attempts = state.ctx.dead_letters.attempt_history(&id).await?;
        let audit = state.ctx.dead_letters.dead_letter_audit(Some(id.as_str()), None, 100).await?;
        let mut body = serde_json::to_value(&letter).map_err(|e| ApiError::internal(e.to_string()))?;
        body["history"] = json!(attempts);
        body["audit"] = json!(audit);
        Ok(warp::reply::json(&body).into_response())
    }
    .await;
    result.map_err(ApiError::reject)
}

async fn requeue(id: String, admin: Caller, state: AppState) -> Result<Response, warp::Rejection> {
    let result: Result<Response, ApiError> = async {
        let id = record_id(&id)?;
        let event = state.ctx.dead_letters.requeue_dead_letter(&id, &admin.user, now_ms()).await?;
        metrics::counter!(telemetry::DEAD_LETTER_ACTIONS, "action" => "requeue").increment(1);
        tracing::info!(record_id = %id, admin = %admin.user, "dead letter requeued");
        state.ctx.publish([event]);
        state.ctx.directory.wake_job_source();
        let record = state.ctx.store.get(&id).await?.ok_or_else(|| ApiError::not_found("record"))?;
        Ok(warp::reply::json(&record.view).into_response())
    }
    .await;
    result.map_err(ApiError::reject)
}

async fn discard(id: String, admin: Caller, state: AppState) -> Result<Response, warp::Rejection> {
    let result: Result<Response, ApiError> = async {
        let id = record_id(&id)?;
        // A dead letter (409 otherwise); its audio goes first, so a failing object
        // store leaves the record to discard again rather than an orphaned object.
        state.ctx.dead_letters.dead_letter(&id).await?;
        let record = state.ctx.store.get(&id).await?.ok_or_else(|| ApiError::not_found("record"))?;
        crate::erase::erase_object(&state.ctx, &record.object_key).await?;
        state.ctx.dead_letters.discard_dead_letter(&id, &admin.user, now_ms()).await?;
        crate::erase::forget_cached(&state.ctx, &id).await;
        metrics::counter!(telemetry::DEAD_LETTER_ACTIONS, "action" => "discard").increment(1);
        tracing::info!(record_id = %id, admin = %admin.user, "dead letter discarded");
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    result.map_err(ApiError::reject)
}
