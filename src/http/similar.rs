//! Voice search: `GET /api/records/{id}/similar` and `POST /api/search/similar`
//! find the recordings whose voice embeddings are closest to a recording's (or to
//! a given vector), among those the caller may see: their own and others' public
//! ones (an admin sees all).
//!
//! Voiceprints are biometric data. Users search from their own (or public)
//! recordings; a raw vector is an admin's query only (it would let anyone probe
//! the index with a voiceprint taken elsewhere). Results name no user: others'
//! recordings show the display name their owner chose, or none; only admins see
//! owner ids, and only admins filter by owner.

use super::auth::{Caller, caller};
use super::records::{json_body, may_read, readable_record};
use super::{ApiError, AppState, with_state};
use crate::auth::Role;
use crate::domain::{Analysis, RecordStatus, Visibility};
use crate::store::StoredRecord;
use crate::store::vectors::SearchScope;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use warp::Filter;
use warp::reply::{Reply, Response};

/// Most neighbours one answer lists.
const MAX_K: usize = 100;
const DEFAULT_K: usize = 10;
/// Extra candidates asked of the index, for hits whose records vanished meanwhile.
const SLACK: usize = 8;

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let by_record = warp::path!("api" / "records" / String / "similar")
        .and(warp::get())
        .and(caller(state.clone()))
        .and(warp::query::<SimilarQuery>())
        .and(with_state(state.clone()))
        .and_then(similar_to_record);
    let search = warp::path!("api" / "search" / "similar")
        .and(warp::post())
        .and(caller(state.clone()))
        .and(json_body::<SearchRequest>())
        .and(with_state(state))
        .and_then(search);
    by_record.or(search)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimilarQuery {
    k: Option<usize>,
}

