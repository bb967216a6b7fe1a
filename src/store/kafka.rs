//! Kafka (distributed mode) through rdkafka: the producer the outbox relay uses,
//! the consumer the job source reads job topics with, and topic creation.
//!
//! Delivery is at-least-once end to end: the producer is idempotent and waits for
//! every in-sync replica (`acks=all`); the consumer stores an offset only when the
//! job source says the message's job is finished, and auto-commits stored offsets.
//!
//! librdkafka calls that wait (destroying a client, asking a consumer for its
//! assignment, seeking) never run on the async runtime's workers: after a broker
//! restart they can wait a minute or for ever, and a worker stuck in one stalls
//! every task scheduled on it. Clients are held in [`Detached`], which destroys
//! them on a thread of their own, and the waiting calls go to `spawn_blocking`.

use crate::domain::outbox::{TOPIC_DLQ, TOPIC_PROCESSING, TOPIC_RESULT, TOPIC_RETRY};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

/// `[kafka]` in config.toml.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// `host:port[,host:port…]`; empty: no Kafka (jobs are claimed from the database).
    pub brokers: String,
    /// Consumer group of the analysis workers (every instance joins it).
    pub group_id: String,
    /// A member that misses heartbeats this long is dropped and its partitions reassigned.
    pub session_timeout_ms: u64,
    pub heartbeat_interval_ms: u64,
    /// Partitions of the job topics when this service creates them.
    pub partitions: i32,
    pub replication: i32,
    /// Create the four topics at start if they do not exist.
    pub create_topics: bool,
    /// How often the outbox relay looks for rows when nothing woke it, ms.
    pub outbox_interval_ms: u64,
    /// The topic SeaweedFS's filer publishes its notifications on
    /// (`notification.toml`, `[notification.kafka]`); the s3-event actor consumes
    /// it in the group `<group_id>-bucket-events`. Empty: not consumed.
    pub seaweedfs_topic: String,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: String::new(),
            group_id: "orakgaraki-analysis".into(),
            session_timeout_ms: 10_000,
            heartbeat_interval_ms: 3_000,
            partitions: 6,
            replication: 1,
            create_topics: true,
            outbox_interval_ms: 500,
            seaweedfs_topic: String::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("creating topic {topic}: {code}")]
    Topic { topic: String, code: RDKafkaErrorCode },
    #[error("kafka: no answer within {0:?}")]
    TimedOut(Duration),
    #[error("kafka: a blocking call failed: {0}")]
    Blocking(String),
}

/// Longest wait for any one request to a broker. librdkafka's default is a
/// minute; a broker that restarts accepts connections before it answers, and a
/// request sent then would hold its caller that long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A librdkafka client destroyed on a thread of its own when dropped.
///
/// `rd_kafka_destroy` joins the client's threads and can wait on requests to a
/// broker that restarted (librdkafka #3470, #4674): for a minute, or for ever.
/// Dropped on a runtime worker, that would stall every task queued on it. No crate
/// offers this (rdkafka's own `Drop` is synchronous), hence the small wrapper.
pub struct Detached<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> Detached<T> {
    pub fn new(client: T) -> Self {
        Detached(Some(client))
    }

    /// Destroys the client on its own thread and waits up to `within` for it
    /// (a consumer leaving its group at shutdown hands its partitions over at
    /// once rather than after the session timeout).
    pub async fn close(mut self, within: Duration) {
        let Some(client) = self.0.take() else { return };
        let (done, closed) = tokio::sync::oneshot::channel();
        if close_on_thread(client, move || {
            let _ = done.send(());
        }) && tokio::time::timeout(within, closed).await.is_err()
        {
            tracing::warn!(seconds = within.as_secs_f64(), "a Kafka client is still closing; not waiting longer");
        }
    }
}

/// Drops `client` on a new thread, then runs `then` there; false when no thread
/// could be started (the client was then dropped in place, and `then` never runs).
fn close_on_thread<T: Send + 'static>(client: T, then: impl FnOnce() + Send + 'static) -> bool {
    let closing = std::thread::Builder::new().name("kafka-close".into()).spawn(move || {
        drop(client);
        then();
    });
    if let Err(e) = &closing {
        // The closure, and the client in it, was dropped here instead.
        tracing::warn!(error = %e, "no thread to close a Kafka client on; closed it in place");
    }
    closing.is_ok()
}

