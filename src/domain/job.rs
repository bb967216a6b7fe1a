//! A unit of analysis work: one attempt at one record, held under a lease.

use super::RecordId;
use serde::{Deserialize, Serialize};

/// A claimed job. `attempt` doubles as the fencing token: a result is only
/// accepted while the record is still PROCESSING under this attempt and owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub record_id: RecordId,
    pub object_key: String,
    pub filename: String,
    pub attempt: i32,
    /// This attempt's number since the record was last requeued from the dead
    /// letters (1-based): what the retry policy counts.
    pub retry_attempt: i32,
    /// When the record was queued for this attempt, unix ms (queue wait = claimed_at - queued_at).
    pub queued_at: i64,
    /// The instance holding the lease.
    pub lease_owner: String,
    /// When the claim was made, unix ms.
    pub claimed_at: i64,
}

/// How an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    pub message: String,
    /// Trying again cannot help (not audio, unsupported, empty).
    pub permanent: bool,
}

/// Where a failed attempt sends the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// RETRYING until this time (unix ms), then QUEUED again.
    RetryAt(i64),
    /// FAILED: kept as a dead letter.
    Dead,
}
