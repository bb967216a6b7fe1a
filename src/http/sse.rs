//! `GET /api/processing/status/{id}`: the record's status as server-sent events.
//! The current state is sent at once, then every transition (events the
//! subscriber has already seen are skipped by sequence number), with keep-alive
//! comments while idle; the stream ends after a terminal status.

use super::auth::{Credentials, credentials};
use super::records::visible_record;
use super::{ApiError, AppState, with_state};
use crate::actors::ask;
use crate::actors::sse_broadcaster::{SseMsg, StatusEvents};
use crate::domain::StatusEvent;
use futures_util::{StreamExt, stream};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use warp::Filter;
use warp::reply::Reply;
use warp::sse::Event;

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "processing" / "status" / String)
        .and(warp::get())
        .and(credentials())
        .and(with_state(state))
        .and_then(status_stream)
}

/// One of `user`'s stream slots, or 429 when they hold them all.
pub fn stream_slot(state: &AppState, user: &str) -> Result<super::stream_slots::Slot, warp::Rejection> {
    state.stream_slots.take(user).ok_or_else(|| {
        let max = state.ctx.config.sse.max_streams_per_user;
        let message = format!("you have {max} live streams open already; close one first");
        ApiError::throttled("too_many_streams", message, 5).reject()
    })
}

fn to_event(ev: &StatusEvent) -> Event {
    Event::default()
        .event("status")
        .id(ev.seq.to_string())
        .json_data(ev)
        .unwrap_or_else(|_| Event::default().event("status"))
}

struct Cursor<G> {
    first: Option<Arc<StatusEvent>>,
    rx: StatusEvents,
    last_seq: i64,
    done: bool,
    /// Held while the stream is open (the open-streams gauge's guard).
    _open: G,
}

/// The record's events for one subscriber: `first` (the current state), then each
/// later transition from `rx` once (by sequence number), until a terminal status.
/// A subscriber a whole buffer behind is lagged out: its stream ends, and a client
/// that reconnects gets the current state first.
fn status_events<G: Send + 'static>(
    first: StatusEvent,
    rx: StatusEvents,
    open: G,
) -> impl futures_util::Stream<Item = Arc<StatusEvent>> + Send + 'static {
    let cursor = Cursor { last_seq: first.seq, first: Some(Arc::new(first)), rx, done: false, _open: open };
    stream::unfold(cursor, |mut c| async move {
        if c.done {
            return None;
        }
        let ev = match c.first.take() {
            Some(ev) => ev,
            None => loop {
                match c.rx.recv().await {
                    Ok(ev) if ev.seq > c.last_seq => break ev,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
                }
            },
        };
        c.last_seq = ev.seq;
        c.done = ev.status.is_terminal();
        Some((ev, c))
    })
}

async fn status_stream(
    id: String,
    credentials: Credentials,
    state: AppState,
) -> Result<warp::reply::Response, warp::Rejection> {
    let caller = credentials.authorize(&state, crate::auth::TicketScope::Status, &id).map_err(ApiError::reject)?;
    // Check access first, subscribe, then read the state: a transition between the
    // two reads is either in the state or in the channel, never in neither.
    visible_record(&state, &caller, &id).await.map_err(ApiError::reject)?;
    let slot = stream_slot(&state, &caller.user)?;
    let record_id = crate::domain::RecordId::parse(&id).map_err(|_| ApiError::not_found("record").reject())?;
    let rx = ask(state.ctx.directory.sse(), "sse-broadcaster", Duration::from_secs(5), |reply| SseMsg::Subscribe {
        record_id,
        reply,
    })
    .await
    .map_err(|e| ApiError::from(e).reject())?;
    let current = visible_record(&state, &caller, &id).await.map_err(ApiError::reject)?;
    let first = current.status_event();
    let open = (crate::telemetry::GaugeGuard::new(crate::telemetry::SSE_CONNECTIONS), slot);
    let events = status_events(first, rx, open).map(|ev| Ok::<Event, Infallible>(to_event(&ev)));
    let keep = Duration::from_secs(state.ctx.config.sse.keepalive_seconds.max(1));
    Ok(warp::sse::reply(warp::sse::keep_alive().interval(keep).stream(events)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RecordId, RecordStatus};
    use tokio::sync::broadcast;

    fn event(seq: i64, status: RecordStatus) -> StatusEvent {
        StatusEvent {
            record_id: RecordId::parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").unwrap(),
            status,
            attempt: 1,
            error: None,
            seq,
        }
    }

    async fn statuses(s: impl futures_util::Stream<Item = Arc<StatusEvent>>) -> Vec<(i64, RecordStatus)> {
        s.map(|e| (e.seq, e.status)).collect().await
    }

    #[tokio::test]
    async fn the_current_state_then_each_later_transition_once_until_the_end() {
        let (tx, rx) = broadcast::channel(16);
        let s = status_events(event(2, RecordStatus::Uploaded), rx, ());
        for (seq, status) in [(1, RecordStatus::Pending), (2, RecordStatus::Uploaded), (3, RecordStatus::Queued)] {
            tx.send(Arc::new(event(seq, status))).unwrap();
        }
        tx.send(Arc::new(event(3, RecordStatus::Queued))).unwrap();
        tx.send(Arc::new(event(4, RecordStatus::Completed))).unwrap();
        tx.send(Arc::new(event(5, RecordStatus::Queued))).unwrap();
        assert_eq!(
            statuses(s).await,
            vec![(2, RecordStatus::Uploaded), (3, RecordStatus::Queued), (4, RecordStatus::Completed)]
        );
    }

    #[tokio::test]
    async fn a_subscriber_a_whole_buffer_behind_is_let_go_and_holds_nothing() {
        let (tx, rx) = broadcast::channel(4);
        let open = Arc::new(());
        let s = status_events(event(1, RecordStatus::Pending), rx, open.clone());
        for seq in 2..10 {
            tx.send(Arc::new(event(seq, RecordStatus::Processing))).unwrap();
        }
        // The current state arrives, then the stream ends rather than skip events silently.
        assert_eq!(statuses(s).await, vec![(1, RecordStatus::Pending)]);
        assert_eq!(Arc::strong_count(&open), 1, "the ended stream let go of its guard");
        assert_eq!(tx.receiver_count(), 0);
    }
}
