//! The job source's Kafka mode: a consumer in the workers' group reads the job
//! topics, claims each named record in the database (a duplicate or stale message
//! claims nothing), and hands the job to the analysis pool. It reads only while the
//! pool has free slots — otherwise it pauses its partitions, so waiting work stays
//! in Kafka — and stores a message's offset only once its job is finished here
//! (the outcome is in the database) or given up to the database's lease expiry.

use super::analysis_pool::PoolMsg;
use super::{Ctx, ask};
use crate::clock::now_ms;
use crate::domain::RecordId;
use crate::domain::offsets::{OffsetTracker, Partition};
use crate::domain::outbox::{JOB_TOPICS, JobMessage};
use crate::store::kafka::{ConsumerErrors, QueueError, SharedConsumer, job_consumer, pause_assigned, reread};
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The consumer, its offsets and the task reading it.
pub struct KafkaJobs {
    consumer: SharedConsumer,
    tracker: Arc<Mutex<OffsetTracker>>,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl KafkaJobs {
    pub fn start(ctx: &Ctx) -> Result<Self, QueueError> {
        let consumer = job_consumer(&ctx.config.kafka, &ctx.client_id(), &JOB_TOPICS)?;
        let tracker = Arc::new(Mutex::new(OffsetTracker::default()));
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(run(ctx.clone(), consumer.clone(), tracker.clone(), wake.clone()));
        Ok(KafkaJobs { consumer, tracker, wake, task })
    }

    /// A worker slot may have freed up.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The job of `record` is finished on this instance.
    pub fn finished(&self, record: &RecordId) {
        let ready = lock(&self.tracker).finish(record.as_str());
        store_offsets(&self.consumer, ready);
    }

    /// Offsets of jobs older than twice the lease go to the database's lease expiry.
    pub fn expire(&self, lease_ms: i64) {
        let ready = lock(&self.tracker).expire(now_ms() - 2 * lease_ms);
        store_offsets(&self.consumer, ready);
    }

    /// Stops reading and closes the consumer (it leaves the group), waiting up to
    /// `within` for that.
    pub async fn close(self, within: Duration) {
        let KafkaJobs { consumer, task, .. } = self;
        task.abort();
        // The task's clone of the consumer goes with it.
        let _ = task.await;
        // Were it still shared (it is not), the last holder's drop would close it.
        if let Ok(consumer) = Arc::try_unwrap(consumer) {
            consumer.close(within).await;
        }
    }
}

fn lock(t: &Mutex<OffsetTracker>) -> std::sync::MutexGuard<'_, OffsetTracker> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

fn store_offsets(consumer: &SharedConsumer, ready: Vec<(Partition, i64)>) {
    for ((topic, partition), next) in ready {
        if let Err(e) = consumer.store_offset(&topic, partition, next) {
            // The partition moved to another member: it re-reads from the last commit,
            // and the claims in the database make the repeats harmless.
            tracing::debug!(topic = %topic, partition, error = %e, "offset not stored");
        }
    }
}

async fn set_paused(consumer: &SharedConsumer, pause: bool) {
    match pause_assigned(consumer, pause).await {
        Ok(n) if pause => tracing::debug!(partitions = n, "analysis pool full: job partitions paused"),
        Ok(n) => tracing::debug!(partitions = n, "job partitions resumed"),
        Err(e) => tracing::warn!(error = %e, pause, "could not pause/resume the job partitions"),
    }
}

async fn run(ctx: Ctx, consumer: SharedConsumer, tracker: Arc<Mutex<OffsetTracker>>, wake: Arc<Notify>) {
    let lease_ms = ctx.config.pipeline.lease_ms();
    let idle = Duration::from_millis(500);
    let mut paused = false;
    let mut errors = ConsumerErrors::default();
    loop {
        let free = ask(ctx.directory.pool(), "analysis-pool", Duration::from_secs(5), PoolMsg::FreeSlots).await;
        if !matches!(free, Ok(n) if n > 0) {
            if !paused {
                set_paused(&consumer, true).await;
                paused = true;
            }
            tokio::select! { _ = wake.notified() => {}, _ = tokio::time::sleep(idle) => {} }
            continue;
        }
        if paused {
            set_paused(&consumer, false).await;
            paused = false;
        }
        let received = tokio::select! {
            m = consumer.recv() => m,
            _ = tokio::time::sleep(idle) => continue,
        };
        let (part, offset, parsed) = match received {
            Ok(m) => {
                let parsed = m.payload().map(serde_json::from_slice::<JobMessage>);
                ((m.topic().to_owned(), m.partition()), m.offset(), parsed)
            }
            Err(e) => {
                errors.note("the job topics", &e).await;
                continue;
            }
        };
        let id = match parsed {
            Some(Ok(msg)) => RecordId::parse(&msg.record_id).ok(),
            _ => None,
        };
        let Some(id) = id else {
            tracing::warn!(topic = %part.0, partition = part.1, offset, "skipped an unreadable job message");
            let ready = lock(&tracker).start(part, offset, None, now_ms());
            store_offsets(&consumer, ready);
            continue;
        };
        let now = now_ms();
        match ctx.store.claim_job(&id, &ctx.instance_id, now + lease_ms, now).await {
            Ok(Some((job, event))) => {
                lock(&tracker).start(part, offset, Some(id.as_str()), now);
                ctx.publish([event]);
                let handed = ctx
                    .directory
                    .pool()
                    .map(|p| super::instrument::tell(&p, PoolMsg::Run(job)).is_ok())
                    .unwrap_or(false);
                if !handed {
                    tracing::warn!(record_id = %id, "the pool went away; the lease will expire and the job return");
                }
            }
            Ok(None) => {
                // Already claimed, finished or deleted: a repeat of a message.
                tracing::debug!(record_id = %id, "job message for a record that is not queued");
                let ready = lock(&tracker).start(part, offset, None, now);
                store_offsets(&consumer, ready);
            }
            Err(e) => {
                // Read it again once the database answers.
                tracing::warn!(record_id = %id, error = %e, "claiming a job failed; the message will be read again");
                reread(&consumer, &part.0, part.1, offset).await;
            }
        }
    }
}
