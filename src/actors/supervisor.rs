//! The root supervisor: starts the children in dependency order, restarts one that
//! fails (one-for-one) within an intensity limit, and past that limit stops the
//! tree and marks it dead so `/ready` answers 503 instead of the service spinning
//! silently.

use super::analysis_pool::{AnalysisPool, PoolMsg};
use super::intensity::Intensity;
use super::job_source::JobSource;
use super::retry_scheduler::RetryScheduler;
use super::s3_event::S3Event;
use super::sse_broadcaster::SseBroadcaster;
use super::upload_session::UploadSession;
use super::{Ctx, ask};
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The children of the root, in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Child {
    SseBroadcaster,
    RetryScheduler,
    AnalysisPool,
    JobSource,
    S3Event,
    UploadSession,
}

impl Child {
    pub const ALL: [Child; 6] = [
        Child::SseBroadcaster,
        Child::RetryScheduler,
        Child::AnalysisPool,
        Child::JobSource,
        Child::S3Event,
        Child::UploadSession,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Child::SseBroadcaster => "sse-broadcaster",
            Child::RetryScheduler => "retry-scheduler",
            Child::AnalysisPool => "analysis-pool",
            Child::JobSource => "job-source",
            Child::S3Event => "s3-event",
            Child::UploadSession => "upload-session",
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

/// Spawns `child` linked to `sup` and publishes it in the directory.
async fn spawn_child(
    child: Child,
    ctx: &Ctx,
    sup: ActorCell,
) -> Result<ActorId, ActorProcessingErr> {
    let d = &ctx.directory;
    let c = ctx.clone();
    let id = match child {
        Child::SseBroadcaster => {
            let (a, _) = Actor::spawn_linked(None, SseBroadcaster, c, sup).await?;
            let id = a.get_id();
            d.set_sse(Some(a));
            id
        }
        Child::RetryScheduler => {
            let (a, _) = Actor::spawn_linked(None, RetryScheduler, c, sup).await?;
            let id = a.get_id();
            d.set_retry(Some(a));
            id
        }
        Child::AnalysisPool => {
            let (a, _) = Actor::spawn_linked(None, AnalysisPool, c, sup).await?;
            let id = a.get_id();
            d.set_pool(Some(a));
            id
        }
        Child::JobSource => {
            let (a, _) = Actor::spawn_linked(None, JobSource, c, sup).await?;
            let id = a.get_id();
            d.set_job_source(Some(a));
            id
        }
        Child::S3Event => {
            let (a, _) = Actor::spawn_linked(None, S3Event, c, sup).await?;
            let id = a.get_id();
            d.set_s3_event(Some(a));
            id
        }
        Child::UploadSession => {
            let (a, _) = Actor::spawn_linked(None, UploadSession, c, sup).await?;
            let id = a.get_id();
            d.set_upload_session(Some(a));
            id
        }
    };
    tracing::info!(actor = child.name(), id = %id, "actor started");
    Ok(id)
}

fn clear_child(child: Child, ctx: &Ctx) {
    let d = &ctx.directory;
    match child {
        Child::SseBroadcaster => d.set_sse(None),
        Child::RetryScheduler => d.set_retry(None),
        Child::AnalysisPool => d.set_pool(None),
        Child::JobSource => d.set_job_source(None),
        Child::S3Event => d.set_s3_event(None),
        Child::UploadSession => d.set_upload_session(None),
    }
}

impl Actor for RootSupervisor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        myself: ActorRef<RootMsg>,
        ctx: Ctx,
    ) -> Result<RootState, ActorProcessingErr> {
        let sup = &ctx.config.supervision;
        let mut children = HashMap::new();
        let mut intensity = HashMap::new();
        for child in Child::ALL {
            let id = spawn_child(child, &ctx, myself.get_cell()).await?;
            children.insert(id, child);
            intensity.insert(
                child,
                Intensity::new(sup.max_restarts, Duration::from_secs(sup.period_seconds)),
            );
        }
        ctx.directory.set_alive(true);
        Ok(RootState {
            ctx,
            children,
            intensity,
        })
    }

    async fn post_stop(
        &self,
        _me: ActorRef<RootMsg>,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
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
        let (cell, reason) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, format!("failed: {err}")),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, format!("stopped: {}", reason.unwrap_or_default()))
            }
            _ => return Ok(()),
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
        let allowed = st
            .intensity
            .get_mut(&child)
            .is_some_and(|i| i.allow(Instant::now()));
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
        tracing::warn!(actor = child.name(), "actor restarted");
        Ok(())
    }
}

/// Starts the whole tree.
pub async fn start_tree(ctx: Ctx) -> Result<(ActorRef<RootMsg>, JoinHandle<()>), ractor::SpawnErr> {
    Actor::spawn(Some("orakgaraki-root".into()), RootSupervisor, ctx).await
}

/// Stops taking new jobs, lets running ones finish (up to `grace`), then stops the tree.
pub async fn shutdown_tree(
    ctx: &Ctx,
    root: ActorRef<RootMsg>,
    handle: JoinHandle<()>,
    grace: Duration,
) {
    ctx.directory.set_alive(false);
    if let Some(js) = ctx.directory.job_source() {
        js.stop(Some("shutdown".into()));
    }
    ctx.directory.set_job_source(None);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        match ask(
            ctx.directory.pool(),
            "analysis-pool",
            Duration::from_secs(1),
            PoolMsg::Busy,
        )
        .await
        {
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
