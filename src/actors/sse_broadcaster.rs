//! sse-broadcaster: per-record subscribers and the fan-out of status events.
//!
//! Each subscriber gets a bounded channel; one that falls behind is dropped (its
//! stream ends and the client reconnects, receiving the current state first), so a
//! slow reader never holds memory or slows the others.
//!
//! With Redis (distributed mode) it also relays other instances' transitions to
//! its subscribers, and indexes the embeddings of records they completed.

use super::Ctx;
use crate::domain::{RecordId, StatusEvent};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// Events a subscriber may have queued before it counts as too slow.
const SUBSCRIBER_BUFFER: usize = 32;

pub enum SseMsg {
    Subscribe {
        record_id: RecordId,
        reply: RpcReplyPort<mpsc::Receiver<StatusEvent>>,
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
    subscribers: HashMap<RecordId, Vec<mpsc::Sender<StatusEvent>>>,
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
                        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
                        st.subscribers.entry(record_id).or_default().push(tx);
                        let _ = reply.send(rx);
                    }
                    SseMsg::Publish(ev) => {
                        if let Some(subs) = st.subscribers.get_mut(&ev.record_id) {
                            subs.retain(|tx| tx.try_send(ev.clone()).is_ok());
                            if subs.is_empty() || ev.status.is_terminal() {
                                // After a terminal status the streams close; nothing more will come.
                                st.subscribers.remove(&ev.record_id);
                            }
                        }
                    }
                    SseMsg::Sweep => {
                        st.subscribers.retain(|_, subs| {
                            subs.retain(|tx| !tx.is_closed());
                            !subs.is_empty()
                        });
                    }
                }
                Ok(())
            })
            .await
    }
}
