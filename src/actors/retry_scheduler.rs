//! retry-scheduler: decides what a failed attempt becomes (RETRYING with exponential
//! backoff and full jitter, or FAILED as a dead letter) and puts due retries back
//! in the queue. The schedule lives in the database, so a restart loses no retry.
//! (Expired leases are the batch sweeper's.)

use super::Ctx;
use crate::clock::now_ms;
use crate::domain::retry::RetryDecision;
use crate::domain::{FailureOutcome, Job, JobFailure};
use crate::telemetry;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::time::Duration;

pub enum RetryMsg {
    Failed {
        job: Job,
        failure: JobFailure,
    },
    /// Release due retries.
    Tick,
}

impl super::instrument::Mailbox for RetryMsg {
    const ACTOR: &'static str = "retry-scheduler";
}

pub struct RetryScheduler;

impl Actor for RetryScheduler {
    type Msg = RetryMsg;
    type State = Ctx;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<RetryMsg>, ctx: Ctx) -> Result<Ctx, ActorProcessingErr> {
        super::instrument::every(&myself, Duration::from_millis(ctx.config.pipeline.sweep_interval_ms.max(10)), || {
            RetryMsg::Tick
        });
        Ok(ctx)
    }

    async fn handle(&self, myself: ActorRef<RetryMsg>, msg: RetryMsg, ctx: &mut Ctx) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                match msg {
                    RetryMsg::Failed { job, failure } => on_failure(&myself, ctx, job, failure).await,
                    RetryMsg::Tick => tick(ctx).await,
                }
                Ok(())
            })
            .await
    }
}

async fn on_failure(myself: &ActorRef<RetryMsg>, ctx: &Ctx, job: Job, failure: JobFailure) {
    let attempt = u32::try_from(job.retry_attempt).unwrap_or(0);
    let decision = ctx.config.retry_policy().decide(attempt, failure.permanent, rand::random::<f64>());
    let now = now_ms();
    let outcome = match decision {
        RetryDecision::RetryAfter(d) => {
            FailureOutcome::RetryAt(now + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
        }
        RetryDecision::GiveUp => FailureOutcome::Dead,
    };
    match ctx.store.fail(&job, &failure.message, outcome, now).await {
        Ok(Some(ev)) => {
            match decision {
                RetryDecision::RetryAfter(d) => {
                    metrics::counter!(telemetry::RETRIES).increment(1);
                    tracing::info!(
                        record_id = %job.record_id,
                        attempt = job.attempt,
                        delay_ms = d.as_millis() as u64,
                        "retry scheduled",
                    );
                    super::instrument::after(myself, d, || RetryMsg::Tick);
                }
                RetryDecision::GiveUp => {
                    metrics::counter!(telemetry::DEAD_LETTERED).increment(1);
                    tracing::warn!(
                        record_id = %job.record_id,
                        attempt = job.attempt,
                        permanent = failure.permanent,
                        error = %failure.message,
                        "record failed: dead letter",
                    );
                }
            }
            ctx.publish([ev]);
        }
        Ok(None) => {
            tracing::warn!(
                record_id = %job.record_id,
                attempt = job.attempt,
                "failure of a job whose lease was lost; ignored",
            )
        }
        Err(e) if now < job.claimed_at + ctx.config.pipeline.lease_ms() => {
            // The database is unreachable: keep the failure and write it once it is
            // back, while the lease lasts (after that the sweeper reclaims the job).
            tracing::warn!(
                record_id = %job.record_id,
                error = %e,
                "could not record a failure; trying again in a second",
            );
            super::instrument::after(myself, Duration::from_secs(1), move || RetryMsg::Failed { job, failure });
        }
        Err(e) => {
            tracing::error!(
                record_id = %job.record_id,
                error = %e,
                "could not record a failure; the expired lease will be reclaimed",
            )
        }
    }
}

async fn tick(ctx: &Ctx) {
    let now = now_ms();
    let mut queued = false;
    match ctx.store.release_due_retries(now).await {
        Ok(events) => {
            queued |= !events.is_empty();
            ctx.publish(events);
        }
        Err(e) => tracing::warn!(error = %e, "releasing due retries failed"),
    }
    if queued {
        ctx.directory.wake_job_source();
    }
}