/// Which recordings a search may return.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Scope {
    /// Everything the caller may see: their own and others' public recordings.
    #[default]
    Visible,
    /// The caller's own recordings only.
    Mine,
    /// Public recordings only (the caller's own public ones included).
    Public,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Filters {
    scope: Scope,
    /// Only this user's recordings (within the scope).
    owner: Option<String>,
    /// Leave out neighbours scoring below this cosine similarity.
    min_score: Option<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchRequest {
    record_id: Option<String>,
    vector: Option<Vec<f32>>,
    k: Option<usize>,
    #[serde(default)]
    filters: Filters,
}

#[derive(Serialize)]
struct Item {
    record_id: String,
    /// Cosine similarity of the two voice embeddings, −1..=1 (6 decimals).
    score: f64,
    /// Whether the recording is the caller's own.
    mine: bool,
    /// The name the owner chose to be shown under; null: none.
    display_name: Option<String>,
    /// The owner's id: in admins' answers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    visibility: Visibility,
    analysis_summary: Option<Summary>,
}

/// The facts about a neighbour worth showing in a list.
#[derive(Serialize)]
struct Summary {
    duration_s: f64,
    low_note: Option<String>,
    high_note: Option<String>,
    median_note: Option<String>,
    low_hz: Option<f64>,
    high_hz: Option<f64>,
    loudness_lufs: Option<f64>,
    tempo_bpm: Option<f64>,
}

impl From<&Analysis> for Summary {
    fn from(a: &Analysis) -> Self {
        Summary {
            duration_s: a.duration_s,
            low_note: a.pitch.low_note.clone(),
            high_note: a.pitch.high_note.clone(),
            median_note: a.pitch.median_note.clone(),
            low_hz: a.pitch.low_hz,
            high_hz: a.pitch.high_hz,
            loudness_lufs: a.loudness_lufs,
            tempo_bpm: a.tempo_bpm,
        }
    }
}

fn check_k(k: Option<usize>) -> Result<usize, ApiError> {
    let k = k.unwrap_or(DEFAULT_K);
    if k == 0 || k > MAX_K {
        return Err(ApiError::bad_request(format!("k must be 1..={MAX_K}")));
    }
    Ok(k)
}

/// The stored vector of a recording the caller may read; 404 when they may not,
/// 409 when it has no voice embedding (not analysed yet, or no voice in it).
async fn searchable_record(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(StoredRecord, i64, Vec<f32>), ApiError> {
    let record = readable_record(state, caller, id).await?;
    let found = state.ctx.record_vector(&record.view.id).await?;
    match found {
        Some((key, vector)) => Ok((record, key.key, vector)),
        None if record.view.status != RecordStatus::Completed => {
            Err(ApiError::conflict(format!("the recording is {}, not analysed yet", record.view.status)))
        }
        None => Err(ApiError::conflict("the recording has no voice embedding (no voice was found in it)")),
    }
}

async fn similar_to_record(
    id: String,
    caller: Caller,
    q: SimilarQuery,
    state: AppState,
) -> Result<Response, warp::Rejection> {
    let run = async {
        let k = check_k(q.k)?;
        let (record, key, vector) = searchable_record(&state, &caller, &id).await?;
        let items = neighbours(&state, &caller, vector, k, &Filters::default(), Some(key)).await?;
        Ok::<_, ApiError>(serde_json::json!({ "record_id": record.view.id, "items": items }))
    };
    run.await.map(|body| warp::reply::json(&body).into_response()).map_err(ApiError::reject)
}

async fn search(caller: Caller, req: SearchRequest, state: AppState) -> Result<Response, warp::Rejection> {
    let run = async {
        let k = check_k(req.k)?;
        let (vector, exclude) = match (&req.record_id, req.vector) {
            (Some(id), None) => {
                let (_, key, vector) = searchable_record(&state, &caller, id).await?;
                (vector, Some(key))
            }
            (None, Some(_)) if caller.role != Role::Admin => {
                return Err(ApiError::forbidden(
                    "searching by a raw vector is for admins; search from one of your recordings (record_id)",
                ));
            }
            (None, Some(v)) => {
                let dims = crate::model::EMBEDDING_DIM;
                if v.len() != dims {
                    return Err(ApiError::bad_request(format!("vector must have {dims} values, it has {}", v.len())));
                }
                if crate::store::vectors::normalized(&v).is_none() {
                    return Err(ApiError::bad_request("vector must be finite and not all zeros"));
                }
                (v, None)
            }
            _ => return Err(ApiError::bad_request("give exactly one of record_id and vector")),
        };
        if req.filters.owner.as_ref().is_some_and(|o| *o != caller.user) && caller.role != Role::Admin {
            return Err(ApiError::forbidden("only admins filter by another user (use scope \"mine\" for yours)"));
        }
        if let Some(m) = req.filters.min_score
            && !(-1.0..=1.0).contains(&m)
        {
            return Err(ApiError::bad_request("filters.min_score must be in -1..=1"));
        }
        let items = neighbours(&state, &caller, vector, k, &req.filters, exclude).await?;
        Ok::<_, ApiError>(serde_json::json!({ "items": items }))
    };
    run.await.map(|body| warp::reply::json(&body).into_response()).map_err(ApiError::reject)
}

/// Searches the index within what the caller may see, then reads the records
/// behind the hits and checks each against the database again (the source of
/// truth: a record made private or deleted a moment ago never shows).
async fn neighbours(
    state: &AppState,
    caller: &Caller,
    vector: Vec<f32>,
    k: usize,
    filters: &Filters,
    exclude: Option<i64>,
) -> Result<Vec<Item>, ApiError> {
    let admin = caller.role == Role::Admin;
    let scope = SearchScope {
        everything: admin && filters.scope == Scope::Visible,
        own: (filters.scope != Scope::Public).then(|| caller.user.clone()),
        public: filters.scope != Scope::Mine,
        owner: filters.owner.clone(),
        exclude,
    };
    let hits = state.ctx.vectors.search(vector, k + SLACK, scope).await?;
    let keys: Vec<i64> = hits.iter().map(|h| h.key).collect();
    let mut records: HashMap<i64, StoredRecord> =
        state.ctx.vector_source.records_by_vector_keys(&keys).await?.into_iter().collect();
    let min_score = filters.min_score.unwrap_or(-1.0);
    let mut items = Vec::with_capacity(k);
    for hit in hits {
        let Some(record) = records.remove(&hit.key) else { continue };
        let allowed = match filters.scope {
            Scope::Visible => may_read(caller, &record),
            Scope::Mine => record.owner == caller.user,
            Scope::Public => record.view.visibility.is_public(),
        };
        let owner_ok = filters.owner.as_ref().is_none_or(|o| *o == record.owner);
        if !allowed || !owner_ok || hit.score < min_score {
            continue;
        }
        items.push(Item {
            record_id: record.view.id.to_string(),
            score: (f64::from(hit.score) * 1e6).round() / 1e6,
            mine: record.owner == caller.user,
            display_name: record.view.display_name.clone(),
            owner: admin.then_some(record.owner),
            visibility: record.view.visibility,
            analysis_summary: record.view.analysis.as_ref().map(Summary::from),
        });
        if items.len() == k {
            break;
        }
    }
    Ok(items)
}
