//! s3-event: object-created notifications (from the upload paths, bucket
//! webhooks, and SeaweedFS's Kafka notifications: `bucket_topic`). The record
//! becomes UPLOADED and is queued (one transaction), then the job source is woken.

use super::Ctx;
use crate::clock::now_ms;
use crate::domain::{RecordId, StatusEvent};
use crate::store::StoreError;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

/// An object landed in the store.
#[derive(Debug, Clone)]
pub struct ObjectCreated {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

pub enum S3EventMsg {
    ObjectCreated { event: ObjectCreated, reply: Option<RpcReplyPort<Result<Vec<StatusEvent>, StoreError>>> },
}

impl super::instrument::Mailbox for S3EventMsg {
    const ACTOR: &'static str = "s3-event";
}

pub struct S3Event;

pub struct S3EventState {
    ctx: Ctx,
    /// The SeaweedFS notification consumer, when configured.
    topic: Option<tokio::task::JoinHandle<()>>,
}

impl Actor for S3Event {
    type Msg = S3EventMsg;
    type State = S3EventState;
    type Arguments = Ctx;

    async fn pre_start(&self, _me: ActorRef<S3EventMsg>, ctx: Ctx) -> Result<S3EventState, ActorProcessingErr> {
        let topic = super::bucket_topic::start(&ctx);
        Ok(S3EventState { ctx, topic })
    }

    async fn post_stop(&self, _me: ActorRef<S3EventMsg>, st: &mut S3EventState) -> Result<(), ActorProcessingErr> {
        if let Some(t) = st.topic.take() {
            t.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<S3EventMsg>,
        msg: S3EventMsg,
        st: &mut S3EventState,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                let ctx = &st.ctx;
                let S3EventMsg::ObjectCreated { event, reply } = msg;
                let result = apply(ctx, &event).await;
                match &result {
                    Ok(events) => {
                        tracing::info!(key = %event.key, size = event.size, "object created; record queued");
                        ctx.publish(events.iter().cloned());
                        ctx.directory.wake_job_source();
                    }
                    Err(e) => {
                        tracing::warn!(key = %event.key, error = %e, "object-created event not applied")
                    }
                }
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
                Ok(())
            })
            .await
    }
}

async fn apply(ctx: &Ctx, event: &ObjectCreated) -> Result<Vec<StatusEvent>, StoreError> {
    let id = RecordId::from_object_key(&event.key).map_err(|_| StoreError::NotFound)?;
    let size = i64::try_from(event.size).unwrap_or(i64::MAX);
    ctx.store.mark_uploaded(&id, size, &event.sha256, now_ms()).await
}
