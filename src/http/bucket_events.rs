//! `POST /api/records/async/upload-completed`: object-created notifications from
//! the object store (AWS S3 / MinIO `Records`, EventBridge, SeaweedFS webhook),
//! the seed's path for "the upload finished". Authenticated by a shared secret
//! (`[webhooks] secret`, as a bearer token or an HMAC of the body, and optionally
//! a source allowlist: `webhook_auth`); the endpoint is off without a secret.
//! Each created `audio/<record id>` object that really exists in the object store
//! moves its record to UPLOADED → QUEUED through the s3-event actor; a replayed
//! notification finds the record already past PENDING and changes nothing.

use super::objects::apply_object_created;
use super::{ApiError, AppState, webhook_auth, with_state};
use crate::domain::RecordId;
use crate::domain::bucket_event::{self, BucketEventError};
use crate::store::StoreError;
use serde::Serialize;
use warp::Filter;
use warp::reply::{Reply, Response};

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "records" / "async" / "upload-completed")
        .and(warp::post())
        .and(webhook_auth::verified_body(state.clone(), "bucket notifications"))
        .and(with_state(state))
        .and_then(upload_completed)
}

/// What one notification did.
#[derive(Debug, Default, Serialize)]
struct Outcome {
    format: &'static str,
    /// Records moved to QUEUED.
    applied: usize,
    /// Records already past PENDING (a replay, or the direct upload got there first).
    duplicates: usize,
    /// Keys that are not a record's audio, or whose record does not exist.
    unknown: usize,
    /// Objects the notification names that the object store does not hold.
    missing: usize,
    /// Events that are not object creations.
    ignored: usize,
}

async fn upload_completed(body: bytes::Bytes, state: AppState) -> Result<Response, warp::Rejection> {
    let note = bucket_event::parse(&body).map_err(|e| match e {
        BucketEventError::NotJson(_) | BucketEventError::UnknownFormat | BucketEventError::Malformed { .. } => {
            ApiError::bad_request(e.to_string()).reject()
        }
    })?;
    let mut out = Outcome { format: note.format.as_str(), ignored: note.ignored, ..Outcome::default() };
    for object in note.created {
        if RecordId::from_object_key(&object.key).is_err() {
            out.unknown += 1;
            continue;
        }
        // Trust the store, not the message: the object must be there, at its real size.
        let Some(size) = state.ctx.objects.size(&object.key).await.map_err(|e| ApiError::from(e).reject())? else {
            tracing::warn!(key = %object.key, format = out.format, "notified object is not in the object store");
            out.missing += 1;
            continue;
        };
        let hash = object.etag.map(|e| format!("etag:{e}")).unwrap_or_default();
        let applied = apply_object_created(&state, object.key.clone(), size, hash).await.map_err(ApiError::reject)?;
        match applied {
            Ok(_) => {
                out.applied += 1;
                metrics::counter!(crate::telemetry::UPLOADS, "path" => "notified").increment(1);
            }
            Err(StoreError::Conflict(_)) => out.duplicates += 1,
            Err(StoreError::NotFound) => out.unknown += 1,
            Err(e) => return Err(ApiError::from(e).reject()),
        }
    }
    tracing::info!(
        format = out.format,
        applied = out.applied,
        duplicates = out.duplicates,
        unknown = out.unknown,
        missing = out.missing,
        ignored = out.ignored,
        "bucket notification"
    );
    Ok(warp::reply::json(&out).into_response())
}
