//! Redis (distributed mode), through fred: the channel on which every instance
//! announces the status transitions it commits, so that any instance can serve
//! any record's SSE stream, a short-lived cache of each record's latest status,
//! and the rate limiter's counters (so a limit holds across instances).
//!
//! Redis is a fan-out, never the source of truth: a lost message only delays a
//! stream (the database has the state, and a reconnecting client gets it first),
//! so publishing is best-effort and never fails a transition.

use crate::domain::{RecordId, StatusEvent};
use fred::clients::SubscriberClient;
use fred::prelude::{
    Builder, Client, ClientLike, Config, EventInterface, Expiration, KeysInterface, LuaInterface, PubsubInterface,
    ReconnectPolicy,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::mpsc;

/// `[redis]` in config.toml.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:password@]host:6379/db`; empty: no Redis (one instance).
    pub url: String,
    /// Prefix of every key and channel, so several deployments can share a server.
    pub prefix: String,
    /// Seconds a record's latest status stays cached.
    pub status_ttl_seconds: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig { url: String::new(), prefix: "orak:".into(), status_ttl_seconds: 60 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("bad message on the status channel: {0}")]
    Message(String),
}

/// What travels on the channel: the event, its sequence number (which the
/// event's JSON form leaves out) and the instance that committed it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BusMessage {
    pub origin: String,
    pub seq: i64,
    pub event: StatusEvent,
}

impl BusMessage {
    pub fn new(origin: &str, event: &StatusEvent) -> Self {
        BusMessage { origin: origin.to_owned(), seq: event.seq, event: event.clone() }
    }

    /// The event with its sequence number restored.
    pub fn into_event(self) -> StatusEvent {
        StatusEvent { seq: self.seq, ..self.event }
    }
}

/// Seconds a record's owner stays cached.
const OWNER_TTL_SECONDS: i64 = 24 * 3600;

/// Transitions waiting to be published; past this the newest are dropped (and
/// logged): streams on other instances then catch up from the database.
const PUBLISH_QUEUE: usize = 10_000;

/// Hands transitions to the publishing task without waiting.
#[derive(Clone)]
pub struct BusSender {
    tx: mpsc::Sender<StatusEvent>,
}

impl BusSender {
    pub fn send(&self, ev: StatusEvent) {
        if let Err(e) = self.tx.try_send(ev) {
            tracing::warn!(error = %e, "the Redis publishing queue is full or closed; a transition was not announced");
        }
    }
}

/// The generic cell rate algorithm, as governor runs it locally: a key holds the
/// theoretical arrival time (TAT) of the next request; a request is allowed while
/// it would not push the TAT more than `burst` intervals past now.
const GCRA_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local over = new_tat - now - tolerance
if over > 0 then return over end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return 0
"#;

/// Caches a record's status unless the cached one is newer (a higher seq).
const CACHE_IF_NEWER_SCRIPT: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, old = pcall(cjson.decode, cur)
  if ok and tonumber(old.seq) and tonumber(old.seq) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"#;

/// An alert change on the alerts channel, and the instance that received it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AlertMessage {
    pub origin: String,
    pub alert: serde_json::Value,
}

/// Connected clients: one for commands, one subscribed to the status channel.
pub struct RedisBus {
    client: Client,
    subscriber: SubscriberClient,
    resubscriber: tokio::task::JoinHandle<()>,
    channel: String,
    /// Alerts received by any instance, for every instance's admin streams.
    alert_channel: String,
    prefix: String,
    ttl: i64,
}

impl RedisBus {
    /// Connects both clients (retrying in the background if Redis goes away later).
    pub async fn connect(cfg: &RedisConfig) -> Result<Self, BusError> {
        let config = Config::from_url(&cfg.url)?;
        let policy = ReconnectPolicy::new_exponential(0, 100, 10_000, 2);
        let client = Builder::from_config(config.clone())
            .set_policy(policy.clone())
            .with_connection_config(|c| c.connection_timeout = Duration::from_secs(5))
            .build()?;
        let subscriber = Builder::from_config(config)
            .set_policy(policy)
            .with_connection_config(|c| c.connection_timeout = Duration::from_secs(5))
            .build_subscriber_client()?;
        client.init().await?;
        subscriber.init().await?;
        // Re-subscribes after every reconnect (a task, stopped at `close`).
        let resubscriber = subscriber.manage_subscriptions();
        let channel = format!("{}status", cfg.prefix);
        subscriber.subscribe(channel.as_str()).await?;
        let alert_channel = format!("{}alerts", cfg.prefix);
        subscriber.subscribe(alert_channel.as_str()).await?;
        Ok(RedisBus {
            client,
            subscriber,
            resubscriber,
            channel,
            alert_channel,
            prefix: cfg.prefix.clone(),
            ttl: i64::try_from(cfg.status_ttl_seconds.max(1)).unwrap_or(60),
        })
    }

    fn status_key(&self, id: &RecordId) -> String {
        format!("{}status:{}", self.prefix, id.as_str())
    }

    /// Announces a committed transition to every instance and caches it.
    pub async fn publish(&self, origin: &str, event: &StatusEvent) -> Result<(), BusError> {
        let payload =
            serde_json::to_string(&BusMessage::new(origin, event)).map_err(|e| BusError::Message(e.to_string()))?;
        // Instances publish concurrently: the cache keeps the newest transition (by seq).
        let keys = vec![self.status_key(&event.record_id)];
        let args = vec![payload.clone(), event.seq.to_string(), self.ttl.to_string()];
        let _: i64 = self.client.eval(CACHE_IF_NEWER_SCRIPT, keys, args).await?;
        let _: () = self.client.publish(self.channel.as_str(), payload).await?;
        Ok(())
    }