/// Runs a librdkafka call that waits on a blocking thread.
async fn blocking<R: Send + 'static>(
    call: impl FnOnce() -> Result<R, QueueError> + Send + 'static,
) -> Result<R, QueueError> {
    tokio::task::spawn_blocking(call).await.map_err(|e| QueueError::Blocking(e.to_string()))?
}

/// Awaits `reply` from librdkafka for at most `wait`.
async fn bounded<T>(wait: Duration, reply: impl std::future::Future<Output = T>) -> Result<T, QueueError> {
    tokio::time::timeout(wait, reply).await.map_err(|_| QueueError::TimedOut(wait))
}

impl<T: Send + 'static> Deref for Detached<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Only `drop` takes the client out.
        self.0.as_ref().expect("a Detached client is present until dropped")
    }
}

impl<T: Send + 'static> Drop for Detached<T> {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            close_on_thread(client, || {});
        }
    }
}

/// A consumer shared by its reading task and its owner.
pub type SharedConsumer = Arc<Detached<StreamConsumer>>;

fn base(cfg: &KafkaConfig, client_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("client.id", client_id)
        // A subscription to a topic that does not exist yet (created by the first
        // instance's outbox relay, or by SeaweedFS) is picked up within seconds,
        // not librdkafka's default five minutes.
        .set("topic.metadata.refresh.interval.ms", "2000")
        .set("socket.timeout.ms", REQUEST_TIMEOUT.as_millis().to_string());
    c
}

/// Produces outbox rows, one delivery confirmation at a time.
pub struct JobProducer {
    producer: Detached<FutureProducer>,
}

impl JobProducer {
    pub fn new(cfg: &KafkaConfig, client_id: &str) -> Result<Self, QueueError> {
        let producer = base(cfg, client_id)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", REQUEST_TIMEOUT.as_millis().to_string())
            .set("linger.ms", "5")
            .create()?;
        Ok(JobProducer { producer: Detached::new(producer) })
    }

    /// A fatal error (e.g. a restarted broker that forgot this idempotent
    /// producer's id and sequence): the producer can send nothing more and must be
    /// replaced.
    pub fn fatal_error(&self) -> Option<String> {
        rdkafka::producer::Producer::client(&*self.producer)
            .fatal_error()
            .map(|(code, reason)| format!("{code:?}: {reason}"))
    }

    /// Sends one message and waits until the broker has it.
    pub async fn send(&self, topic: &str, key: &str, payload: &str) -> Result<(), QueueError> {
        let record = FutureRecord::to(topic).key(key).payload(payload);
        // librdkafka reports every message within `message.timeout.ms` (plus the
        // local queue's wait); the bound here is for the case it does not.
        let wait = 3 * REQUEST_TIMEOUT;
        bounded(wait, self.producer.send(record, Timeout::After(REQUEST_TIMEOUT)))
            .await?
            .map_err(|(e, _)| QueueError::Kafka(e))?;
        Ok(())
    }
}

