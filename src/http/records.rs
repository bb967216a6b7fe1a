//! Record routes: open an upload (presigned URL or multipart), read, list, delete.

use super::auth::{Caller, caller};
use super::objects::{audio_only, object_created};
use super::{ApiError, AppState, record_id_param, with_state};
use crate::actors::ask;
use crate::actors::upload_session::{UploadMsg, UploadRequest};
use crate::clock::now_ms;
use crate::domain::record::{rfc3339_millis, sanitize_filename};
use crate::domain::{RecordId, RecordView};
use crate::store::objects::ByteStream;
use crate::store::{ListCursor, StoredRecord};
use bytes::Buf;
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

const ACTOR_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest `metadata` part of a multipart upload.
const MAX_METADATA: usize = 64 * 1024;
/// Multipart framing allowed on top of the file itself.
const MULTIPART_OVERHEAD: u64 = 1024 * 1024;

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let presign = warp::path!("api" / "records" / "presigned-url")
        .and(warp::post())
        .and(caller(state.clone()))
        .and(json_body::<PresignRequest>())
        .and(with_state(state.clone()))
        .and_then(presigned_url);
    let upload = warp::path!("api" / "records" / "upload")
        .and(warp::post())
        .and(caller(state.clone()))
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::multipart::form().max_length(None))
        .and(with_state(state.clone()))
        .and_then(multipart_upload);
    let list = warp::path!("api" / "records")
        .and(warp::get())
        .and(caller(state.clone()))
        .and(warp::query::<ListQuery>())
        .and(with_state(state.clone()))
        .and_then(list);
    let get = warp::path!("api" / "records" / ..)
        .and(record_id_param())
        .and(warp::path::end())
        .and(warp::get())
        .and(caller(state.clone()))
        .and(warp::query::<GetQuery>())
        .and(with_state(state.clone()))
        .and_then(get);
    let delete = warp::path!("api" / "records" / ..)
        .and(record_id_param())
        .and(warp::path::end())
        .and(warp::delete())
        .and(caller(state.clone()))
        .and(with_state(state.clone()))
        .and_then(delete);
    let patch = warp::path!("api" / "records" / ..)
        .and(record_id_param())
        .and(warp::path::end())
        .and(warp::patch())
        .and(caller(state.clone()))
        .and(json_body::<PatchRequest>())
        .and(with_state(state))
        .and_then(patch);
    presign.or(upload).or(list).or(get).or(delete).or(patch)
}

