//! batch-sweeper: finds and repairs what fell through the cracks (the seed's
//! 5-minute batch job). Every repair is logged and counted
//! (`orak_sweeper_repairs_total{kind}`).
//!
//! - Often (`pipeline.sweep_interval_ms`): PROCESSING records whose lease expired
//!   (the worker or its process died) go back to the queue, or to the dead letters
//!   once out of attempts — `kind="lease_expired"`.
//! - Every `sweeper.interval_seconds`:
//!   - PENDING uploads whose object is in the store but whose event never came
//!     are treated as uploaded — `kind="missed_event"`;
//!   - PENDING uploads past `uploads.pending_ttl_seconds` are removed, row and
//!     object — `kind="expired_upload"`;
//!   - with Kafka, records QUEUED longer than `sweeper.stuck_queued_seconds` are
//!     announced again (the message may have been lost with a broker) —
//!     `kind="stuck_queued"`; without, the job source reads the table itself and
//!     a long wait is only reported (a backlog);
//!   - dead-letter audit rows older than `sweeper.audit_retention_days` lose
//!     their owner and filename — `kind="audit_expired"`;
//!   - the records-by-status, dead-letter and index-size gauges are refreshed.

use super::Ctx;
use super::s3_event::{ObjectCreated, S3EventMsg};
use crate::clock::now_ms;
use crate::domain::RecordStatus;
use crate::store::LeaseScope;
use crate::telemetry;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::time::Duration;

/// Most records one batch looks at per kind of repair.
const BATCH_LIMIT: i64 = 1000;

pub enum SweeperMsg {
    /// Take back expired leases.
    Leases,
    /// The batch repairs and the gauges.
    Batch,
}

impl super::instrument::Mailbox for SweeperMsg {
    const ACTOR: &'static str = "batch-sweeper";
}

pub struct BatchSweeper;

impl Actor for BatchSweeper {
    type Msg = SweeperMsg;
    type State = Ctx;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<SweeperMsg>, ctx: Ctx) -> Result<Ctx, ActorProcessingErr> {
        super::instrument::every(&myself, Duration::from_millis(ctx.config.pipeline.sweep_interval_ms.max(10)), || {
            SweeperMsg::Leases
        });
        super::instrument::every(&myself, Duration::from_secs(ctx.config.sweeper.interval_seconds.max(1)), || {
            SweeperMsg::Batch
        });
        // A first batch soon after start: what fell through while the service was down.
        super::instrument::after(&myself, Duration::from_secs(1), || SweeperMsg::Batch);
        Ok(ctx)
    }

    async fn handle(
        &self,
        myself: ActorRef<SweeperMsg>,
        msg: SweeperMsg,
        ctx: &mut Ctx,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                match msg {
                    SweeperMsg::Leases => expired_leases(ctx).await,
                    SweeperMsg::Batch => {
                        missed_events(ctx).await;
                        expired_uploads(ctx).await;
                        stuck_queued(ctx).await;
                        audit_retention(ctx).await;
                        gauges(ctx).await;
                    }
                }
                Ok(())
            })
            .await
    }
}

fn repaired(kind: &'static str, n: usize) {
    if n > 0 {
        metrics::counter!(telemetry::SWEEPER_REPAIRS, "kind" => kind).increment(n as u64);
    }
}

fn ms(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX / 2_000) * 1000
}

async fn expired_leases(ctx: &Ctx) {
    let result = ctx.store.reclaim_leases(now_ms(), LeaseScope::Expired, ctx.config.retry.max_attempts()).await;
    // This query runs every sweep interval: it doubles as the database probe.
    metrics::gauge!(telemetry::DATABASE_UP).set(if result.is_ok() { 1.0 } else { 0.0 });
    match result {
        Ok(events) if !events.is_empty() => {
            let ids: Vec<String> = events.iter().map(|e| e.record_id.to_string()).collect();
            tracing::warn!(repair = "lease_expired", count = events.len(), records = ?ids, "took back expired leases");
            repaired("lease_expired", events.len());
            ctx.publish(events);
            ctx.directory.wake_job_source();
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "reclaiming expired leases failed"),
    }
}

