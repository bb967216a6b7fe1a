//! sse-broadcaster: per-record subscribers and the fan-out of status events.
//!
//! Each record with watchers has one bounded broadcast channel of shared events:
//! a subscriber holds only a cursor into it (16 bytes), and publishing an event
//! is one reference count per subscriber, not a copy. A subscriber that falls
//! behind by a whole buffer is lagged out (its stream ends and the client
//! reconnects, receiving the current state first), so a slow reader never holds
//! memory or slows the others.
//!
//! With Redis (distributed mode) it also relays other instances' transitions to
//! its subscribers, and indexes the embeddings of records they completed.

use super::Ctx;
use crate::domain::{RecordId, StatusEvent};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Events a record's channel keeps for its slowest subscriber before that one
/// counts as too slow (a record has at most a dozen transitions per attempt).
const RECORD_BUFFER: usize = 16;

/// What a subscriber receives: events shared by every subscriber of the record.
pub type StatusEvents = broadcast::Receiver<Arc<StatusEvent>>;

pub enum SseMsg {
    Subscribe {
        record_id: RecordId,
        reply: RpcReplyPort<StatusEvents>,
    },
    Publish(StatusEvent),
    /// Forget subscribers that went away.
    Sweep,
}

impl super::instrument::Mailbox for SseMsg {
    const ACTOR: &'static str = "sse-broadcaster";
}

pub struct SseBroadcaster;

pub struct SseState {
    subscribers: HashMap<RecordId, broadcast::Sender<Arc<StatusEvent>>>,
    relay: Option<tokio::task::JoinHandle<()>>,
}

/// Feeds other instances' transitions from Redis into this actor.
fn start_relay(myself: ActorRef<SseMsg>, ctx: Ctx) -> Option<tokio::task::JoinHandle<()>> {
    let bus = ctx.bus.clone()?;
    let mut messages = bus.redis.messages();
    Some(tokio::spawn(async move {
        while let Some(m) = messages.recv().await {
            if m.origin == *ctx.instance_id {
                continue;
            }
            let ev = m.into_event();
            if ev.status == crate::domain::RecordStatus::Completed && !ctx.vectors.shared() {
                // Another instance stored an embedding: this instance's own index learns
                // it now, not at the next sync (a shared index already has it).
                ctx.index_record(&ev.record_id).await;
            }
            if super::instrument::tell(&myself, SseMsg::Publish(ev)).is_err() {
                break;
            }
        }
    }))
}

impl Actor for SseBroadcaster {
    type Msg = SseMsg;
    type State = SseState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<SseMsg>, ctx: Ctx) -> Result<SseState, ActorProcessingErr> {
        super::instrument::every(&myself, Duration::from_secs(10), || SseMsg::Sweep);
        let relay = start_relay(myself, ctx);
        Ok(SseState { subscribers: HashMap::new(), relay })
    }

    async fn post_stop(&self, _me: ActorRef<SseMsg>, st: &mut SseState) -> Result<(), ActorProcessingErr> {
        if let Some(relay) = st.relay.take() {
            relay.abort();
        }
        Ok(())
    }

    async fn handle(&self, myself: ActorRef<SseMsg>, msg: SseMsg, st: &mut SseState) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                match msg {
                    SseMsg::Subscribe { record_id, reply } => {
                        let tx = st.subscribers.entry(record_id).or_insert_with(|| broadcast::channel(RECORD_BUFFER).0);
                        let _ = reply.send(tx.subscribe());
                    }
                    SseMsg::Publish(ev) => {
                        let ev = Arc::new(ev);
                        let Some(tx) = st.subscribers.get(&ev.record_id) else { return Ok(()) };
                        // An error means nobody listens any more; after a terminal status
                        // the streams close and nothing more will come.
                        if tx.send(ev.clone()).is_err() || ev.status.is_terminal() {
                            st.subscribers.remove(&ev.record_id);
                        }
                    }
                    SseMsg::Sweep => {
                        st.subscribers.retain(|_, tx| tx.receiver_count() > 0);
                    }
                }
                Ok(())
            })
            .await
    }
}