/// A JSON body of at most 64 KiB, parsed into `T`; errors are ours (400 with the
/// serde message), so they are reported as such rather than lost among the
/// rejections of neighbouring routes.
pub fn json_body<T: serde::de::DeserializeOwned + Send>() -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone
{
    warp::body::content_length_limit(64 * 1024).and(warp::body::bytes()).and_then(|body: bytes::Bytes| async move {
        serde_json::from_slice::<T>(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")).reject())
    })
}

/// Loads a record the caller may see; anything else is 404 (never 403, which
/// would tell a stranger the id exists).
pub async fn visible_record(state: &AppState, caller: &Caller, id: &str) -> Result<StoredRecord, ApiError> {
    record_where(state, id, |r| caller.may_see(&r.owner)).await
}

/// Loads a record the caller may read: one they may see, or anyone's public one.
/// Anything else is 404.
pub async fn readable_record(state: &AppState, caller: &Caller, id: &str) -> Result<StoredRecord, ApiError> {
    record_where(state, id, |r| may_read(caller, r)).await
}

/// Whether the caller may read a record: they may see its owner's records, or it is public.
pub fn may_read(caller: &Caller, record: &StoredRecord) -> bool {
    caller.may_see(&record.owner) || record.view.visibility.is_public()
}

/// The record `id` if it exists and `allowed` accepts it; 404 otherwise.
async fn record_where(
    state: &AppState,
    id: &str,
    allowed: impl FnOnce(&StoredRecord) -> bool,
) -> Result<StoredRecord, ApiError> {
    let id = RecordId::parse(id).map_err(|_| ApiError::not_found("record"))?;
    match state.ctx.store.get(&id).await? {
        Some(r) if allowed(&r) => Ok(r),
        _ => Err(ApiError::not_found("record")),
    }
}

/// Loads a record the caller may change: 404 when they may not even read it,
/// 403 when it is someone else's public record.
pub async fn owned_record(state: &AppState, caller: &Caller, id: &str) -> Result<StoredRecord, ApiError> {
    let record = readable_record(state, caller, id).await?;
    if caller.may_see(&record.owner) {
        Ok(record)
    } else {
        Err(ApiError::forbidden("only the owner may change this recording"))
    }
}

#[derive(Deserialize)]
struct PresignRequest {
    filename: String,
    content_type: Option<String>,
    size: u64,
}

#[derive(Serialize)]
struct PresignResponse {
    record_id: RecordId,
    upload_url: String,
    method: &'static str,
    headers: std::collections::BTreeMap<String, String>,
    expires_at: String,
}

fn check_content_type(ct: Option<String>) -> Result<String, ApiError> {
    let ct = ct.unwrap_or_default().trim().to_owned();
    if ct.len() > 255 || ct.chars().any(|c| c.is_control()) {
        return Err(ApiError::bad_request("invalid content_type"));
    }
    Ok(if ct.is_empty() { "application/octet-stream".to_owned() } else { ct })
}

async fn presigned_url(caller: Caller, req: PresignRequest, state: AppState) -> Result<Response, warp::Rejection> {
    let max = state.ctx.config.uploads.max_bytes;
    if req.filename.trim().is_empty() {
        return Err(ApiError::bad_request("filename must not be empty").reject());
    }
    if req.size == 0 {
        return Err(ApiError::bad_request("size must be positive").reject());
    }
    if req.size > max {
        return Err(ApiError::too_large(format!("size {} is over the limit of {max} bytes", req.size)).reject());
    }
    let declared = check_content_type(req.content_type).map_err(ApiError::reject)?;
    let Some(content_type) = crate::domain::record::audio_content_type(&declared, &req.filename) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("uploads are audio: content_type must be audio/* (got {declared:?})"),
        )
        .reject());
    };
    let request = UploadRequest {
        owner: caller.user,
        filename: sanitize_filename(&req.filename),
        content_type,
        size: req.size,
        metadata: None,
        presign: true,
    };
    let ticket = ask(state.ctx.directory.upload_session(), "upload-session", ACTOR_TIMEOUT, |reply| UploadMsg::Open {
        request,
        reply,
    })
    .await
    .map_err(|e| ApiError::from(e).reject())?
    .map_err(|e| ApiError::from(e).reject())?;
    let presigned = ticket.presigned.ok_or_else(|| ApiError::internal("no upload URL was issued").reject())?;
    let body = PresignResponse {
        record_id: ticket.record.view.id,
        upload_url: presigned.url,
        method: presigned.method,
        headers: presigned.headers,
        expires_at: rfc3339_millis(ticket.expires_at),
    };
    Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response())
}

