//! The actor tree (ractor). Actors glue the pure domain and audio code to the
//! store; each file here is one actor.
//!
//! ```text
//! root supervisor ─┬─ sse-broadcaster    per-record subscribers, fan-out of status events
//!                  ├─ retry-scheduler    backoff with jitter, then dead letter; due retries
//!                  ├─ model-pool ─────── model-worker × M   batched GE2E embeddings
//!                  ├─ analysis-pool ──── analysis-worker × N
//!                  ├─ job-source         claims queued jobs only when the pool has room
//!                  ├─ s3-event           object-created → UPLOADED → QUEUED
//!                  ├─ upload-session     new uploads (presigned URLs, multipart streams)
//!                  ├─ outbox-relay       (with Kafka) outbox rows → job topics
//!                  ├─ batch-sweeper      expired leases, missed events, expired uploads, stuck jobs
//!                  └─ alert-webhook      Alertmanager's alerts: stored, streamed to admins, sent to chat
//! ```
//!
//! Backpressure: the job source takes work only for free worker slots — from the
//! database, or with Kafka from the job topics, pausing its partitions while the
//! pool is full — so a flood of uploads waits durably, not in mailboxes.

pub mod alert_webhook;
pub mod analysis_pool;
pub mod analysis_worker;
pub mod batch_sweeper;
pub mod bucket_topic;
pub mod context;
pub mod directory;
pub mod instrument;
pub mod intensity;
pub mod job_source;
pub mod kafka_jobs;
pub mod model_pool;
pub mod model_worker;
pub mod outbox_relay;
pub mod pipeline;
pub mod retry_scheduler;
pub mod s3_event;
pub mod sse_broadcaster;
pub mod supervisor;
pub mod upload_session;

pub use context::{Bus, Ctx};
pub use directory::Directory;
pub use supervisor::{RootSupervisor, start_tree};

use ractor::rpc::CallResult;
use ractor::{ActorCell, ActorRef, RpcReplyPort, SupervisionEvent};
use std::time::Duration;

/// An actor that could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    #[error("the {0} actor is not running")]
    Down(&'static str),
    #[error("the {0} actor did not answer in time")]
    Timeout(&'static str),
}

/// Asks `actor` and waits (at most `timeout`) for the answer.
pub async fn ask<M: instrument::Mailbox, T: Send + 'static>(
    actor: Option<ActorRef<M>>,
    name: &'static str,
    timeout: Duration,
    build: impl FnOnce(RpcReplyPort<T>) -> M,
) -> Result<T, ActorError> {
    let actor = actor.ok_or(ActorError::Down(name))?;
    instrument::sending(&actor);
    match actor.call(build, Some(timeout)).await {
        Ok(CallResult::Success(v)) => Ok(v),
        Ok(CallResult::Timeout) => Err(ActorError::Timeout(name)),
        Ok(CallResult::SenderError) => Err(ActorError::Down(name)),
        Err(_) => {
            instrument::unsent(&actor);
            Err(ActorError::Down(name))
        }
    }
}

/// The child and the reason, when a supervision event says a child died (its
/// mailbox no longer counts as waiting work).
pub fn died(evt: SupervisionEvent) -> Option<(ActorCell, String)> {
    let dead = match evt {
        SupervisionEvent::ActorFailed(cell, err) => Some((cell, format!("failed: {err}"))),
        SupervisionEvent::ActorTerminated(cell, _, reason) => {
            Some((cell, format!("stopped: {}", reason.unwrap_or_default())))
        }
        _ => None,
    };
    if let Some((cell, _)) = &dead {
        instrument::forget(cell.get_id());
    }
    dead
}

#[cfg(test)]
mod tests {
    use super::instrument::Mailbox;
    use super::*;

    #[test]
    fn every_actor_has_its_series_registered() {
        let names = [
            alert_webhook::AlertMsg::ACTOR,
            analysis_pool::PoolMsg::ACTOR,
            analysis_worker::WorkerMsg::ACTOR,
            batch_sweeper::SweeperMsg::ACTOR,
            job_source::JobSourceMsg::ACTOR,
            model_pool::ModelMsg::ACTOR,
            model_worker::ModelWorkerMsg::ACTOR,
            outbox_relay::RelayMsg::ACTOR,
            retry_scheduler::RetryMsg::ACTOR,
            s3_event::S3EventMsg::ACTOR,
            sse_broadcaster::SseMsg::ACTOR,
            upload_session::UploadMsg::ACTOR,
        ];
        for name in names {
            assert!(crate::telemetry::ACTORS.contains(&name), "{name} is missing from telemetry::ACTORS");
        }
        assert_eq!(names.len(), crate::telemetry::ACTORS.len());
    }
}
