//! `GET /api/audio/{id}`: a recording's audio, for playback (the web page's
//! "voices like mine"). Who may see the record may play it: its owner, an admin,
//! or anyone when it is public; `?ticket=` works (an `<audio>` element cannot
//! send headers: `POST /api/tickets` `{"scope": "audio", "record_id"}`). Anyone
//! else gets 404, as for the record itself.
//!
//! With the embedded object store the file is served from the data dir (warp's
//! file serving: ranges, so players can seek, and conditional requests); with S3
//! the answer is a redirect to a short-lived presigned GET URL, so audio never
//! passes through the service.

use super::auth::{Credentials, credentials};
use super::records::readable_record;
use super::{ApiError, AppState, with_state};
use crate::store::StoredRecord;
use std::path::PathBuf;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

/// How long a playback redirect stays valid.
const URL_TTL_SECONDS: i64 = 600;

/// The record the rest of the path names (`/api/audio/<id>`), if the caller may
/// play it. The id is peeked, not consumed: the file server reads it next.
fn playable(state: AppState) -> impl Filter<Extract = (StoredRecord,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "audio" / ..)
        .and(warp::get().or(warp::head()).unify())
        .and(warp::path::peek())
        .and(credentials())
        .and(with_state(state))
        .and_then(|id: warp::path::Peek, credentials: Credentials, state: AppState| async move {
            let caller = credentials
                .authorize(&state, crate::auth::TicketScope::Audio, id.as_str())
                .map_err(ApiError::reject)?;
            readable_record(&state, &caller, id.as_str()).await.map_err(ApiError::reject)
        })
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let config = &state.ctx.config;
    if config.storage.objects == "local" {
        // `<data dir>/objects/audio/<id>`: warp serves the file the path names.
        let dir: PathBuf = config.storage.data_dir.join("objects").join("audio");
        playable(state)
            .and(warp::fs::dir(dir))
            .map(|record: StoredRecord, file: warp::fs::File| with_type(file.into_response(), &record))
            .boxed()
    } else {
        playable(state.clone())
            .and(with_state(state))
            .and_then(|record: StoredRecord, state: AppState| async move {
                let expires = crate::clock::now_ms() / 1000 + URL_TTL_SECONDS;
                let url = state
                    .ctx
                    .objects
                    .presign_get(&record.object_key, expires, &playback_type(&record))
                    .await
                    .map_err(|e| ApiError::from(e).reject())?;
                let uri: warp::http::Uri = url.parse().map_err(|_| ApiError::internal("bad presigned URL").reject())?;
                Ok::<Response, warp::Rejection>(warp::redirect::temporary(uri).into_response())
            })
            .boxed()
    }
}

/// The audio type a recording is played as: its own when that is audio, else
/// the one its filename names, else `audio/mpeg` (players sniff the bytes
/// anyway). Never anything a browser would render as a page.
fn playback_type(record: &StoredRecord) -> String {
    crate::domain::record::audio_content_type(&record.view.content_type, &record.view.filename)
        .unwrap_or_else(|| "audio/mpeg".to_owned())
}

/// The recording's audio type, as a download (the stored object has no
/// extension to guess from).
fn with_type(mut r: Response, record: &StoredRecord) -> Response {
    if let Ok(v) = HeaderValue::from_str(&playback_type(record)) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r.headers_mut().insert(CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("private, max-age=600"));
    r
}
