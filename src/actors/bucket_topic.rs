//! The s3-event actor's Kafka input: SeaweedFS's filer notifications
//! (`[kafka] seaweedfs_topic`, protobuf `EventNotification`s keyed by path).
//! Each created object that the store really holds goes to the s3-event actor,
//! like a webhook's; an offset is stored once its message is applied (or found
//! to be a repeat, or not ours), and a database error re-reads the message.

use super::s3_event::{ObjectCreated, S3EventMsg};
use super::{Ctx, ask};
use crate::domain::RecordId;
use crate::domain::bucket_event::parse_seaweedfs_protobuf;
use crate::store::StoreError;
use crate::store::kafka::{ConsumerErrors, SharedConsumer, notification_consumer, reread};
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use std::time::Duration;

/// Starts the consumer task, when a topic is configured.
pub fn start(ctx: &Ctx) -> Option<tokio::task::JoinHandle<()>> {
    let cfg = &ctx.config.kafka;
    if cfg.brokers.is_empty() || cfg.seaweedfs_topic.is_empty() {
        return None;
    }
    match notification_consumer(cfg, &format!("{}-bucket", ctx.client_id())) {
        Ok(consumer) => {
            tracing::info!(topic = %cfg.seaweedfs_topic, "consuming SeaweedFS's Kafka notifications");
            Some(tokio::spawn(run(ctx.clone(), consumer)))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot consume SeaweedFS's Kafka notifications");
            None
        }
    }
}

/// What became of one message.
enum Applied {
    Done,
    /// Try the message again later (the database or the store did not answer).
    Again,
}

async fn run(ctx: Ctx, consumer: SharedConsumer) {
    let mut errors = ConsumerErrors::default();
    loop {
        let (topic, partition, offset, applied) = match consumer.recv().await {
            Ok(m) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                let applied = apply(&ctx, &key, m.payload().unwrap_or_default()).await;
                (m.topic().to_owned(), m.partition(), m.offset(), applied)
            }
            Err(e) => {
                errors.note("SeaweedFS's notifications", &e).await;
                continue;
            }
        };
        match applied {
            Applied::Done => {
                if let Err(e) = consumer.store_offset(&topic, partition, offset + 1) {
                    tracing::debug!(error = %e, "notification offset not stored");
                }
            }
            Applied::Again => reread(&consumer, &topic, partition, offset).await,
        }
    }
}

async fn apply(ctx: &Ctx, key: &str, payload: &[u8]) -> Applied {
    let note = match parse_seaweedfs_protobuf(key, payload) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(key, error = %e, "skipped an unreadable SeaweedFS notification");
            return Applied::Done;
        }
    };
    for object in note.created {
        if object.bucket.as_deref().is_some_and(|b| b != ctx.config.s3.bucket) {
            continue;
        }
        if RecordId::from_object_key(&object.key).is_err() {
            continue;
        }
        // Trust the store, not the message: the object must be there, at its real size.
        let size = match ctx.objects.size(&object.key).await {
            Ok(Some(size)) => size,
            Ok(None) => {
                tracing::warn!(key = %object.key, "notified object is not in the object store");
                continue;
            }
            Err(e) => {
                tracing::warn!(key = %object.key, error = %e, "object store unavailable; notification kept");
                return Applied::Again;
            }
        };
        let event = ObjectCreated { key: object.key.clone(), size, sha256: String::new() };
        let result = ask(ctx.directory.s3_event(), "s3-event", Duration::from_secs(30), |reply| {
            S3EventMsg::ObjectCreated { event, reply: Some(reply) }
        })
        .await;
        match result {
            Ok(Ok(_)) => tracing::info!(key = %object.key, "upload reported by SeaweedFS's Kafka notification"),
            Ok(Err(StoreError::Conflict(_) | StoreError::NotFound)) => {}
            Ok(Err(e)) => {
                tracing::warn!(key = %object.key, error = %e, "notification not applied; kept");
                return Applied::Again;
            }
            Err(e) => {
                tracing::warn!(key = %object.key, error = %e, "s3-event unavailable; notification kept");
                return Applied::Again;
            }
        }
    }
    Applied::Done
}
