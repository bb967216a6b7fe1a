//! analysis-pool: supervises N analysis workers, gives each one job at a time, and
//! reports free slots (credits) to the job source. A worker that panics is
//! replaced, and the job it held goes to the retry scheduler as a transient
//! failure, never lost.

use super::analysis_worker::{AnalysisWorker, WorkerMsg, report_failure};
use super::intensity::Intensity;
use super::{Ctx, died};
use crate::clock::now_ms;
use crate::domain::{Job, JobFailure};
use crate::store::LeaseScope;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub enum PoolMsg {
    Run(Job),
    /// How many more jobs the pool can take now.
    FreeSlots(RpcReplyPort<usize>),
    /// How many workers are busy.
    Busy(RpcReplyPort<usize>),
    /// A worker finished its job.
    Done(ActorId),
}

impl super::instrument::Mailbox for PoolMsg {
    const ACTOR: &'static str = "analysis-pool";
}

pub struct AnalysisPool;

struct Slot {
    actor: ActorRef<WorkerMsg>,
    job: Option<Job>,
}

pub struct PoolState {
    ctx: Ctx,
    slots: HashMap<ActorId, Slot>,
    backlog: VecDeque<Job>,
    intensity: Intensity,
}

impl PoolState {
    fn idle(&self) -> usize {
        self.slots.values().filter(|s| s.job.is_none()).count()
    }

    fn dispatch(&mut self) {
        while !self.backlog.is_empty() {
            let Some(slot) = self.slots.values_mut().find(|s| s.job.is_none()) else {
                return;
            };
            let Some(job) = self.backlog.pop_front() else {
                return;
            };
            slot.job = Some(job.clone());
            if super::instrument::tell(&slot.actor, WorkerMsg::Run(job.clone())).is_err() {
                // The worker is dying; its supervision event will come. Keep the job.
                slot.job = None;
                self.backlog.push_front(job);
                return;
            }
        }
    }
}

async fn spawn_worker(pool: &ActorRef<PoolMsg>, ctx: &Ctx) -> Result<(ActorId, Slot), ActorProcessingErr> {
    let (actor, _) = Actor::spawn_linked(None, AnalysisWorker, (ctx.clone(), pool.clone()), pool.get_cell()).await?;
    Ok((actor.get_id(), Slot { actor, job: None }))
}

impl Actor for AnalysisPool {
    type Msg = PoolMsg;
    type State = PoolState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<PoolMsg>, ctx: Ctx) -> Result<PoolState, ActorProcessingErr> {
        // Jobs this instance leased before the pool (re)started have no worker now.
        let max_attempts = ctx.config.retry.max_attempts();
        let events = ctx.store.reclaim_leases(now_ms(), LeaseScope::OwnedBy(&ctx.instance_id), max_attempts).await?;
        if !events.is_empty() {
            tracing::warn!(count = events.len(), "re-queued jobs held by the previous pool");
            ctx.publish(events);
        }
        let mut slots = HashMap::new();
        for _ in 0..ctx.config.workers() {
            let (id, slot) = spawn_worker(&myself, &ctx).await?;
            slots.insert(id, slot);
        }
        let sup = &ctx.config.supervision;
        let intensity = Intensity::new(sup.max_restarts, Duration::from_secs(sup.period_seconds));
        tracing::info!(workers = slots.len(), "analysis pool started");
        Ok(PoolState { ctx, slots, backlog: VecDeque::new(), intensity })
    }

    async fn post_start(&self, _me: ActorRef<PoolMsg>, st: &mut PoolState) -> Result<(), ActorProcessingErr> {
        st.ctx.directory.wake_job_source();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<PoolMsg>,
        msg: PoolMsg,
        st: &mut PoolState,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                match msg {
                    PoolMsg::Run(job) => {
                        st.backlog.push_back(job);
                        st.dispatch();
                    }
                    PoolMsg::FreeSlots(reply) => {
                        let _ = reply.send(st.idle().saturating_sub(st.backlog.len()));
                    }
                    PoolMsg::Busy(reply) => {
                        let _ = reply.send(st.slots.values().filter(|s| s.job.is_some()).count() + st.backlog.len());
                    }
                    PoolMsg::Done(worker) => {
                        if let Some(slot) = st.slots.get_mut(&worker) {
                            slot.job = None;
                        }
                        st.dispatch();
                        st.ctx.directory.wake_job_source();
                    }
                }
                Ok(())
            })
            .await
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<PoolMsg>,
        evt: SupervisionEvent,
        st: &mut PoolState,
    ) -> Result<(), ActorProcessingErr> {
        let Some((cell, reason)) = died(evt) else {
            return Ok(());
        };
        let Some(slot) = st.slots.remove(&cell.get_id()) else {
            return Ok(());
        };
        tracing::error!(
            worker = %cell.get_id(),
            reason = %reason,
            held_job = slot.job.is_some(),
            "analysis worker died",
        );
        super::instrument::failed("analysis-worker");
        if let Some(job) = slot.job {
            let failure = JobFailure { message: format!("the analysis worker crashed ({reason})"), permanent: false };
            report_failure(&st.ctx, job, failure);
        }
        if !st.intensity.allow(Instant::now()) {
            return Err(format!(
                "analysis workers restarted more than {} times in {}s",
                st.ctx.config.supervision.max_restarts, st.ctx.config.supervision.period_seconds
            )
            .into());
        }
        let (id, slot) = spawn_worker(&myself, &st.ctx).await?;
        st.slots.insert(id, slot);
        metrics::counter!(crate::telemetry::ACTOR_RESTARTS, "actor" => "analysis-worker").increment(1);
        st.dispatch();
        st.ctx.directory.wake_job_source();
        Ok(())
    }
}
