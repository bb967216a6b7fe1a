//! Song recommendations: `POST /api/recommendations/songs` ranks the catalog for
//! one of the caller's completed recordings; `POST /api/recommendations/dislikes`
//! keeps a song from ever coming back for that user.

use super::auth::{Caller, caller};
use super::records::{json_body, visible_record};
use super::{ApiError, AppState, with_state};
use crate::clock::now_ms;
use crate::domain::RecordStatus;
use crate::domain::catalog::{N_MFCC, RecommendOptions, VoiceProfile, recommend};
use serde::Deserialize;
use serde_json::json;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

/// Most songs one answer lists.
const MAX_TOP_N: usize = 500;

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let songs = warp::path!("api" / "recommendations" / "songs")
        .and(warp::post())
        .and(caller(state.clone()))
        .and(json_body::<SongsRequest>())
        .and(with_state(state.clone()))
        .and_then(songs);
    let dislike = warp::path!("api" / "recommendations" / "dislikes")
        .and(warp::post())
        .and(caller(state.clone()))
        .and(json_body::<DislikeRequest>())
        .and(with_state(state))
        .and_then(dislike);
    songs.or(dislike)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SongsRequest {
    record_id: String,
    top_n: Option<usize>,
    min_popularity: Option<i64>,
    #[serde(default)]
    strict_range: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DislikeRequest {
    song_id: i64,
}

async fn songs(caller: Caller, req: SongsRequest, state: AppState) -> Result<Response, warp::Rejection> {
    let top_n = req.top_n.unwrap_or(10);
    if top_n == 0 || top_n > MAX_TOP_N {
        return Err(ApiError::bad_request(format!("top_n must be 1..={MAX_TOP_N}")).reject());
    }
    let record = visible_record(&state, &caller, &req.record_id).await.map_err(ApiError::reject)?;
    let analysis = match (&record.view.status, &record.view.analysis) {
        (RecordStatus::Completed, Some(a)) => a,
        (status, _) => {
            return Err(ApiError::conflict(format!("the recording is {status}, not analysed yet")).reject());
        }
    };
    let mut mfcc = [0.0; N_MFCC];
    for (m, v) in mfcc.iter_mut().zip(&analysis.mfcc.mean) {
        *m = *v;
    }
    let voice = VoiceProfile { range_hz: analysis.pitch.low_hz.zip(analysis.pitch.high_hz), mfcc };
    let catalog = &state.ctx.catalog;
    let min_popularity = req.min_popularity.unwrap_or(0);
    let songs = catalog.songs(min_popularity).await.map_err(|e| ApiError::from(e).reject())?;
    let disliked = catalog.dislikes(&caller.user).await.map_err(|e| ApiError::from(e).reject())?;
    let opts = RecommendOptions { top_n, min_popularity, strict_range: req.strict_range };
    let items = recommend(&voice, &songs, &disliked, opts);
    Ok(warp::reply::json(&json!({ "record_id": record.view.id, "items": items })).into_response())
}

async fn dislike(caller: Caller, req: DislikeRequest, state: AppState) -> Result<Response, warp::Rejection> {
    let known = state
        .ctx
        .catalog
        .add_dislike(&caller.user, req.song_id, now_ms())
        .await
        .map_err(|e| ApiError::from(e).reject())?;
    if !known {
        return Err(ApiError::not_found("song").reject());
    }
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}