async fn multipart_upload(
    caller: Caller,
    content_length: Option<u64>,
    mut form: warp::multipart::FormData,
    state: AppState,
) -> Result<Response, warp::Rejection> {
    let max = state.ctx.config.uploads.max_bytes;
    if content_length.is_some_and(|n| n > max + MULTIPART_OVERHEAD) {
        return Err(ApiError::too_large(format!("the upload is over the limit of {max} bytes")).reject());
    }
    let mut metadata: Option<serde_json::Value> = None;
    let mut stored: Option<(StoredRecord, u64, String)> = None;
    let result: Result<(), ApiError> = async {
        while let Some(part) = form.next().await {
            let part = part.map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
            match part.name() {
                "metadata" => {
                    let bytes = read_small(part, MAX_METADATA).await?;
                    let value: serde_json::Value = serde_json::from_slice(&bytes)
                        .map_err(|e| ApiError::bad_request(format!("metadata is not valid JSON: {e}")))?;
                    if !value.is_object() {
                        return Err(ApiError::bad_request("metadata must be a JSON object"));
                    }
                    if let Some((rec, _, _)) = &stored {
                        state.ctx.store.set_metadata(&rec.view.id, &value, now_ms()).await?;
                    }
                    metadata = Some(value);
                }
                "file" if stored.is_none() => {
                    let filename = sanitize_filename(part.filename().unwrap_or("upload"));
                    let content_type = check_content_type(part.content_type().map(str::to_owned))?;
                    let body: ByteStream<'_> = part
                        .stream()
                        .map_ok(|mut b| b.copy_to_bytes(b.remaining()))
                        .map_err(std::io::Error::other)
                        .boxed();
                    // Refused before a record exists when it is plainly not audio.
                    let body = audio_only(body).await?;
                    let request = UploadRequest {
                        owner: caller.user.clone(),
                        filename,
                        content_type,
                        size: 0,
                        metadata: metadata.clone(),
                        presign: false,
                    };
                    let ticket = ask(state.ctx.directory.upload_session(), "upload-session", ACTOR_TIMEOUT, |reply| {
                        UploadMsg::Open { request, reply }
                    })
                    .await??;
                    let record = ticket.record;
                    match state.ctx.objects.put_stream(&record.object_key, body, max.min(ticket.room)).await {
                        Ok(out) => stored = Some((record, out.size, out.sha256)),
                        Err(e) => {
                            // Nothing usable arrived: the record must not linger as PENDING.
                            let _ = state.ctx.store.delete(&record.view.id).await;
                            return Err(e.into());
                        }
                    }
                }
                "file" => return Err(ApiError::bad_request("only one file part is accepted")),
                _ => {
                    // Unknown parts are read and ignored, within the metadata limit.
                    read_small(part, MAX_METADATA).await?;
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if let Some((rec, _, _)) = &stored {
            let _ = state.ctx.objects.delete(&rec.object_key).await;
            let _ = state.ctx.store.delete(&rec.view.id).await;
        }
        return Err(e.reject());
    }
    let Some((record, size, sha256)) = stored else {
        return Err(ApiError::bad_request("the form has no `file` part").reject());
    };
    if size == 0 {
        let _ = state.ctx.objects.delete(&record.object_key).await;
        let _ = state.ctx.store.delete(&record.view.id).await;
        return Err(ApiError::bad_request("the file is empty").reject());
    }
    let events = object_created(&state, record.object_key.clone(), size, sha256).await.map_err(ApiError::reject)?;
    let status = events.last().map(|e| e.status).unwrap_or(record.view.status);
    let body = json!({ "record_id": record.view.id, "status": status });
    Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::ACCEPTED).into_response())
}

async fn read_small(part: warp::multipart::Part, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    let mut stream = part.stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
        if out.len() + chunk.remaining() > limit {
            return Err(ApiError::too_large(format!("a form field is over {limit} bytes")));
        }
        out.extend_from_slice(chunk.chunk());
    }
    Ok(out)
}

#[derive(Deserialize)]
struct GetQuery {
    /// Comma-separated extras; `embedding` adds the voice embedding's vector.
    include: Option<String>,
}

async fn get(id: String, caller: Caller, q: GetQuery, state: AppState) -> Result<Response, warp::Rejection> {
    let include = q.include.as_deref().unwrap_or("");
    if let (Some(cache), true) = (&state.record_cache, include.is_empty()) {
        return cached_get(cache, &id, &caller, &state).await;
    }
    let mut record = readable_record(&state, &caller, &id).await.map_err(ApiError::reject)?;
    for extra in include.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match extra {
            // A voiceprint is biometric data: its owner's (and admins') alone, even
            // when the recording is public.
            "embedding" if !caller.may_see(&record.owner) => {
                return Err(ApiError::forbidden("only the owner (or an admin) may read a voice embedding").reject());
            }
            "embedding" => {
                if let Some(analysis) = record.view.analysis.as_mut() {
                    analysis.embedding =
                        state.ctx.store.embedding(&record.view.id).await.map_err(|e| ApiError::from(e).reject())?;
                }
            }
            other => {
                return Err(ApiError::bad_request(format!("unknown include {other:?} (known: embedding)")).reject());
            }
        }
    }
    Ok(warp::reply::json(&record.view).into_response())
}

