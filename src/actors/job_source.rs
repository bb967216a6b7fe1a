//! job-source: takes queued jobs only when the analysis pool has free slots
//! (credits): from the database (embedded mode), or from the Kafka job topics
//! (`kafka_jobs`), so queued work waits durably outside this process.

use super::analysis_pool::PoolMsg;
use super::kafka_jobs::KafkaJobs;
use super::{Ctx, ask};
use crate::clock::now_ms;
use crate::domain::RecordId;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::time::Duration;

pub enum JobSourceMsg {
    /// Something was queued or a slot freed up.
    Wake,
    /// Periodic look, in case a wake-up was missed.
    Tick,
    /// This instance finished the job of a record (its outcome is stored).
    Finished(RecordId),
}

impl super::instrument::Mailbox for JobSourceMsg {
    const ACTOR: &'static str = "job-source";
}

pub struct JobSource;

pub struct JobSourceState {
    ctx: Ctx,
    /// Set in Kafka mode.
    kafka: Option<KafkaJobs>,
}

impl Actor for JobSource {
    type Msg = JobSourceMsg;
    type State = JobSourceState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<JobSourceMsg>, ctx: Ctx) -> Result<JobSourceState, ActorProcessingErr> {
        super::instrument::every(&myself, Duration::from_millis(ctx.config.pipeline.poll_interval_ms.max(10)), || {
            JobSourceMsg::Tick
        });
        let kafka = if ctx.config.kafka.brokers.is_empty() { None } else { Some(KafkaJobs::start(&ctx)?) };
        Ok(JobSourceState { ctx, kafka })
    }

    async fn post_stop(&self, _me: ActorRef<JobSourceMsg>, st: &mut JobSourceState) -> Result<(), ActorProcessingErr> {
        if let Some(k) = st.kafka.take() {
            k.close(std::time::Duration::from_secs(5)).await;
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<JobSourceMsg>,
        msg: JobSourceMsg,
        st: &mut JobSourceState,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                if matches!(msg, JobSourceMsg::Wake) {
                    st.ctx.directory.woken();
                }
                let Some(kafka) = &st.kafka else {
                    if !matches!(msg, JobSourceMsg::Finished(_)) {
                        fill(&st.ctx).await;
                    }
                    return Ok(());
                };
                match msg {
                    JobSourceMsg::Wake => kafka.wake(),
                    JobSourceMsg::Tick => kafka.expire(st.ctx.config.pipeline.lease_ms()),
                    JobSourceMsg::Finished(id) => {
                        kafka.finished(&id);
                        kafka.wake();
                    }
                }
                Ok(())
            })
            .await
    }
}

/// Claims as many jobs as the pool has free slots, and hands them over.
async fn fill(ctx: &Ctx) {
    let lease = ctx.config.pipeline.lease_ms();
    loop {
        let free = match ask(ctx.directory.pool(), "analysis-pool", Duration::from_secs(5), PoolMsg::FreeSlots).await {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "no pool to feed");
                return;
            }
        };
        if free == 0 {
            return;
        }
        let now = now_ms();
        let claimed = match ctx.store.claim_jobs(free, &ctx.instance_id, now + lease, now).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed");
                return;
            }
        };
        let n = claimed.len();
        let Some(pool) = ctx.directory.pool() else {
            return;
        };
        for (job, event) in claimed {
            ctx.publish([event]);
            // If the pool died just now, the lease expires and the job is reclaimed.
            if super::instrument::tell(&pool, PoolMsg::Run(job)).is_err() {
                tracing::warn!("the pool went away while jobs were handed over; their leases will expire");
                return;
            }
        }
        if n < free {
            return;
        }
    }
}
