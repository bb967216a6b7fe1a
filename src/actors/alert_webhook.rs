//! alert-webhook: what Alertmanager reports. Stores each alert and its status
//! changes (the database is the record of what fired), streams the news to
//! admins' alert streams (and, with Redis, to the other instances' streams), and
//! forwards a readable message per change to a Mattermost incoming webhook.
//!
//! Forwarding never holds up the webhook: the endpoint is answered once the
//! alerts are stored; messages wait in a bounded FIFO and go out one at a time,
//! in order, each POST in its own task, retried with exponential backoff until
//! `[alerts] forward_attempts` is spent. A full queue drops the newest message
//! (the alert itself is stored; the drop is logged and counted).

use super::Ctx;
use crate::clock::now_ms;
use crate::domain::alert::{AlertView, IncomingAlert};
use crate::store::StoreError;
use crate::telemetry;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::broadcast;

/// Alert changes an admin stream may fall behind by before it skips some.
const STREAM_BUFFER: usize = 256;

pub enum AlertMsg {
    /// Alerts from one webhook call: stored before the answer.
    Notify { alerts: Vec<IncomingAlert>, reply: RpcReplyPort<Result<NotifyOutcome, StoreError>> },
    /// A receiver of every alert change from now on.
    Subscribe { reply: RpcReplyPort<broadcast::Receiver<AlertView>> },
    /// An alert change another instance received (Redis).
    Relayed(Box<AlertView>),
    /// The forward in flight finished.
    Forwarded(Result<(), String>),
    /// Time to try the message at the head of the queue again.
    Retry,
}

impl super::instrument::Mailbox for AlertMsg {
    const ACTOR: &'static str = "alert-webhook";
}

/// What one webhook call changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NotifyOutcome {
    /// Alerts in the notification.
    pub received: usize,
    /// New alerts and status changes (stored, streamed, forwarded).
    pub changed: usize,
    /// Repeats of a known status (Alertmanager re-sends firing alerts).
    pub repeated: usize,
}

pub struct AlertWebhook;

pub struct AlertState {
    ctx: Ctx,
    streams: broadcast::Sender<AlertView>,
    client: reqwest::Client,
    /// Messages to forward, oldest first; the head is in flight or waiting to retry.
    queue: VecDeque<AlertView>,
    busy: bool,
    /// Failed tries of the head.
    tries: u32,
    relay: Option<tokio::task::JoinHandle<()>>,
}

/// Feeds other instances' alert changes from Redis into this actor.
fn start_relay(myself: ActorRef<AlertMsg>, ctx: &Ctx) -> Option<tokio::task::JoinHandle<()>> {
    let bus = ctx.bus.clone()?;
    let me = ctx.instance_id.clone();
    let mut messages = bus.redis.alert_messages();
    Some(tokio::spawn(async move {
        while let Some(m) = messages.recv().await {
            if m.origin == *me {
                continue;
            }
            match serde_json::from_value::<AlertView>(m.alert) {
                Ok(view) => {
                    if super::instrument::tell(&myself, AlertMsg::Relayed(Box::new(view))).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "skipped a bad alert from another instance"),
            }
        }
    }))
}

impl AlertState {
    /// Queues a change for chat (when a chat URL is set) and starts sending.
    fn enqueue(&mut self, myself: &ActorRef<AlertMsg>, view: AlertView) {
        let cfg = &self.ctx.config.alerts;
        if cfg.mattermost_url.is_empty() {
            return;
        }
        if self.queue.len() >= cfg.forward_queue.max(1) {
            tracing::error!(
                alert = %view.name,
                status = view.status.as_str(),
                queued = self.queue.len(),
                "alert forward queue full; message dropped",
            );
            metrics::counter!(telemetry::ALERT_FORWARDS, "outcome" => "dropped").increment(1);
            return;
        }
        self.queue.push_back(view);
        self.pump(myself);
    }

    /// Sends the head of the queue unless a send is already under way.
    fn pump(&mut self, myself: &ActorRef<AlertMsg>) {
        if self.busy {
            return;
        }
        let Some(head) = self.queue.front() else { return };
        self.busy = true;
        let cfg = &self.ctx.config.alerts;
        let body = serde_json::json!({ "text": head.chat_message(), "username": cfg.mattermost_username });
        let request = self
            .client
            .post(&cfg.mattermost_url)
            .timeout(Duration::from_secs(cfg.forward_timeout_seconds.max(1)))
            .json(&body);
        let me = myself.clone();
        tokio::spawn(async move {
            let result = match request.send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("chat webhook answered {}", r.status())),
                Err(e) => Err(format!("chat webhook unreachable: {e}")),
            };
            let _ = super::instrument::tell(&me, AlertMsg::Forwarded(result));
        });
    }

    /// Delay before retry number `tries` (1-based): doubling from the base, capped.
    fn backoff(&self, tries: u32) -> Duration {
        let cfg = &self.ctx.config.alerts;
        let ms = cfg.forward_backoff_ms.max(1).saturating_mul(1u64 << (tries.saturating_sub(1)).min(20));
        Duration::from_millis(ms.min(cfg.forward_backoff_cap_ms.max(1)))
    }
}

