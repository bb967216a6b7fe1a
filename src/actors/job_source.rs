//! job-source: takes queued jobs from the database only when the analysis pool has
//! free slots (credits), so queued work waits durably in the database.

use super::analysis_pool::PoolMsg;
use super::{Ctx, ask};
use crate::clock::now_ms;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::time::Duration;

pub enum JobSourceMsg {
    /// Something was queued or a slot freed up.
    Wake,
    /// Periodic look, in case a wake-up was missed.
    Tick,
}

pub struct JobSource;

impl Actor for JobSource {
    type Msg = JobSourceMsg;
    type State = Ctx;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<JobSourceMsg>, ctx: Ctx) -> Result<Ctx, ActorProcessingErr> {
        myself
            .send_interval(Duration::from_millis(ctx.config.pipeline.poll_interval_ms.max(10)), || JobSourceMsg::Tick);
        Ok(ctx)
    }

    async fn handle(
        &self,
        _me: ActorRef<JobSourceMsg>,
        msg: JobSourceMsg,
        ctx: &mut Ctx,
    ) -> Result<(), ActorProcessingErr> {
        if matches!(msg, JobSourceMsg::Wake) {
            ctx.directory.woken();
        }
        fill(ctx).await;
        Ok(())
    }
}

/// Claims as many jobs as the pool has free slots, and hands them over.
async fn fill(ctx: &Ctx) {
    let lease = i64::try_from(ctx.config.pipeline.lease_seconds).unwrap_or(3600) * 1000;
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
            if pool.cast(PoolMsg::Run(job)).is_err() {
                tracing::warn!("the pool went away while jobs were handed over; their leases will expire");
                return;
            }
        }
        if n < free {
            return;
        }
    }
}
