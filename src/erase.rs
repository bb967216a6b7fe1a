//! Erasing a recording, or everything of a user: what goes, and in which order.
//!
//! A recording's audio object goes first: if the object store fails, nothing
//! else is touched and the caller can try again — a row is never deleted while
//! its object stays behind, unreachable. Then the vector-index entry, the rows
//! (record, analysis, embedding, attempts, unsent Kafka announcements) and the
//! Redis caches. Erasing a user deletes each of their recordings so, then their
//! dislikes, outbox messages, their name in the dead-letter audit and their
//! Redis counter. (Kafka messages already sent carry the owner and record id
//! until the topics' retention deletes them; they hold no audio and no voiceprint.)

use crate::actors::Ctx;
use crate::domain::RecordId;
use crate::store::{ObjectError, StoreError, StoredRecord};

/// Why an erasure stopped (what was erased before stays erased; trying again
/// finishes the rest).
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("the audio could not be deleted from the object store: {0}")]
    Object(#[source] ObjectError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records read per page while erasing a user.
const PAGE: i64 = 100;

/// Erases one recording.
pub async fn erase_record(ctx: &Ctx, record: &StoredRecord) -> Result<(), EraseError> {
    erase_object(ctx, &record.object_key).await?;
    ctx.unindex_record(&record.view.id).await;
    ctx.store.delete(&record.view.id).await?;
    forget_cached(ctx, &record.view.id).await;
    Ok(())
}

/// Deletes a recording's audio object (already gone counts as deleted): the
/// first step of every erasure, so a failure leaves the rows that point at it.
pub async fn erase_object(ctx: &Ctx, key: &str) -> Result<(), EraseError> {
    match ctx.objects.delete(key).await {
        Ok(()) | Err(ObjectError::NotFound(_)) => Ok(()),
        Err(e) => Err(EraseError::Object(e)),
    }
}

/// Drops what Redis caches about a deleted record (its status and owner).
pub async fn forget_cached(ctx: &Ctx, id: &RecordId) {
    if let Some(bus) = &ctx.bus
        && let Err(e) = bus.redis.forget(id).await
    {
        tracing::warn!(record_id = %id, error = %e, "could not drop a deleted record's cached status");
    }
}

/// Erases every recording of `owner` and what else is kept about them; returns
/// the ids of the recordings erased.
pub async fn erase_user(ctx: &Ctx, owner: &str) -> Result<Vec<RecordId>, EraseError> {
    let mut erased = Vec::new();
    loop {
        let page = ctx.store.list_for_owner(owner, PAGE, None).await?;
        if page.is_empty() {
            break;
        }
        for record in &page {
            erase_record(ctx, record).await?;
            erased.push(record.view.id.clone());
        }
    }
    let traces = ctx.store.erase_owner_traces(owner).await?;
    if let Some(bus) = &ctx.bus
        && let Err(e) = bus.redis.forget_user(owner).await
    {
        tracing::warn!(error = %e, "could not drop a user's rate-limit counter (it expires by itself)");
    }
    tracing::info!(records = erased.len(), other_rows = traces, "erased a user");
    Ok(erased)
}
