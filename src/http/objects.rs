//! The embedded object store's upload endpoint, `PUT /objects/audio/<id>`: checks
//! the URL's signature and limits, streams the body to storage, then raises the
//! object-created event (as a bucket notification would in the distributed mode).

use super::{ApiError, AppState, with_state};
use crate::actors::ask;
use crate::actors::s3_event::{ObjectCreated, S3EventMsg};
use crate::clock::now_ms;
use crate::domain::{RecordId, RecordStatus, StatusEvent};
use crate::store::StoreError;
use crate::store::objects::ByteStream;
use bytes::Buf;
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use warp::Filter;
use warp::reply::{Reply, Response};

#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<i64>,
    size: Option<u64>,
    sig: Option<String>,
}

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    warp::path!("objects" / "audio" / String)
        .and(warp::put())
        .and(
            warp::query::<SignedQuery>()
                .or(warp::any().map(|| SignedQuery { expires: None, size: None, sig: None }))
                .unify(),
        )
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .and(with_state(state))
        .and_then(put_object)
}

async fn put_object<S, B>(
    id: String,
    q: SignedQuery,
    content_length: Option<u64>,
    body: S,
    state: AppState,
) -> Result<Response, warp::Rejection>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf + Send + 'static,
{
    put(id, q, content_length, body, state).await.map_err(ApiError::reject)
}

async fn put<S, B>(
    id: String,
    q: SignedQuery,
    content_length: Option<u64>,
    body: S,
    state: AppState,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf + Send + 'static,
{
    let (Some(expires), Some(size), Some(sig)) = (q.expires, q.size, q.sig) else {
        return Err(ApiError::forbidden("the upload URL is not signed"));
    };
    let id = RecordId::parse(&id).map_err(|_| ApiError::forbidden("the upload URL signature is invalid"))?;
    let key = id.object_key();
    state.signer.verify(&key, expires, size, &sig, now_ms() / 1000).map_err(|e| ApiError::forbidden(e.to_string()))?;
    let max = state.ctx.config.uploads.max_bytes.min(size);
    if content_length.is_some_and(|n| n > max) {
        return Err(ApiError::too_large(format!("the body is larger than the {max} bytes this URL allows")));
    }
    let record = state.ctx.store.get(&id).await?.ok_or_else(|| ApiError::not_found("record"))?;
    if record.view.status != RecordStatus::Pending {
        return Err(ApiError::conflict(format!("the record is {}; its upload is already done", record.view.status)));
    }
    let body: ByteStream<'_> =
        body.map_ok(|mut b| b.copy_to_bytes(b.remaining())).map_err(std::io::Error::other).boxed();
    let body = audio_only(body).await?;
    let out = state.ctx.objects.put_stream(&key, body, max).await?;
    if out.size != size {
        let _ = state.ctx.objects.delete(&key).await;
        return Err(ApiError::bad_request(format!(
            "the upload has {} bytes but {size} were declared; nothing was stored, try again",
            out.size
        )));
    }
    let events = object_created(&state, key, out.size, out.sha256.clone()).await?;
    let status = events.last().map(|e| e.status).unwrap_or(RecordStatus::Uploaded);
    Ok(warp::reply::json(&json!({ "record_id": id, "status": status, "size": out.size, "sha256": out.sha256 }))
        .into_response())
}

/// Reads the first bytes of an upload and refuses it with 415 unless they look
/// like a supported audio format; otherwise the whole stream, unchanged. An empty
/// body passes (the caller reports it as empty).
pub async fn audio_only(mut body: ByteStream<'_>) -> Result<ByteStream<'_>, ApiError> {
    use crate::audio::sniff::{SNIFF_LEN, audio_format};
    let mut head: Vec<bytes::Bytes> = Vec::new();
    let mut have = 0;
    while have < SNIFF_LEN {
        match body.next().await {
            Some(Ok(chunk)) => {
                have += chunk.len();
                head.push(chunk);
            }
            Some(Err(e)) => return Err(ApiError::bad_request(format!("the upload was interrupted: {e}"))),
            None => break,
        }
    }
    if have > 0 {
        let first: Vec<u8> = head.iter().flat_map(|c| c.iter().copied()).take(SNIFF_LEN).collect();
        if audio_format(&first).is_none() {
            return Err(ApiError::new(
                warp::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the file is not audio in a supported format (WAV, FLAC, MP3, Ogg/Vorbis/Opus, WebM, AAC/M4A, AIFF, CAF)",
            ));
        }
    }
    Ok(futures_util::stream::iter(head.into_iter().map(Ok)).chain(body).boxed())
}

/// Tells the s3-event actor that an object landed, and waits until it is applied.
pub async fn object_created(
    state: &AppState,
    key: String,
    size: u64,
    sha256: String,
) -> Result<Vec<StatusEvent>, ApiError> {
    let events = apply_object_created(state, key, size, sha256).await??;
    metrics::counter!(crate::telemetry::UPLOADS, "path" => "direct").increment(1);
    Ok(events)
}

/// Like `object_created`, keeping the store's verdict apart from a failure to
/// reach the actor (callers that tell a replay from an unknown record).
pub async fn apply_object_created(
    state: &AppState,
    key: String,
    size: u64,
    sha256: String,
) -> Result<Result<Vec<StatusEvent>, StoreError>, ApiError> {
    let event = ObjectCreated { key, size, sha256 };
    Ok(ask(state.ctx.directory.s3_event(), "s3-event", Duration::from_secs(30), |reply| S3EventMsg::ObjectCreated {
        event,
        reply: Some(reply),
    })
    .await?)
}
