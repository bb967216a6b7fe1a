//! Bearer-token authentication as a warp filter. The SSE route also accepts the
//! token as `?access_token=`, because a browser's EventSource cannot set headers.

use super::{ApiError, AppState};
use crate::auth::{Claims, Role};
use serde::Deserialize;
use warp::Filter;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    pub role: Role,
}

impl Caller {
    /// Whether the caller may see a record owned by `owner`.
    pub fn may_see(&self, owner: &str) -> bool {
        self.role == Role::Admin || self.user == owner
    }
}

impl From<Claims> for Caller {
    fn from(c: Claims) -> Self {
        Caller { user: c.sub, role: c.role }
    }
}

fn verify(state: &AppState, header: Option<String>, query_token: Option<String>) -> Result<Caller, ApiError> {
    let token = match (header, query_token) {
        (Some(h), _) => {
            let (scheme, rest) =
                h.split_once(' ').ok_or_else(|| ApiError::unauthorized("malformed Authorization header"))?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(ApiError::unauthorized("use a Bearer token"));
            }
            rest.trim().to_owned()
        }
        (None, Some(q)) => q,
        (None, None) => return Err(ApiError::unauthorized("missing bearer token")),
    };
    state.jwt.verify(&token).map(Caller::from).map_err(|e| ApiError::unauthorized(e.to_string()))
}

/// Requires a valid bearer token in the Authorization header.
pub fn caller(state: AppState) -> impl Filter<Extract = (Caller,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization").and_then(move |h: Option<String>| {
        let state = state.clone();
        async move { verify(&state, h, None).map_err(ApiError::reject) }
    })
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

/// Like [`caller`], also accepting `?access_token=`.
pub fn caller_or_query(state: AppState) -> impl Filter<Extract = (Caller,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::query::<TokenQuery>().or(warp::any().map(|| TokenQuery { access_token: None })).unify())
        .and_then(move |h: Option<String>, q: TokenQuery| {
            let state = state.clone();
            async move { verify(&state, h, q.access_token).map_err(ApiError::reject) }
        })
}

/// Requires a valid bearer token with the admin role: 401 without a valid token,
/// 403 for a user's.
pub fn admin(state: AppState) -> impl Filter<Extract = (Caller,), Error = warp::Rejection> + Clone {
    caller(state).and_then(require_admin)
}

/// Like [`admin`], also accepting `?access_token=` (for EventSource streams).
pub fn admin_or_query(state: AppState) -> impl Filter<Extract = (Caller,), Error = warp::Rejection> + Clone {
    caller_or_query(state).and_then(require_admin)
}

async fn require_admin(c: Caller) -> Result<Caller, warp::Rejection> {
    if c.role == Role::Admin { Ok(c) } else { Err(ApiError::forbidden("admins only").reject()) }
}
