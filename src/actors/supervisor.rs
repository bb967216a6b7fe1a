//! The root supervisor: starts the children in dependency order, restarts one that
//! fails (one-for-one) within an intensity limit, and past that limit stops the
//! tree and marks it dead so `/ready` answers 503 instead of the service spinning
//! silently.

use super::alert_webhook::AlertWebhook;
use super::analysis_pool::{AnalysisPool, PoolMsg};
use super::batch_sweeper::BatchSweeper;
use super::intensity::Intensity;
use super::job_source::JobSource;
use super::model_pool::ModelPool;
use super::outbox_relay::OutboxRelay;
use super::retry_scheduler::RetryScheduler;
use super::s3_event::S3Event;
use super::sse_broadcaster::SseBroadcaster;
use super::upload_session::UploadSession;
use super::{Ctx, ask, died};
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The children of the root, in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Child {
    SseBroadcaster,
    RetryScheduler,
    ModelPool,
    AnalysisPool,
    JobSource,
    S3Event,
    UploadSession,
    OutboxRelay,
    BatchSweeper,
    AlertWebhook,
}

impl Child {
    pub const ALL: [Child; 10] = [
        Child::SseBroadcaster,
        Child::RetryScheduler,
        Child::ModelPool,
        Child::AnalysisPool,
        Child::JobSource,
        Child::S3Event,
        Child::UploadSession,
        Child::OutboxRelay,
        Child::BatchSweeper,
        Child::AlertWebhook,
    ];

    /// The children this configuration runs (the outbox relay only with Kafka).
    pub fn wanted(ctx: &Ctx) -> Vec<Child> {
        let kafka = !ctx.config.kafka.brokers.is_empty();
        Child::ALL.into_iter().filter(|c| kafka || *c != Child::OutboxRelay).collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            Child::SseBroadcaster => "sse-broadcaster",
            Child::RetryScheduler => "retry-scheduler",
            Child::ModelPool => "model-pool",
            Child::AnalysisPool => "analysis-pool",
            Child::JobSource => "job-source",
            Child::S3Event => "s3-event",
            Child::UploadSession => "upload-session",
            Child::OutboxRelay => "outbox-relay",
            Child::BatchSweeper => "batch-sweeper",
            Child::AlertWebhook => "alert-webhook",
        }
    }
}

pub enum RootMsg {}

pub struct RootSupervisor;

pub struct RootState {
    ctx: Ctx,
    children: HashMap<ActorId, Child>,
    intensity: HashMap<Child, Intensity>,
}

/// Spawns `$actor` linked to `$sup`, publishes it with `$set`, returns its id.
macro_rules! spawn_into {
    ($actor:expr, $ctx:expr, $sup:expr, $set:ident) => {{
        let (a, _) = Actor::spawn_linked(None, $actor, $ctx.clone(), $sup).await?;
        let id = a.get_id();
        $ctx.directory.$set(Some(a));
        id
    }};
}

/// Spawns `child` linked to `sup` and publishes it in the directory.
async fn spawn_child(child: Child, ctx: &Ctx, sup: ActorCell) -> Result<ActorId, ActorProcessingErr> {
    let id = match child {
        Child::SseBroadcaster => spawn_into!(SseBroadcaster, ctx, sup, set_sse),
        Child::RetryScheduler => spawn_into!(RetryScheduler, ctx, sup, set_retry),
        Child::ModelPool => spawn_into!(ModelPool, ctx, sup, set_model),
        Child::AnalysisPool => spawn_into!(AnalysisPool, ctx, sup, set_pool),
        Child::JobSource => spawn_into!(JobSource, ctx, sup, set_job_source),
        Child::S3Event => spawn_into!(S3Event, ctx, sup, set_s3_event),
        Child::UploadSession => spawn_into!(UploadSession, ctx, sup, set_upload_session),
        Child::OutboxRelay => spawn_into!(OutboxRelay, ctx, sup, set_relay),
        Child::BatchSweeper => spawn_into!(BatchSweeper, ctx, sup, set_sweeper),
        Child::AlertWebhook => spawn_into!(AlertWebhook, ctx, sup, set_alerts),
    };
    tracing::info!(actor = child.name(), id = %id, "actor started");
    Ok(id)
}