/// A consumer of the job topics in the workers' group. Offsets are stored by the
/// caller (`store_offset`) and committed in the background.
pub fn job_consumer(cfg: &KafkaConfig, client_id: &str, topics: &[&str]) -> Result<SharedConsumer, QueueError> {
    let consumer: StreamConsumer = base(cfg, client_id)
        .set("group.id", &cfg.group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", cfg.session_timeout_ms.to_string())
        .set("heartbeat.interval.ms", cfg.heartbeat_interval_ms.to_string())
        // Little read-ahead: while the pool is full the partitions are paused, and
        // waiting work stays in Kafka rather than in this process.
        .set("queued.max.messages.kbytes", "1024")
        .create()?;
    consumer.subscribe(topics)?;
    Ok(Arc::new(Detached::new(consumer)))
}

/// The errors a consumer's `recv` returns. librdkafka queues one per broker
/// connection event while a broker is down, and they wait in the queue until read:
/// read one a second, a minute of outage took minutes to get through after the
/// broker was back. So they are read at once, and logged at most every
/// [`ConsumerErrors::EVERY`] with how many came.
#[derive(Default)]
pub struct ConsumerErrors {
    logged: Option<std::time::Instant>,
    unlogged: u64,
}

impl ConsumerErrors {
    pub const EVERY: Duration = Duration::from_secs(10);

    /// Notes one error of the consumer reading `what`; logs it if it is time to.
    pub async fn note(&mut self, what: &str, error: &KafkaError) {
        let now = std::time::Instant::now();
        if self.logged.is_none_or(|t| now.duration_since(t) >= Self::EVERY) {
            tracing::warn!(error = %error, more = self.unlogged, "reading {what} failed");
            self.logged = Some(now);
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        // Not a wait for the cause to pass (librdkafka reports at its own pace):
        // only never a busy loop.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Pauses (or resumes) every partition assigned to `consumer`; returns how many.
/// Asking for the assignment waits on librdkafka's main thread, hence a blocking task.
pub async fn pause_assigned(consumer: &SharedConsumer, pause: bool) -> Result<usize, QueueError> {
    let consumer = consumer.clone();
    blocking(move || {
        let assigned = consumer.assignment()?;
        if pause {
            consumer.pause(&assigned)?;
        } else {
            consumer.resume(&assigned)?;
        }
        Ok(assigned.count())
    })
    .await
}

/// Sets a partition back to `offset`, so that message is read again (after a
/// failure the caller will retry); waits a second first, not to spin while the
/// cause lasts.
pub async fn reread(consumer: &SharedConsumer, topic: &str, partition: i32, offset: i64) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (c, t) = (consumer.clone(), topic.to_owned());
    let seek = blocking(move || {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&t, partition, Offset::Offset(offset))?;
        c.seek_partitions(tpl, Duration::from_secs(5))?;
        Ok(())
    })
    .await;
    if let Err(e) = seek {
        // The partition may have moved to another member, which reads it from the last commit.
        tracing::warn!(topic, partition, offset, error = %e, "could not rewind the partition");
    }
}

/// A consumer of SeaweedFS's notification topic; offsets stored by the caller.
pub fn notification_consumer(cfg: &KafkaConfig, client_id: &str) -> Result<SharedConsumer, QueueError> {
    let consumer: StreamConsumer = base(cfg, client_id)
        .set("group.id", format!("{}-bucket-events", cfg.group_id))
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", cfg.session_timeout_ms.to_string())
        .set("heartbeat.interval.ms", cfg.heartbeat_interval_ms.to_string())
        .create()?;
    consumer.subscribe(&[cfg.seaweedfs_topic.as_str()])?;
    Ok(Arc::new(Detached::new(consumer)))
}

/// Creates the four job topics when they are missing: one admin client for the
/// relay's life (not one per attempt: each would be a client to destroy).
pub struct TopicAdmin {
    admin: Detached<AdminClient<DefaultClientContext>>,
    partitions: i32,
    replication: i32,
}

impl TopicAdmin {
    pub fn new(cfg: &KafkaConfig, client_id: &str) -> Result<Self, QueueError> {
        let admin = base(cfg, &format!("{client_id}-admin")).create()?;
        Ok(TopicAdmin {
            admin: Detached::new(admin),
            partitions: cfg.partitions.max(1),
            replication: cfg.replication.max(1),
        })
    }

    /// Creates whichever of the four topics do not exist.
    pub async fn ensure(&self) -> Result<(), QueueError> {
        let topics: Vec<NewTopic<'_>> = [TOPIC_PROCESSING, TOPIC_RETRY, TOPIC_DLQ, TOPIC_RESULT]
            .iter()
            .map(|t| NewTopic::new(t, self.partitions, TopicReplication::Fixed(self.replication)))
            .collect();
        let opts = AdminOptions::new()
            .operation_timeout(Some(Timeout::After(REQUEST_TIMEOUT)))
            .request_timeout(Some(Timeout::After(REQUEST_TIMEOUT)));
        // Bounded here too: the answer comes through librdkafka's queue.
        let wait = 2 * REQUEST_TIMEOUT;
        let results = bounded(wait, self.admin.create_topics(&topics, &opts)).await??;
        for result in results {
            match result {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => return Err(QueueError::Topic { topic, code }),
            }
        }
        Ok(())
    }
}