    fn owner_key(&self, id: &RecordId) -> String {
        format!("{}owner:{}", self.prefix, id.as_str())
    }

    /// Remembers who owns a record (owners never change), for status reads that
    /// skip the database.
    pub async fn cache_owner(&self, id: &RecordId, owner: &str) -> Result<(), BusError> {
        let _: () =
            self.client.set(self.owner_key(id), owner, Some(Expiration::EX(OWNER_TTL_SECONDS)), None, false).await?;
        Ok(())
    }

    /// The cached owner of a record.
    pub async fn cached_owner(&self, id: &RecordId) -> Result<Option<String>, BusError> {
        Ok(self.client.get(self.owner_key(id)).await?)
    }

    /// Drops what is cached about a deleted record.
    pub async fn forget(&self, id: &RecordId) -> Result<(), BusError> {
        let _: i64 = self.client.del(vec![self.owner_key(id), self.status_key(id)]).await?;
        Ok(())
    }

    /// Drops what is kept about a user: their rate-limit counter.
    pub async fn forget_user(&self, user: &str) -> Result<(), BusError> {
        let _: i64 = self.client.del(vec![format!("{}rl:user:{user}", self.prefix)]).await?;
        Ok(())
    }

    /// A record's latest status if it changed within the cache's lifetime.
    pub async fn cached_status(&self, id: &RecordId) -> Result<Option<StatusEvent>, BusError> {
        let raw: Option<String> = self.client.get(self.status_key(id)).await?;
        raw.map(|s| {
            serde_json::from_str::<BusMessage>(&s)
                .map(BusMessage::into_event)
                .map_err(|e| BusError::Message(e.to_string()))
        })
        .transpose()
    }

    /// Every message on `channel` from now on, parsed as JSON, until the returned
    /// receiver is dropped. One that does not parse is logged and skipped; one lost
    /// to a slow reader is logged (`lagged` says what makes up for it).
    fn channel_messages<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        channel: &str,
        capacity: usize,
        lagged: &'static str,
    ) -> mpsc::Receiver<T> {
        let (tx, rx) = mpsc::channel(capacity);
        let mut raw = self.subscriber.message_rx();
        let channel = channel.to_owned();
        tokio::spawn(async move {
            loop {
                let msg = match raw.recv().await {
                    Ok(m) => m,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, channel = %channel, "{lagged}");
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if *msg.channel != *channel {
                    continue;
                }
                match msg.value.as_string().map(|s| serde_json::from_str::<T>(&s)) {
                    Some(Ok(m)) => {
                        if tx.send(m).await.is_err() {
                            break;
                        }
                    }
                    other => {
                        tracing::warn!(channel = %channel, error = ?other.map(|r| r.err()), "skipped a bad message")
                    }
                }
            }
        });
        rx
    }

    /// Every message on the status channel from now on, from any instance
    /// (including this one), until the returned receiver is dropped.
    pub fn messages(&self) -> mpsc::Receiver<BusMessage> {
        self.channel_messages(&self.channel, 1024, "status channel lagged; streams catch up from the database")
    }

    /// Tells every instance about an alert change.
    pub async fn publish_alert(&self, origin: &str, alert: &serde_json::Value) -> Result<(), BusError> {
        let msg = AlertMessage { origin: origin.to_owned(), alert: alert.clone() };
        let payload = serde_json::to_string(&msg).map_err(|e| BusError::Message(e.to_string()))?;
        let _: () = self.client.publish(self.alert_channel.as_str(), payload).await?;
        Ok(())
    }

    /// Alert changes any instance published, until the receiver is dropped.
    pub fn alert_messages(&self) -> mpsc::Receiver<AlertMessage> {
        self.channel_messages(&self.alert_channel, 256, "alert channel lagged; admins see the rest in the list")
    }

    /// Starts the task that publishes this instance's transitions in the order they
    /// were committed (one connection, one queue), and returns its sender.
    pub fn publisher(self: &std::sync::Arc<Self>, origin: &str) -> BusSender {
        let (tx, mut rx) = mpsc::channel::<StatusEvent>(PUBLISH_QUEUE);
        let (bus, origin) = (self.clone(), origin.to_owned());
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if let Err(e) = bus.publish(&origin, &ev).await {
                    tracing::warn!(record_id = %ev.record_id, error = %e, "could not announce a transition on Redis");
                }
            }
        });
        BusSender { tx }
    }

    /// Cheap liveness check (for `/ready`).
    /// One request against the shared rate limit `key` (GCRA, with Redis's clock so
    /// that instances agree): 0 when allowed, else the milliseconds until it would be.
    pub async fn rate_check(&self, key: &str, interval_ms: u64, burst: u32) -> Result<u64, BusError> {
        let keys = vec![format!("{}rl:{key}", self.prefix)];
        let args = vec![interval_ms.to_string(), burst.to_string()];
        let wait: i64 = self.client.eval(GCRA_SCRIPT, keys, args).await?;
        Ok(u64::try_from(wait).unwrap_or(0))
    }

    pub async fn ping(&self) -> Result<(), BusError> {
        let _: String = self.client.ping(None).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.resubscriber.abort();
        let _ = self.subscriber.quit().await;
        let _ = self.client.quit().await;
    }
}