impl Actor for AlertWebhook {
    type Msg = AlertMsg;
    type State = AlertState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<AlertMsg>, ctx: Ctx) -> Result<AlertState, ActorProcessingErr> {
        let client = reqwest::Client::builder().build()?;
        let relay = start_relay(myself, &ctx);
        let (streams, _) = broadcast::channel(STREAM_BUFFER);
        Ok(AlertState { ctx, streams, client, queue: VecDeque::new(), busy: false, tries: 0, relay })
    }

    async fn post_stop(&self, _me: ActorRef<AlertMsg>, st: &mut AlertState) -> Result<(), ActorProcessingErr> {
        if let Some(relay) = st.relay.take() {
            relay.abort();
        }
        if !st.queue.is_empty() {
            tracing::warn!(unsent = st.queue.len(), "alert-webhook stopped with messages not yet forwarded");
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<AlertMsg>,
        msg: AlertMsg,
        st: &mut AlertState,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself).run(async move {
        match msg {
            AlertMsg::Notify { alerts, reply } => {
                let mut out = NotifyOutcome { received: alerts.len(), ..NotifyOutcome::default() };
                for alert in &alerts {
                    let changed = match st.ctx.alerts.record_alert(alert, now_ms()).await {
                        Ok(c) => c,
                        Err(e) => {
                            // Not answered 200: Alertmanager sends the notification again.
                            tracing::warn!(error = %e, alert = %alert.name, "could not store an alert");
                            let _ = reply.send(Err(e));
                            return Ok(());
                        }
                    };
                    let Some(view) = changed else {
                        out.repeated += 1;
                        continue;
                    };
                    out.changed += 1;
                    tracing::info!(
                        alert = %view.name,
                        status = view.status.as_str(),
                        severity = %view.severity,
                        fingerprint = %view.fingerprint,
                        "alert",
                    );
                    metrics::counter!(telemetry::ALERTS_RECEIVED, "status" => view.status.as_str()).increment(1);
                    let _ = st.streams.send(view.clone());
                    if let Some(bus) = &st.ctx.bus {
                        let origin = st.ctx.instance_id.clone();
                        let redis = bus.redis.clone();
                        let payload = serde_json::to_value(&view).unwrap_or_default();
                        tokio::spawn(async move {
                            if let Err(e) = redis.publish_alert(&origin, &payload).await {
                                tracing::warn!(error = %e, "could not tell other instances about an alert");
                            }
                        });
                    }
                    st.enqueue(&myself, view);
                }
                let _ = reply.send(Ok(out));
            }
            AlertMsg::Subscribe { reply } => {
                let _ = reply.send(st.streams.subscribe());
            }
            AlertMsg::Relayed(view) => {
                let _ = st.streams.send(*view);
            }
            AlertMsg::Forwarded(Ok(())) => {
                st.busy = false;
                st.tries = 0;
                st.queue.pop_front();
                metrics::counter!(telemetry::ALERT_FORWARDS, "outcome" => "sent").increment(1);
                st.pump(&myself);
            }
            AlertMsg::Forwarded(Err(error)) => {
                st.tries += 1;
                let max = st.ctx.config.alerts.forward_attempts.max(1);
                let name = st.queue.front().map(|v| v.name.clone()).unwrap_or_default();
                if st.tries >= max {
                    tracing::error!(alert = %name, tries = st.tries, error = %error, "alert not forwarded; giving up");
                    metrics::counter!(telemetry::ALERT_FORWARDS, "outcome" => "given_up").increment(1);
                    st.busy = false;
                    st.tries = 0;
                    st.queue.pop_front();
                    st.pump(&myself);
                } else {
                    let delay = st.backoff(st.tries);
                    tracing::warn!(
                        alert = %name,
                        tries = st.tries,
                        retry_in_ms = delay.as_millis() as u64,
                        error = %error,
                        "alert forward failed; will retry",
                    );
                    metrics::counter!(telemetry::ALERT_FORWARDS, "outcome" => "retried").increment(1);
                    super::instrument::after(&myself, delay, || AlertMsg::Retry);
                }
            }
            AlertMsg::Retry => {
                st.busy = false;
                st.pump(&myself);
            }
        }
        Ok(())
        }).await
    }
}
