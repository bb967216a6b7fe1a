//! Kafka (distributed mode) through rdkafka: the producer the outbox relay uses,
//! the consumer the job source reads job topics with, and topic creation.
//!
//! Delivery is at-least-once end to end: the producer is idempotent and waits for
//! every in-sync replica (`acks=all`); the consumer stores an offset only when the
//! job source says the message's job is finished, and auto-commits stored offsets.

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
}

fn base(cfg: &KafkaConfig, client_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("client.id", client_id)
        // A subscription to a topic that does not exist yet (created by the first
        // instance's outbox relay, or by SeaweedFS) is picked up within seconds,
        // not librdkafka's default five minutes.
        .set("topic.metadata.refresh.interval.ms", "2000");
    c
}

/// Produces outbox rows, one delivery confirmation at a time.
pub struct JobProducer {
    producer: FutureProducer,
}

impl JobProducer {
    pub fn new(cfg: &KafkaConfig, client_id: &str) -> Result<Self, QueueError> {
        let producer = base(cfg, client_id)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "10000")
            .set("linger.ms", "5")
            .create()?;
        Ok(JobProducer { producer })
    }

    /// A fatal error (e.g. a restarted broker that forgot this idempotent
    /// producer's id and sequence): the producer can send nothing more and must be
    /// replaced.
    pub fn fatal_error(&self) -> Option<String> {
        rdkafka::producer::Producer::client(&self.producer)
            .fatal_error()
            .map(|(code, reason)| format!("{code:?}: {reason}"))
    }

    /// Sends one message and waits until the broker has it.
    pub async fn send(&self, topic: &str, key: &str, payload: &str) -> Result<(), QueueError> {
        self.producer
            .send(FutureRecord::to(topic).key(key).payload(payload), Timeout::After(Duration::from_secs(10)))
            .await
            .map_err(|(e, _)| QueueError::Kafka(e))?;
        Ok(())
    }
}

/// A consumer of the job topics in the workers' group. Offsets are stored by the
/// caller (`store_offset`) and committed in the background.
pub fn job_consumer(cfg: &KafkaConfig, client_id: &str, topics: &[&str]) -> Result<StreamConsumer, QueueError> {
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
    Ok(consumer)
}

/// Sets a partition back to `offset`, so that message is read again (after a
/// failure the caller will retry); waits a second first, not to spin while the
/// cause lasts.
pub async fn reread(consumer: &StreamConsumer, topic: &str, partition: i32, offset: i64) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut tpl = TopicPartitionList::new();
    let seek = tpl
        .add_partition_offset(topic, partition, Offset::Offset(offset))
        .and_then(|()| consumer.seek_partitions(tpl, Duration::from_secs(5)).map(|_| ()));
    if let Err(e) = seek {
        // The partition may have moved to another member, which reads it from the last commit.
        tracing::warn!(topic, partition, offset, error = %e, "could not rewind the partition");
    }
}

/// A consumer of SeaweedFS's notification topic; offsets stored by the caller.
pub fn notification_consumer(cfg: &KafkaConfig, client_id: &str) -> Result<StreamConsumer, QueueError> {
    let consumer: StreamConsumer = base(cfg, client_id)
        .set("group.id", format!("{}-bucket-events", cfg.group_id))
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", cfg.session_timeout_ms.to_string())
        .set("heartbeat.interval.ms", cfg.heartbeat_interval_ms.to_string())
        .create()?;
    consumer.subscribe(&[cfg.seaweedfs_topic.as_str()])?;
    Ok(consumer)
}

/// Creates the four job topics if they are missing.
pub async fn ensure_topics(cfg: &KafkaConfig) -> Result<(), QueueError> {
    let admin: AdminClient<DefaultClientContext> = base(cfg, "orakgaraki-admin").create()?;
    let topics: Vec<NewTopic<'_>> = [TOPIC_PROCESSING, TOPIC_RETRY, TOPIC_DLQ, TOPIC_RESULT]
        .iter()
        .map(|t| NewTopic::new(t, cfg.partitions.max(1), TopicReplication::Fixed(cfg.replication.max(1))))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Timeout::After(Duration::from_secs(10))));
    for result in admin.create_topics(&topics, &opts).await? {
        match result {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(QueueError::Topic { topic, code }),
        }
    }
    Ok(())
}
