//! Bearer-token authentication as a warp filter. The routes a browser opens
//! without headers (an EventSource, an `<audio>` element) also take `?ticket=`:
//! a short-lived ticket for that one resource (`POST /api/tickets`). A bearer
//! token never travels in a URL, where proxies and histories would keep it.

use super::{ApiError, AppState};
use crate::auth::{Claims, Role, TicketScope};
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

fn verify(state: &AppState, header: Option<String>) -> Result<Caller, ApiError> {
    let h = header.ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let (scheme, rest) = h.split_once(' ').ok_or_else(|| ApiError::unauthorized("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized("use a Bearer token"));
    }
    state.jwt.verify(rest.trim()).map(Caller::from).map_err(|e| ApiError::unauthorized(e.to_string()))
}

/// Requires a valid bearer token in the Authorization header.
pub fn caller(state: AppState) -> impl Filter<Extract = (Caller,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization").and_then(move |h: Option<String>| {
        let state = state.clone();
        async move { verify(&state, h).map_err(ApiError::reject) }
    })
}

/// What a browser URL may carry instead of an Authorization header.
#[derive(Deserialize, Default)]
struct TicketQuery {
    ticket: Option<String>,
    /// A bearer token in a URL: refused, with a pointer to tickets.
    access_token: Option<String>,
}

/// The credentials of a request to a route a browser opens without headers:
/// the Authorization header, or a ticket.
pub struct Credentials {
    header: Option<String>,
    query: TicketQuery,
}

impl Credentials {
    /// The caller, from the bearer token, or from a ticket for `scope` on `record`
    /// (empty for the alert stream).
    pub fn authorize(self, state: &AppState, scope: TicketScope, record: &str) -> Result<Caller, ApiError> {
        if self.header.is_some() {
            return verify(state, self.header);
        }
        match (self.query.ticket, self.query.access_token) {
            (Some(t), _) => {
                let now = crate::clock::now_ms() / 1000;
                let ticket =
                    state.tickets.verify(&t, scope, record, now).map_err(|e| ApiError::unauthorized(e.to_string()))?;
                Ok(Caller { user: ticket.user, role: ticket.role })
            }
            (None, Some(_)) => Err(ApiError::unauthorized(
                "bearer tokens are not accepted in URLs; ask for a ticket (POST /api/tickets) and pass ?ticket=",
            )),
            (None, None) => Err(ApiError::unauthorized("missing bearer token or ticket")),
        }
    }
}

/// The request's [`Credentials`], checked by the handler once it knows the resource.
pub fn credentials() -> impl Filter<Extract = (Credentials,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::query::<TicketQuery>().or(warp::any().map(TicketQuery::default)).unify())
        .map(|header, query| Credentials { header, query })
}

/// Requires a valid bearer token with the admin role: 401 without a valid token,
/// 403 for a user's.
pub fn admin(state: AppState) -> impl Filter<Extract = (Caller,), Error = warp::Rejection> + Clone {
    caller(state).and_then(require_admin)
}

/// Like [`admin`], also accepting a ticket for the alert stream.
pub fn admin_or_ticket(state: AppState) -> impl Filter<Extract = (Caller,), Error = warp::Rejection> + Clone {
    credentials()
        .and_then(move |c: Credentials| {
            let state = state.clone();
            async move { c.authorize(&state, TicketScope::Alerts, "").map_err(ApiError::reject) }
        })
        .and_then(require_admin)
}

async fn require_admin(c: Caller) -> Result<Caller, warp::Rejection> {
    if c.role == Role::Admin { Ok(c) } else { Err(ApiError::forbidden("admins only").reject()) }
}
