//! The dead-letter store: FAILED records, their attempt history, and the audit
//! trail of admins' requeues and discards. Implemented by each database
//! (`db/dead_letters.rs`).

use super::{ListCursor, StoreError};
use crate::domain::dead_letter::{AttemptView, AuditEntry, DeadLetter, DeadLetterFilter};
use crate::domain::{RecordId, StatusEvent};
use async_trait::async_trait;

#[async_trait]
pub trait DeadLetterStore: Send + Sync + 'static {
    /// FAILED records matching `filter`, most recently failed first, after `after`
    /// (the (failed at, id) of the last one seen).
    async fn dead_letters(
        &self,
        filter: &DeadLetterFilter,
        limit: i64,
        after: Option<&ListCursor>,
    ) -> Result<Vec<(DeadLetter, i64)>, StoreError>;
    /// One dead letter. `NotDeadLetter` when the record exists but is not FAILED.
    async fn dead_letter(&self, id: &RecordId) -> Result<DeadLetter, StoreError>;
    /// A record's attempts, in order.
    async fn attempt_history(&self, id: &RecordId) -> Result<Vec<AttemptView>, StoreError>;
    /// FAILED → QUEUED with a fresh budget of attempts, and an audit row, in one
    /// transaction. `NotDeadLetter` for any other status (a COMPLETED record is
    /// never processed twice this way).
    async fn requeue_dead_letter(&self, id: &RecordId, admin: &str, now: i64) -> Result<StatusEvent, StoreError>;
    /// Deletes a FAILED record with its history, writing an audit row that keeps a
    /// copy; returns the object key (for the caller to delete the object).
    async fn discard_dead_letter(&self, id: &RecordId, admin: &str, now: i64) -> Result<String, StoreError>;
    /// Blanks the owner and filename of audit rows written before `cutoff` (unix
    /// ms): the trail of what admins did stays, whose recording it was does not.
    async fn forget_audit_identities(&self, cutoff: i64) -> Result<u64, StoreError>;
    /// The audit trail, newest first, optionally for one record; ids below `before`.
    async fn dead_letter_audit(
        &self,
        record_id: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError>;
}
