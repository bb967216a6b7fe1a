//! Alerts: Alertmanager's webhook in, admins' list and live stream out.
//!
//! - `POST /api/webhook/alertmanager`: Alertmanager's webhook payload (version 4),
//!   authenticated like the other webhooks (`[webhooks] secret` as a bearer token
//!   or an HMAC; source allowlist). Answered once the alerts are stored; a store
//!   failure answers 503 so Alertmanager sends it again.
//! - `GET /api/admin/alerts?status=&before=&limit=`: stored alerts, newest first,
//!   with their status changes.
//! - `GET /api/admin/alerts/stream`: server-sent events, `event: alert`, the most
//!   recent alerts first (`[alerts] stream_backlog`), then each new alert or status
//!   change as it arrives (`?ticket=` for EventSource: `POST /api/tickets`
//!   `{"scope": "alerts"}`).

use super::auth::{Caller, admin, admin_or_ticket};
use super::records::parse_limit;
use super::{ApiError, AppState, webhook_auth, with_state};
use crate::actors::alert_webhook::AlertMsg;
use crate::actors::ask;
use crate::domain::alert::{self, AlertStatus, AlertView};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;
use warp::Filter;
use warp::reply::{Reply, Response};
use warp::sse::Event;

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let webhook = warp::path!("api" / "webhook" / "alertmanager")
        .and(warp::post())
        .and(webhook_auth::verified_body(state.clone(), "the Alertmanager webhook"))
        .and(with_state(state.clone()))
        .and_then(notify);
    let list = warp::path!("api" / "admin" / "alerts")
        .and(warp::get())
        .and(admin(state.clone()))
        .and(warp::query::<ListQuery>())
        .and(with_state(state.clone()))
        .and_then(list);
    let stream = warp::path!("api" / "admin" / "alerts" / "stream")
        .and(warp::get())
        .and(admin_or_ticket(state.clone()))
        .and(with_state(state))
        .and_then(stream);
    webhook.or(list).or(stream)
}

async fn notify(body: bytes::Bytes, state: AppState) -> Result<Response, warp::Rejection> {
    let alerts = alert::parse(&body).map_err(|e| ApiError::bad_request(e.to_string()).reject())?;
    let outcome = ask(state.ctx.directory.alerts(), "alert-webhook", Duration::from_secs(15), |reply| {
        AlertMsg::Notify { alerts, reply }
    })
    .await
    .map_err(|e| ApiError::from(e).reject())?
    .map_err(|e| ApiError::from(e).reject())?;
    Ok(warp::reply::json(&outcome).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `firing` or `resolved`.
    status: Option<String>,
    /// Alerts with ids below this (the previous page's `next_before`).
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct ListResponse {
    items: Vec<AlertView>,
    /// Pass as `before` for the next page; null on the last page.
    next_before: Option<i64>,
}

async fn list(_admin: Caller, q: ListQuery, state: AppState) -> Result<Response, warp::Rejection> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            AlertStatus::parse(s).ok_or_else(|| ApiError::bad_request("status must be firing or resolved").reject())?,
        ),
    };
    let limit = parse_limit(q.limit).map_err(ApiError::reject)?;
    let items = state.ctx.alerts.alerts(status, q.before, limit).await.map_err(|e| ApiError::from(e).reject())?;
    let next_before = if items.len() as i64 == limit { items.last().map(|a| a.id) } else { None };
    Ok(warp::reply::json(&ListResponse { items, next_before }).into_response())
}

fn to_event(view: &AlertView) -> Event {
    Event::default().event("alert").json_data(view).unwrap_or_else(|_| Event::default().event("alert"))
}

struct Cursor {
    backlog: std::vec::IntoIter<AlertView>,
    /// (alert id, number of changes) already sent from the backlog.
    sent: HashSet<(i64, usize)>,
    rx: broadcast::Receiver<AlertView>,
    /// Counts the stream in `orak_alert_streams` while it is open.
    /// The gauge's guard and the admin's stream slot, held while the stream is open.
    _open: (crate::telemetry::GaugeGuard, super::stream_slots::Slot),
}

async fn stream(admin: Caller, state: AppState) -> Result<Response, warp::Rejection> {
    let slot = super::sse::stream_slot(&state, &admin.user)?;
    // Subscribe first, then read the backlog: a change between the two is in one
    // or both, and the duplicates are skipped.
    let rx = ask(state.ctx.directory.alerts(), "alert-webhook", Duration::from_secs(5), |reply| AlertMsg::Subscribe {
        reply,
    })
    .await
    .map_err(|e| ApiError::from(e).reject())?;
    let limit = state.ctx.config.alerts.stream_backlog.clamp(0, 100);
    let mut backlog = if limit > 0 {
        state.ctx.alerts.alerts(None, None, limit).await.map_err(|e| ApiError::from(e).reject())?
    } else {
        Vec::new()
    };
    backlog.reverse();
    let sent = backlog.iter().map(|a| (a.id, a.changes.len())).collect();
    let cursor = Cursor {
        backlog: backlog.into_iter(),
        sent,
        rx,
        _open: (crate::telemetry::GaugeGuard::new(crate::telemetry::ALERT_STREAMS), slot),
    };
    let events = stream::unfold(cursor, |mut c| async move {
        if let Some(a) = c.backlog.next() {
            return Some((Ok::<Event, Infallible>(to_event(&a)), c));
        }
        loop {
            match c.rx.recv().await {
                Ok(a) if c.sent.remove(&(a.id, a.changes.len())) => continue,
                Ok(a) => return Some((Ok(to_event(&a)), c)),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "admin alert stream fell behind; the list has the rest");
                    continue;
                }
                // The actor restarted: end the stream; EventSource reconnects.
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let keep = Duration::from_secs(state.ctx.config.sse.keepalive_seconds.max(1));
    Ok(warp::sse::reply(warp::sse::keep_alive().interval(keep).stream(events)).into_response())
}
