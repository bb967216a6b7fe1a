//! Dead letters: FAILED records kept for review, the history of their attempts,
//! and the audit trail of what admins did with them (requeue or discard).

use super::RecordId;
use super::record::rfc3339_millis;
use serde::{Deserialize, Serialize};

/// One processing attempt and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempt: i32,
    /// The instance that ran it.
    pub worker: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: i64,
    /// "completed", "retrying", "failed" or "lease_expired".
    pub outcome: String,
    pub error: Option<String>,
}

impl AttemptView {
    pub fn new(
        attempt: i32,
        worker: String,
        started_at: i64,
        finished_at: i64,
        outcome: String,
        error: Option<String>,
    ) -> Self {
        AttemptView {
            attempt,
            worker,
            started_at: rfc3339_millis(started_at),
            finished_at: rfc3339_millis(finished_at),
            duration_ms: (finished_at - started_at).max(0),
            outcome,
            error,
        }
    }
}

/// A FAILED record as the dead-letter list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub record_id: RecordId,
    pub owner: String,
    pub filename: String,
    pub size: Option<i64>,
    pub content_hash: Option<String>,
    /// When it failed for good.
    pub failed_at: String,
    /// Attempts made, all told.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// What an admin did with a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeadLetterAction {
    /// Back to QUEUED with a fresh budget of attempts.
    Requeue,
    /// Deleted with its object; only the audit row remains.
    Discard,
}

impl DeadLetterAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterAction::Requeue => "requeue",
            DeadLetterAction::Discard => "discard",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "requeue" => Some(DeadLetterAction::Requeue),
            "discard" => Some(DeadLetterAction::Discard),
            _ => None,
        }
    }
}

/// One row of the audit trail: the record as it was when the admin acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub record_id: String,
    pub owner: String,
    pub filename: String,
    pub action: DeadLetterAction,
    /// The admin who acted (their token's subject).
    pub admin: String,
    pub at: String,
    pub error: Option<String>,
    pub attempts: i32,
    pub history: Vec<AttemptView>,
}

/// Which dead letters to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// Only this owner's.
    pub owner: Option<String>,
    /// Only those whose last error contains this text.
    pub error_contains: Option<String>,
    /// Only those that failed at or after this time (unix ms).
    pub failed_after: Option<i64>,
    /// Only those that failed before this time (unix ms).
    pub failed_before: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_duration_is_never_negative() {
        let a = AttemptView::new(1, "w".into(), 2_000, 1_500, "failed".into(), None);
        assert_eq!(a.duration_ms, 0);
        let b = AttemptView::new(2, "w".into(), 1_000, 1_750, "completed".into(), None);
        assert_eq!((b.duration_ms, b.started_at.as_str()), (750, "1970-01-01T00:00:01.000Z"));
    }

    #[test]
    fn actions_round_trip() {
        for a in [DeadLetterAction::Requeue, DeadLetterAction::Discard] {
            assert_eq!(DeadLetterAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(DeadLetterAction::parse("delete"), None);
    }
}