async fn audit_retention(ctx: &Ctx) {
    let days = ctx.config.sweeper.audit_retention_days;
    let cutoff = now_ms() - ms(days.saturating_mul(86_400));
    match ctx.dead_letters.forget_audit_identities(cutoff).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(
                repair = "audit_expired",
                count = n,
                days,
                "audit rows past retention lost their owner and filename"
            );
            repaired("audit_expired", n as usize);
        }
        Err(e) => tracing::warn!(error = %e, "expiring the audit's identities failed"),
    }
}

async fn missed_events(ctx: &Ctx) {
    let cutoff = now_ms() - ms(ctx.config.sweeper.missed_event_after_seconds);
    let pending = match ctx.store.pending_uploads(cutoff, BATCH_LIMIT).await {
        Ok(p) => p,
        Err(e) => return tracing::warn!(error = %e, "listing unfinished uploads failed"),
    };
    let mut found = 0;
    for (id, key) in pending {
        match ctx.objects.size(&key).await {
            Ok(Some(size)) => {
                let Some(s3) = ctx.directory.s3_event() else {
                    return tracing::warn!("s3-event actor down; missed uploads are picked up by the next sweep");
                };
                tracing::warn!(
                    repair = "missed_event",
                    record_id = %id,
                    key,
                    size,
                    "the object arrived but its event never came; queuing it",
                );
                let event = ObjectCreated { key, size, sha256: String::new() };
                if super::instrument::tell(&s3, S3EventMsg::ObjectCreated { event, reply: None }).is_ok() {
                    found += 1;
                    metrics::counter!(telemetry::UPLOADS, "path" => "found").increment(1);
                }
            }
            Ok(None) => {}
            Err(e) => {
                return tracing::warn!(error = %e, "object store unreachable; missed uploads wait for the next sweep");
            }
        }
    }
    repaired("missed_event", found);
}

async fn expired_uploads(ctx: &Ctx) {
    let cutoff = now_ms() - ms(ctx.config.uploads.pending_ttl_seconds);
    match ctx.store.expire_pending(cutoff).await {
        Ok(keys) => {
            for key in &keys {
                if let Err(e) = ctx.objects.delete(key).await {
                    tracing::warn!(key, error = %e, "could not remove an expired upload's object");
                }
            }
            if !keys.is_empty() {
                tracing::info!(repair = "expired_upload", count = keys.len(), "removed uploads that never finished");
            }
            repaired("expired_upload", keys.len());
        }
        Err(e) => tracing::warn!(error = %e, "sweep of unfinished uploads failed"),
    }
}

async fn stuck_queued(ctx: &Ctx) {
    let now = now_ms();
    let cutoff = now - ms(ctx.config.sweeper.stuck_queued_seconds);
    match ctx.store.reannounce_queued(cutoff, now, BATCH_LIMIT).await {
        Ok(ids) if !ids.is_empty() => {
            if ctx.config.kafka.brokers.is_empty() {
                // The job source reads the table itself: nothing was lost, the queue is long.
                tracing::warn!(
                    count = ids.len(),
                    oldest = %ids[0],
                    "records waited in QUEUED past the threshold: a backlog",
                );
                return;
            }
            tracing::warn!(
                repair = "stuck_queued",
                count = ids.len(),
                oldest = %ids[0],
                "records waited in QUEUED past the threshold; announced again",
            );
            repaired("stuck_queued", ids.len());
            if let Some(relay) = ctx.directory.relay() {
                let _ = super::instrument::tell(&relay, super::outbox_relay::RelayMsg::Wake);
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "looking for stuck queued records failed"),
    }
}

async fn gauges(ctx: &Ctx) {
    metrics::gauge!(telemetry::INDEX_SIZE).set(ctx.vectors.len() as f64);
    match ctx.store.count_by_status().await {
        Ok(counts) => {
            for status in RecordStatus::ALL {
                let n = counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
                metrics::gauge!(telemetry::RECORDS, "status" => status.as_str()).set(n as f64);
                if status == RecordStatus::Failed {
                    metrics::gauge!(telemetry::DEAD_LETTERS).set(n as f64);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "counting records failed"),
    }
}
