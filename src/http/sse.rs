//! `GET /api/processing/status/{id}`: the record's status as server-sent events.
//! The current state is sent at once, then every transition (events the
//! subscriber has already seen are skipped by sequence number), with keep-alive
//! comments while idle; the stream ends after a terminal status.

use super::auth::{Caller, caller_or_query};
use super::records::visible_record;
use super::{ApiError, AppState, with_state};
use crate::actors::ask;
use crate::actors::sse_broadcaster::SseMsg;
use crate::domain::StatusEvent;
use futures_util::stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::mpsc;
use warp::Filter;
use warp::reply::Reply;
use warp::sse::Event;

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "processing" / "status" / String)
        .and(warp::get())
        .and(caller_or_query(state.clone()))
        .and(with_state(state))
        .and_then(status_stream)
}

fn to_event(ev: &StatusEvent) -> Event {
    Event::default()
        .event("status")
        .id(ev.seq.to_string())
        .json_data(ev)
        .unwrap_or_else(|_| Event::default().event("status"))
}

struct Cursor {
    first: Option<StatusEvent>,
    rx: mpsc::Receiver<StatusEvent>,
    last_seq: i64,
    done: bool,
    /// Counts the stream in `orak_sse_connections` while it is open.
    _open: crate::telemetry::GaugeGuard,
}

async fn status_stream(id: String, caller: Caller, state: AppState) -> Result<warp::reply::Response, warp::Rejection> {
    // Check access first, subscribe, then read the state: a transition between the
    // two reads is either in the state or in the channel, never in neither.
    visible_record(&state, &caller, &id).await.map_err(ApiError::reject)?;
    let record_id = crate::domain::RecordId::parse(&id).map_err(|_| ApiError::not_found("record").reject())?;
    let rx = ask(state.ctx.directory.sse(), "sse-broadcaster", Duration::from_secs(5), |reply| SseMsg::Subscribe {
        record_id,
        reply,
    })
    .await
    .map_err(|e| ApiError::from(e).reject())?;
    let current = visible_record(&state, &caller, &id).await.map_err(ApiError::reject)?;
    let first = current.status_event();
    let cursor = Cursor {
        last_seq: first.seq,
        first: Some(first),
        rx,
        done: false,
        _open: crate::telemetry::GaugeGuard::new(crate::telemetry::SSE_CONNECTIONS),
    };
    let events = stream::unfold(cursor, |mut c| async move {
        if c.done {
            return None;
        }
        let ev = match c.first.take() {
            Some(ev) => ev,
            None => loop {
                let ev = c.rx.recv().await?;
                if ev.seq > c.last_seq {
                    break ev;
                }
            },
        };
        c.last_seq = ev.seq;
        c.done = ev.status.is_terminal();
        Some((Ok::<Event, Infallible>(to_event(&ev)), c))
    });
    let keep = Duration::from_secs(state.ctx.config.sse.keepalive_seconds.max(1));
    Ok(warp::sse::reply(warp::sse::keep_alive().interval(keep).stream(events)).into_response())
}
