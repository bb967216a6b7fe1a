//! analysis-worker: runs one job at a time under a deadline, stores the result or
//! hands the failure to the retry scheduler, then tells the pool it is free.

use super::analysis_pool::PoolMsg;
use super::retry_scheduler::RetryMsg;
use super::{Ctx, pipeline};
use crate::clock::now_ms;
use crate::domain::{Analysis, Job, JobFailure};
use crate::store::StoreError;
use crate::telemetry;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub enum WorkerMsg {
    Run(Job),
}

impl super::instrument::Mailbox for WorkerMsg {
    const ACTOR: &'static str = "analysis-worker";
}

pub struct AnalysisWorker;

pub struct WorkerState {
    ctx: Ctx,
    pool: ActorRef<PoolMsg>,
}

impl Actor for AnalysisWorker {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = (Ctx, ActorRef<PoolMsg>);

    async fn pre_start(
        &self,
        _me: ActorRef<WorkerMsg>,
        (ctx, pool): (Ctx, ActorRef<PoolMsg>),
    ) -> Result<WorkerState, ActorProcessingErr> {
        Ok(WorkerState { ctx, pool })
    }

    async fn handle(
        &self,
        myself: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        st: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                let WorkerMsg::Run(job) = msg;
                let ctx = &st.ctx;
                let faults = &ctx.config.faults;
                if !faults.worker_panic_filename.is_empty()
                    && job.attempt == 1
                    && job.filename.contains(&faults.worker_panic_filename)
                {
                    // Fault injection: the pool must notice, keep the job and replace this worker.
                    panic!("injected worker panic for record {}", job.record_id);
                }
                if faults.worker_delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(faults.worker_delay_ms)).await;
                }
                let started = std::time::Instant::now();
                let waited = (job.claimed_at - job.queued_at).max(0) as f64 / 1000.0;
                metrics::histogram!(telemetry::QUEUE_WAIT).record(waited);
                let deadline = Duration::from_secs(ctx.config.pipeline.analysis_deadline_seconds.max(1));
                let injected = !faults.transient_failure_filename.is_empty()
                    && job.attempt <= faults.transient_failures
                    && job.filename.contains(&faults.transient_failure_filename);
                let outcome = if injected {
                    Err(JobFailure {
                        message: format!("injected transient failure (attempt {})", job.attempt),
                        permanent: false,
                    })
                } else {
                    let hang = !faults.hang_filename.is_empty()
                        && job.attempt == 1
                        && job.filename.contains(&faults.hang_filename);
                    // Dropping the future at the deadline would leave the decoding thread
                    // running: the flag stops it, within a chunk of audio.
                    let cancel = Arc::new(AtomicBool::new(false));
                    let analysis = async {
                        if hang {
                            std::future::pending::<()>().await;
                        }
                        pipeline::analyze(ctx, &job, cancel.clone()).await
                    };
                    match tokio::time::timeout(deadline, analysis).await {
                        Ok(r) => r,
                        Err(_) => {
                            cancel.store(true, Ordering::Relaxed);
                            metrics::counter!(telemetry::ANALYSIS_DEADLINES).increment(1);
                            Err(JobFailure {
                                message: format!(
                                    "the analysis passed its {} deadline and was stopped",
                                    crate::audio::human_duration(deadline.as_secs_f64())
                                ),
                                permanent: true,
                            })
                        }
                    }
                };
                let outcome = match outcome {
                    Ok(analysis) => match store_result(ctx, &job, &analysis).await {
                        Ok(Some(ev)) => {
                            // Searchable before anyone hears it is done.
                            ctx.index_record(&job.record_id).await;
                            tracing::info!(
                                record_id = %job.record_id,
                                attempt = job.attempt,
                                ms = started.elapsed().as_millis() as u64,
                                queue_wait_ms = (waited * 1000.0) as u64,
                                "analysis completed",
                            );
                            ctx.publish([ev]);
                            Ok(())
                        }
                        Ok(None) => {
                            tracing::warn!(
                                record_id = %job.record_id,
                                attempt = job.attempt,
                                "lease lost before the result was stored; result dropped",
                            );
                            Ok(())
                        }
                        Err(e) => {
                            Err(JobFailure { message: format!("storing the analysis failed: {e}"), permanent: false })
                        }
                    },
                    Err(f) => Err(f),
                };
                let label = if outcome.is_ok() { "completed" } else { "failed" };
                metrics::histogram!(telemetry::ANALYSIS_DURATION, "outcome" => label)
                    .record(started.elapsed().as_secs_f64());
                if let Err(failure) = outcome {
                    tracing::warn!(
                        record_id = %job.record_id,
                        attempt = job.attempt,
                        permanent = failure.permanent,
                        error = %failure.message,
                        "analysis failed",
                    );
                    report_failure(ctx, job, failure);
                }
                let _ = super::instrument::tell(&st.pool, PoolMsg::Done(myself.get_id()));
                Ok(())
            })
            .await
    }
}

/// Stores a finished analysis. When the database is unreachable the result is
/// kept and the write tried again (backing off up to 5 s) while the lease lasts,
/// rather than throwing the work away.
async fn store_result(
    ctx: &Ctx,
    job: &Job,
    analysis: &Analysis,
) -> Result<Option<crate::domain::StatusEvent>, StoreError> {
    let lease_end = job.claimed_at + ctx.config.pipeline.lease_ms();
    let mut pause = Duration::from_millis(250);
    loop {
        match ctx.store.complete(job, analysis, now_ms()).await {
            Err(e) if now_ms() + (pause.as_millis() as i64) < lease_end => {
                tracing::warn!(
                    record_id = %job.record_id,
                    error = %e,
                    retry_ms = pause.as_millis() as u64,
                    "could not store the analysis; trying again",
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// Hands a failed attempt to the retry scheduler. If it is down, the job's lease
/// expires and the job is reclaimed, so nothing is lost either way.
pub fn report_failure(ctx: &Ctx, job: Job, failure: JobFailure) {
    match ctx.directory.retry() {
        Some(retry) => {
            if super::instrument::tell(&retry, RetryMsg::Failed { job, failure }).is_err() {
                tracing::warn!("retry scheduler unreachable; the lease will expire and the job be reclaimed");
            }
        }
        None => {
            tracing::warn!("retry scheduler down; the lease will expire and the job be reclaimed")
        }
    }
}
