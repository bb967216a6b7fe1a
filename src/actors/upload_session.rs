//! upload-session: opens uploads (a PENDING record plus, for the presigned path, a
//! signed URL), within each user's caps: recordings waiting or in analysis
//! (`[uploads] max_active_per_user`) and bytes stored (`quota_bytes_per_user`).
//! One actor opens uploads one at a time, so a user's concurrent requests cannot
//! all slip under a cap on this instance. Uploads that never finish are the
//! batch sweeper's.

use super::Ctx;
use crate::clock::now_ms;
use crate::domain::RecordId;
use crate::store::objects::PresignedPut;
use crate::store::{NewRecord, ObjectError, StoreError, StoredRecord};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

/// What a new upload needs.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub owner: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub metadata: Option<serde_json::Value>,
    /// Issue a signed URL (presigned path) or not (multipart path).
    pub presign: bool,
}

/// An opened upload.
#[derive(Debug, Clone)]
pub struct UploadTicket {
    pub record: StoredRecord,
    pub presigned: Option<PresignedPut>,
    /// Unix ms.
    pub expires_at: i64,
    /// Bytes the user may still store with this upload (the multipart path,
    /// whose size is not known in advance, is cut off there).
    pub room: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error("you have {active} recordings waiting or in analysis (at most {max}); wait for some to finish")]
    TooManyActive { active: i64, max: u64 },
    #[error("this upload would pass your storage quota of {quota} bytes ({used} used); delete some recordings first")]
    OverQuota { used: u64, quota: u64 },
}

pub enum UploadMsg {
    Open { request: UploadRequest, reply: RpcReplyPort<Result<UploadTicket, UploadError>> },
}

impl super::instrument::Mailbox for UploadMsg {
    const ACTOR: &'static str = "upload-session";
}

pub struct UploadSession;

impl Actor for UploadSession {
    type Msg = UploadMsg;
    type State = Ctx;
    type Arguments = Ctx;

    async fn pre_start(&self, _me: ActorRef<UploadMsg>, ctx: Ctx) -> Result<Ctx, ActorProcessingErr> {
        Ok(ctx)
    }

    async fn handle(
        &self,
        myself: ActorRef<UploadMsg>,
        msg: UploadMsg,
        ctx: &mut Ctx,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                match msg {
                    UploadMsg::Open { request, reply } => {
                        let _ = reply.send(open(ctx, request).await);
                    }
                }
                Ok(())
            })
            .await
    }
}

/// Refuses an upload past the owner's caps; otherwise the bytes left to them.
async fn room_for(ctx: &Ctx, req: &UploadRequest) -> Result<u64, UploadError> {
    let caps = &ctx.config.uploads;
    let usage = ctx.store.owner_usage(&req.owner).await?;
    if caps.max_active_per_user > 0 && usage.active >= i64::try_from(caps.max_active_per_user).unwrap_or(i64::MAX) {
        return Err(UploadError::TooManyActive { active: usage.active, max: caps.max_active_per_user });
    }
    if caps.quota_bytes_per_user == 0 {
        return Ok(u64::MAX);
    }
    let used = u64::try_from(usage.bytes).unwrap_or(0);
    let room = caps.quota_bytes_per_user.saturating_sub(used);
    if room == 0 || req.size > room {
        return Err(UploadError::OverQuota { used, quota: caps.quota_bytes_per_user });
    }
    Ok(room)
}

async fn open(ctx: &Ctx, req: UploadRequest) -> Result<UploadTicket, UploadError> {
    let room = room_for(ctx, &req).await?;
    let now = now_ms();
    let ttl_ms = i64::try_from(ctx.config.uploads.url_ttl_seconds).unwrap_or(i64::MAX / 2) * 1000;
    let expires_at = now + ttl_ms;
    let id = RecordId::from_uuid(uuid::Uuid::now_v7());
    let record = ctx
        .store
        .create_pending(NewRecord {
            id: id.clone(),
            owner: req.owner.clone(),
            filename: req.filename.clone(),
            content_type: req.content_type.clone(),
            declared_size: i64::try_from(req.size).unwrap_or(i64::MAX),
            metadata: req.metadata.clone(),
            upload_expires_at: expires_at,
            now,
        })
        .await?;
    let presigned = if req.presign {
        Some(ctx.objects.presign_put(&id.object_key(), req.size, &req.content_type, expires_at / 1000).await?)
    } else {
        None
    };
    tracing::info!(record_id = %id, owner = %req.owner, size = req.size, presigned = req.presign, "upload opened");
    Ok(UploadTicket { record, presigned, expires_at, room })
}
