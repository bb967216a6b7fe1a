//! The record status machine.
//!
//! ```text
//! PENDING ─▶ UPLOADED ─▶ QUEUED ─▶ PROCESSING ─▶ COMPLETED
//!                          ▲           │
//!                          │           ├─▶ RETRYING ─▶ QUEUED (next attempt)
//!                          │           └─▶ FAILED (dead letter) ─▶ QUEUED (requeue)
//!                          └── PROCESSING (lease expired)
//! ```
//!
//! Every change of status goes through [`RecordStatus::check_transition`]; an
//! illegal one is refused with a [`TransitionError`] (HTTP 409 where a caller asked for it).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a record is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordStatus {
    /// An upload URL was issued; no bytes have arrived yet.
    Pending,
    /// The object is stored; a job is about to be queued.
    Uploaded,
    /// Waiting for a worker.
    Queued,
    /// Leased by a worker, with a deadline.
    Processing,
    /// Analysed; the analysis is stored.
    Completed,
    /// The last attempt failed transiently; the next one is scheduled.
    Retrying,
    /// Gave up: a permanent error or too many attempts.
    Failed,
}

/// A refused change of status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a record cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The status the record is in.
    pub from: RecordStatus,
    /// The status that was asked for.
    pub to: RecordStatus,
}

/// A status string that names no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown record status {0:?}")]
pub struct UnknownStatus(pub String);

impl RecordStatus {
    /// All statuses, in life order.
    pub const ALL: [RecordStatus; 7] = [
        RecordStatus::Pending,
        RecordStatus::Uploaded,
        RecordStatus::Queued,
        RecordStatus::Processing,
        RecordStatus::Completed,
        RecordStatus::Retrying,
        RecordStatus::Failed,
    ];

    /// The name stored in the database and sent over the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Pending => "PENDING",
            RecordStatus::Uploaded => "UPLOADED",
            RecordStatus::Queued => "QUEUED",
            RecordStatus::Processing => "PROCESSING",
            RecordStatus::Completed => "COMPLETED",
            RecordStatus::Retrying => "RETRYING",
            RecordStatus::Failed => "FAILED",
        }
    }

    /// A status after which nothing happens without a person asking.
    pub fn is_terminal(self) -> bool {
        matches!(self, RecordStatus::Completed | RecordStatus::Failed)
    }

    /// Whether `self → to` is a legal step.
    pub fn can_become(self, to: RecordStatus) -> bool {
        use RecordStatus::*;
        matches!(
            (self, to),
            (Pending, Uploaded)
                | (Uploaded, Queued)
                | (Queued, Processing)
                | (Processing, Completed)
                | (Processing, Retrying)
                | (Processing, Failed)
                // A lease expired (the worker or the process died): back to the queue.
                | (Processing, Queued)
                | (Retrying, Queued)
                // Requeue of a dead letter by an operator.
                | (Failed, Queued)
        )
    }

    /// `Ok(())` when `self → to` is legal, the reason otherwise.
    pub fn check_transition(self, to: RecordStatus) -> Result<(), TransitionError> {
        if self.can_become(to) { Ok(()) } else { Err(TransitionError { from: self, to }) }
    }
}

impl fmt::Display for RecordStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordStatus::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::RecordStatus::*;
    use super::*;

    #[test]
    fn happy_path_is_legal() {
        let path = [Pending, Uploaded, Queued, Processing, Completed];
        for w in path.windows(2) {
            assert!(w[0].can_become(w[1]), "{} -> {}", w[0], w[1]);
        }
    }

    #[test]
    fn retry_path_is_legal() {
        let path = [Queued, Processing, Retrying, Queued, Processing, Failed, Queued];
        for w in path.windows(2) {
            assert!(w[0].can_become(w[1]), "{} -> {}", w[0], w[1]);
        }
    }

    #[test]
    fn skipping_and_going_back_is_refused() {
        for (from, to) in [
            (Pending, Queued),
            (Pending, Completed),
            (Uploaded, Processing),
            (Completed, Queued),
            (Completed, Processing),
            (Queued, Completed),
            (Retrying, Processing),
            (Failed, Completed),
        ] {
            let err = from.check_transition(to).unwrap_err();
            assert_eq!(err, TransitionError { from, to });
        }
        // No status goes to itself.
        for s in RecordStatus::ALL {
            assert!(!s.can_become(s), "{s} -> {s}");
        }
    }

    #[test]
    fn names_round_trip() {
        for s in RecordStatus::ALL {
            assert_eq!(s.as_str().parse::<RecordStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        assert!("DONE".parse::<RecordStatus>().is_err());
    }

    #[test]
    fn only_completed_and_failed_are_terminal() {
        let terminal: Vec<_> = RecordStatus::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, vec![Completed, Failed]);
    }
}
