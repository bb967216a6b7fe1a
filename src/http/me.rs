//! The caller's own data, whole:
//!
//! - `GET /api/me/export`: everything kept about them, as one JSON download —
//!   each recording with its analysis and voice embedding (and where to fetch
//!   its audio), and the songs they said no to.
//! - `DELETE /api/me?confirm=<their user name>`: erases all of it (recordings
//!   with their audio, embeddings and index entries, dislikes, caches, their
//!   name in the audit trail). The name must be repeated: nothing else undoes it.

use super::auth::{Caller, caller};
use super::records::parse_limit;
use super::{ApiError, AppState, with_state};
use crate::domain::RecordView;
use crate::store::ListCursor;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::reply::{Reply, Response};

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let export = warp::path!("api" / "me" / "export")
        .and(warp::get())
        .and(caller(state.clone()))
        .and(with_state(state.clone()))
        .and_then(export);
    let erase = warp::path!("api" / "me")
        .and(warp::delete())
        .and(caller(state.clone()))
        .and(warp::query::<EraseQuery>())
        .and(with_state(state))
        .and_then(erase);
    export.or(erase)
}

#[derive(Serialize)]
struct ExportedRecord {
    #[serde(flatten)]
    record: RecordView,
    /// Where the audio can be fetched (with a bearer token, or a ticket).
    audio_url: String,
}

#[derive(Serialize)]
struct Export {
    user: String,
    exported_at: String,
    records: Vec<ExportedRecord>,
    /// Songs never to be recommended to this user again.
    disliked_song_ids: Vec<i64>,
}

async fn export(caller: Caller, state: AppState) -> Result<Response, warp::Rejection> {
    let run = async {
        let page = parse_limit(Some(100))?;
        let mut records = Vec::new();
        let mut cursor: Option<ListCursor> = None;
        loop {
            let rows = state.ctx.store.list_for_owner(&caller.user, page, cursor.as_ref()).await?;
            let last = rows.last().map(|r| ListCursor { created_at: r.created_at_ms, id: r.view.id.to_string() });
            let full = rows.len() as i64 == page;
            for mut r in rows {
                if let Some(a) = r.view.analysis.as_mut() {
                    a.embedding = state.ctx.store.embedding(&r.view.id).await?;
                }
                let audio_url = format!("/api/audio/{}", r.view.id);
                records.push(ExportedRecord { record: r.view, audio_url });
            }
            if !full {
                break;
            }
            cursor = last;
        }
        let mut disliked_song_ids: Vec<i64> = state.ctx.catalog.dislikes(&caller.user).await?.into_iter().collect();
        disliked_song_ids.sort_unstable();
        let exported_at = crate::domain::record::rfc3339_millis(crate::clock::now_ms());
        Ok::<_, ApiError>(Export { user: caller.user.clone(), exported_at, records, disliked_song_ids })
    };
    let body = run.await.map_err(ApiError::reject)?;
    tracing::info!(user = %caller.user, records = body.records.len(), "exported a user's data");
    let reply = warp::reply::json(&body);
    Ok(warp::reply::with_header(reply, "content-disposition", "attachment; filename=\"orakgaraki-export.json\"")
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseQuery {
    /// The caller's user name, repeated.
    confirm: Option<String>,
}

#[derive(Serialize)]
struct Erased {
    user: String,
    /// Recordings erased, with their audio, analyses and voiceprints.
    records: usize,
}

async fn erase(caller: Caller, q: EraseQuery, state: AppState) -> Result<Response, warp::Rejection> {
    if q.confirm.as_deref() != Some(caller.user.as_str()) {
        return Err(ApiError::bad_request(
            "this erases every recording and everything else kept about you; \
             to go ahead, repeat your user name as ?confirm=",
        )
        .reject());
    }
    let erased = crate::erase::erase_user(&state.ctx, &caller.user).await;
    if let Some(cache) = &state.record_cache {
        for id in erased.as_deref().unwrap_or_default() {
            cache.invalidate(id.as_str());
        }
    }
    let erased = erased.map_err(|e| ApiError::from(e).reject())?;
    Ok(warp::reply::json(&Erased { user: caller.user, records: erased.len() }).into_response())
}