/// `GET /api/records/{id}` through the cache: a COMPLETED record's JSON is kept
/// (with its owner and visibility, checked on every read).
async fn cached_get(
    cache: &super::record_cache::RecordCache,
    id: &str,
    caller: &Caller,
    state: &AppState,
) -> Result<Response, warp::Rejection> {
    use super::record_cache::Cached;
    let json = |body: bytes::Bytes| {
        let mut r = Response::new(body.into());
        r.headers_mut()
            .insert(warp::http::header::CONTENT_TYPE, warp::http::HeaderValue::from_static("application/json"));
        r
    };
    if let Some(hit) = cache.get(id) {
        return if caller.may_see(&hit.owner) || hit.public {
            Ok(json(hit.body.clone()))
        } else {
            Err(ApiError::not_found("record").reject())
        };
    }
    let seen = cache.generation();
    let record = readable_record(state, caller, id).await.map_err(ApiError::reject)?;
    let body =
        bytes::Bytes::from(serde_json::to_vec(&record.view).map_err(|e| ApiError::internal(e.to_string()).reject())?);
    if record.view.status == crate::domain::RecordStatus::Completed {
        let public = record.view.visibility.is_public();
        cache.insert(record.view.id.as_str(), seen, Cached { owner: record.owner, public, body: body.clone() });
    }
    Ok(json(body))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct ListResponse {
    items: Vec<RecordView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    next_cursor: Option<String>,
}

/// A page cursor `<unix ms>_<record id>`, as listings hand out in `next_cursor`.
pub fn parse_cursor(s: &str) -> Result<ListCursor, ApiError> {
    let (ms, id) = s.split_once('_').ok_or_else(|| ApiError::bad_request("invalid cursor"))?;
    let created_at = ms.parse::<i64>().map_err(|_| ApiError::bad_request("invalid cursor"))?;
    let id = RecordId::parse(id).map_err(|_| ApiError::bad_request("invalid cursor"))?;
    Ok(ListCursor { created_at, id: id.as_str().to_owned() })
}

/// A listing's page size: `limit` (default 20), 1 to 100.
pub fn parse_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(20);
    if (1..=100).contains(&limit) { Ok(limit) } else { Err(ApiError::bad_request("limit must be between 1 and 100")) }
}

async fn list(caller: Caller, q: ListQuery, state: AppState) -> Result<Response, warp::Rejection> {
    let limit = parse_limit(q.limit).map_err(ApiError::reject)?;
    let cursor = q.cursor.as_deref().map(parse_cursor).transpose().map_err(ApiError::reject)?;
    let rows = state
        .ctx
        .store
        .list_for_owner(&caller.user, limit + 1, cursor.as_ref())
        .await
        .map_err(|e| ApiError::from(e).reject())?;
    let more = rows.len() as i64 > limit;
    let items: Vec<StoredRecord> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = if more { items.last().map(|r| format!("{}_{}", r.created_at_ms, r.view.id)) } else { None };
    let body = ListResponse { items: items.into_iter().map(|r| r.view).collect(), next_cursor };
    Ok(warp::reply::json(&body).into_response())
}

async fn delete(id: String, caller: Caller, state: AppState) -> Result<Response, warp::Rejection> {
    let record = owned_record(&state, &caller, &id).await.map_err(ApiError::reject)?;
    let erased = crate::erase::erase_record(&state.ctx, &record).await;
    if let Some(cache) = &state.record_cache {
        cache.invalidate(record.view.id.as_str());
    }
    erased.map_err(|e| ApiError::from(e).reject())?;
    tracing::info!(record_id = %record.view.id, by = %caller.user, "record deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchRequest {
    visibility: Option<crate::domain::Visibility>,
    /// The name others see beside the recording when it is public; "" for none.
    display_name: Option<String>,
}

/// `PATCH /api/records/{id}` `{"visibility": "public" | "private", "display_name"}`:
/// who may find the recording in voice search, and the name they see beside it
/// (never the owner's id). The owner (or an admin) only.
async fn patch(id: String, caller: Caller, req: PatchRequest, state: AppState) -> Result<Response, warp::Rejection> {
    let record = owned_record(&state, &caller, &id).await.map_err(ApiError::reject)?;
    if req.visibility.is_none() && req.display_name.is_none() {
        return Err(ApiError::bad_request("nothing to change (known fields: visibility, display_name)").reject());
    }
    let visibility = req.visibility.unwrap_or(record.view.visibility);
    let display_name = match req.display_name.as_deref() {
        Some(name) => crate::domain::record::display_name(name).map_err(|e| ApiError::bad_request(e).reject())?,
        None => record.view.display_name.clone(),
    };
    state
        .ctx
        .store
        .set_visibility(&record.view.id, visibility, display_name.as_deref(), now_ms())
        .await
        .map_err(|e| ApiError::from(e).reject())?;
    if let Some(cache) = &state.record_cache {
        cache.invalidate(record.view.id.as_str());
    }
    state.ctx.reindex_visibility(&record.view.id, visibility.is_public()).await;
    tracing::info!(
        record_id = %record.view.id,
        by = %caller.user,
        visibility = visibility.as_str(),
        "visibility changed",
    );
    let updated = readable_record(&state, &caller, &id).await.map_err(ApiError::reject)?;
    Ok(warp::reply::json(&updated.view).into_response())
}
