//! Where the running actors are. The supervisors update it on every (re)start, so
//! handlers and actors always reach the current incarnation of a child.

use super::alert_webhook::AlertMsg;
use super::analysis_pool::PoolMsg;
use super::batch_sweeper::SweeperMsg;
use super::job_source::JobSourceMsg;
use super::model_pool::ModelMsg;
use super::outbox_relay::RelayMsg;
use super::retry_scheduler::RetryMsg;
use super::s3_event::S3EventMsg;
use super::sse_broadcaster::SseMsg;
use super::upload_session::UploadMsg;
use ractor::ActorRef;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub struct Directory {
    upload_session: RwLock<Option<ActorRef<UploadMsg>>>,
    s3_event: RwLock<Option<ActorRef<S3EventMsg>>>,
    job_source: RwLock<Option<ActorRef<JobSourceMsg>>>,
    pool: RwLock<Option<ActorRef<PoolMsg>>>,
    model: RwLock<Option<ActorRef<ModelMsg>>>,
    retry: RwLock<Option<ActorRef<RetryMsg>>>,
    sse: RwLock<Option<ActorRef<SseMsg>>>,
    relay: RwLock<Option<ActorRef<RelayMsg>>>,
    sweeper: RwLock<Option<ActorRef<SweeperMsg>>>,
    alerts: RwLock<Option<ActorRef<AlertMsg>>>,
    /// False once the tree gave up (restart intensity exceeded) or is shutting down.
    alive: AtomicBool,
    /// Set while a wake-up of the job source is in its mailbox, to coalesce wake-ups.
    wake_pending: AtomicBool,
}

fn get<T: Clone>(slot: &RwLock<Option<T>>) -> Option<T> {
    slot.read().unwrap_or_else(|p| p.into_inner()).clone()
}

fn set<T>(slot: &RwLock<Option<T>>, value: Option<T>) {
    *slot.write().unwrap_or_else(|p| p.into_inner()) = value;
}

macro_rules! slot {
    ($get:ident, $set:ident, $field:ident, $msg:ty) => {
        pub fn $get(&self) -> Option<ActorRef<$msg>> {
            get(&self.$field)
        }
        pub fn $set(&self, actor: Option<ActorRef<$msg>>) {
            set(&self.$field, actor)
        }
    };
}

impl Directory {
    slot!(upload_session, set_upload_session, upload_session, UploadMsg);
    slot!(s3_event, set_s3_event, s3_event, S3EventMsg);
    slot!(job_source, set_job_source, job_source, JobSourceMsg);
    slot!(pool, set_pool, pool, PoolMsg);
    slot!(model, set_model, model, ModelMsg);
    slot!(retry, set_retry, retry, RetryMsg);
    slot!(sse, set_sse, sse, SseMsg);
    slot!(relay, set_relay, relay, RelayMsg);
    slot!(sweeper, set_sweeper, sweeper, SweeperMsg);
    slot!(alerts, set_alerts, alerts, AlertMsg);

    /// Whether the supervision tree is up.
    pub fn alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    pub fn set_alive(&self, alive: bool) {
        self.alive.store(alive, Ordering::SeqCst);
    }

    /// Asks the job source to look for work, unless a wake-up is already on its way.
    pub fn wake_job_source(&self) {
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            match self.job_source() {
                Some(js) => {
                    if super::instrument::tell(&js, JobSourceMsg::Wake).is_err() {
                        self.wake_pending.store(false, Ordering::SeqCst);
                    }
                }
                None => self.wake_pending.store(false, Ordering::SeqCst),
            }
        }
    }

    /// Called by the job source as it handles a wake-up.
    pub fn woken(&self) {
        self.wake_pending.store(false, Ordering::SeqCst);
    }
}
