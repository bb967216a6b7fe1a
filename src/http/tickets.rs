//! `POST /api/tickets` `{"scope": "status" | "audio" | "alerts", "record_id"}`:
//! a short-lived ticket (`[auth] ticket_ttl_seconds`, a minute by default) for the
//! one URL a browser opens without headers — a record's status stream, a
//! record's audio, or the admin alert stream — answered with the URL to open.
//! The same access rules as the routes themselves: a status stream for the owner
//! or an admin, audio for whoever may read the record, alerts for admins; a
//! record the caller may not see is 404.

use super::auth::{Caller, caller};
use super::records::{json_body, readable_record, visible_record};
use super::{ApiError, AppState, with_state};
use crate::auth::{Role, Ticket, TicketScope};
use crate::clock::now_ms;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "tickets")
        .and(warp::post())
        .and(caller(state.clone()))
        .and(json_body::<TicketRequest>())
        .and(with_state(state))
        .and_then(issue)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketRequest {
    scope: TicketScope,
    record_id: Option<String>,
}

#[derive(Serialize)]
struct TicketResponse {
    ticket: String,
    /// The URL the ticket opens, ticket included.
    url: String,
    expires_at: String,
}

async fn issue(caller: Caller, req: TicketRequest, state: AppState) -> Result<Response, warp::Rejection> {
    let run = async {
        let (record, url) = match (req.scope, req.record_id) {
            (TicketScope::Alerts, None) => {
                if caller.role != Role::Admin {
                    return Err(ApiError::forbidden("admins only"));
                }
                (String::new(), "/api/admin/alerts/stream".to_owned())
            }
            (TicketScope::Alerts, Some(_)) => {
                return Err(ApiError::bad_request("an alerts ticket names no record_id"));
            }
            (scope, Some(id)) => {
                let record = if scope == TicketScope::Status {
                    visible_record(&state, &caller, &id).await?
                } else {
                    readable_record(&state, &caller, &id).await?
                };
                let id = record.view.id.to_string();
                let url = match scope {
                    TicketScope::Status => format!("/api/processing/status/{id}"),
                    _ => format!("/api/audio/{id}"),
                };
                (id, url)
            }
            (scope, None) => {
                return Err(ApiError::bad_request(format!("a {} ticket needs a record_id", scope.as_str())));
            }
        };
        let now = now_ms() / 1000;
        let expires = now.saturating_add(i64::try_from(state.ctx.config.auth.ticket_ttl_seconds).unwrap_or(60));
        let ticket =
            state.tickets.issue(&Ticket { scope: req.scope, record, user: caller.user, role: caller.role, expires });
        let url = format!("{url}?ticket={ticket}");
        let expires_at = crate::domain::record::rfc3339_millis(expires * 1000);
        Ok(TicketResponse { ticket, url, expires_at })
    };
    match run.await {
        Ok(body) => Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response()),
        Err(e) => Err(e.reject()),
    }
}