fn clear_child(child: Child, ctx: &Ctx) {
    let d = &ctx.directory;
    match child {
        Child::SseBroadcaster => d.set_sse(None),
        Child::RetryScheduler => d.set_retry(None),
        Child::ModelPool => d.set_model(None),
        Child::AnalysisPool => d.set_pool(None),
        Child::JobSource => d.set_job_source(None),
        Child::S3Event => d.set_s3_event(None),
        Child::UploadSession => d.set_upload_session(None),
        Child::OutboxRelay => d.set_relay(None),
        Child::BatchSweeper => d.set_sweeper(None),
        Child::AlertWebhook => d.set_alerts(None),
    }
}

impl Actor for RootSupervisor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<RootMsg>, ctx: Ctx) -> Result<RootState, ActorProcessingErr> {
        let sup = &ctx.config.supervision;
        let mut children = HashMap::new();
        let mut intensity = HashMap::new();
        for child in Child::wanted(&ctx) {
            let id = spawn_child(child, &ctx, myself.get_cell()).await?;
            children.insert(id, child);
            intensity.insert(child, Intensity::new(sup.max_restarts, Duration::from_secs(sup.period_seconds)));
        }
        ctx.directory.set_alive(true);
        Ok(RootState { ctx, children, intensity })
    }

    async fn post_stop(&self, _me: ActorRef<RootMsg>, st: &mut RootState) -> Result<(), ActorProcessingErr> {
        st.ctx.directory.set_alive(false);
        for child in Child::ALL {
            clear_child(child, &st.ctx);
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RootMsg>,
        evt: SupervisionEvent,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        let Some((cell, reason)) = died(evt) else {
            return Ok(());
        };
        let Some(child) = st.children.remove(&cell.get_id()) else {
            return Ok(());
        };
        clear_child(child, &st.ctx);
        if !st.ctx.directory.alive() {
            // Shutting down (or already given up): children stop for good.
            return Ok(());
        }
        tracing::error!(actor = child.name(), reason = %reason, "actor died");
        super::instrument::failed(child.name());
        let allowed = st.intensity.get_mut(&child).is_some_and(|i| i.allow(Instant::now()));
        if !allowed {
            let sup = &st.ctx.config.supervision;
            tracing::error!(
                actor = child.name(),
                max_restarts = sup.max_restarts,
                period_s = sup.period_seconds,
                "restart intensity exceeded; stopping the actor tree"
            );
            st.ctx.directory.set_alive(false);
            myself.stop(Some(format!("{} restarted too often", child.name())));
            return Ok(());
        }
        let id = spawn_child(child, &st.ctx, myself.get_cell()).await?;
        st.children.insert(id, child);
        metrics::counter!(crate::telemetry::ACTOR_RESTARTS, "actor" => child.name()).increment(1);
        tracing::warn!(actor = child.name(), "actor restarted");
        Ok(())
    }
}

/// Starts the whole tree.
pub async fn start_tree(ctx: Ctx) -> Result<(ActorRef<RootMsg>, JoinHandle<()>), ractor::SpawnErr> {
    Actor::spawn(Some("orakgaraki-root".into()), RootSupervisor, ctx).await
}

/// Stops taking new jobs, lets running ones finish (up to `grace`), then stops the tree.
pub async fn shutdown_tree(ctx: &Ctx, root: ActorRef<RootMsg>, handle: JoinHandle<()>, grace: Duration) {
    ctx.directory.set_alive(false);
    if let Some(js) = ctx.directory.job_source() {
        js.stop(Some("shutdown".into()));
    }
    ctx.directory.set_job_source(None);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        match ask(ctx.directory.pool(), "analysis-pool", Duration::from_secs(1), PoolMsg::Busy).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tracing::info!(busy = n, "waiting for running analyses");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    root.stop(Some("shutdown".into()));
    let _ = handle.await;
}
