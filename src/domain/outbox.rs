//! What the transactional outbox carries to Kafka: which topic announces which
//! status change, keyed by the record's owner (so one user's records keep their
//! order within a partition), as JSON.

use super::{RecordStatus, StatusEvent};
use serde::{Deserialize, Serialize};

/// A record is ready for its first analysis.
pub const TOPIC_PROCESSING: &str = "audio.processing";
/// A record is ready for another attempt (after a transient failure or a lost lease).
pub const TOPIC_RETRY: &str = "audio.processing.retry";
/// A record failed for good (its attempts are in the dead-letter history).
pub const TOPIC_DLQ: &str = "audio.processing.dlq";
/// A record's analysis is stored.
pub const TOPIC_RESULT: &str = "audio.processing.result";

/// The topics the analysis workers consume.
pub const JOB_TOPICS: [&str; 2] = [TOPIC_PROCESSING, TOPIC_RETRY];

/// The message body on every topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub record_id: String,
    pub owner: String,
    pub status: RecordStatus,
    /// Attempts made so far.
    pub attempt: i32,
    /// The record's sequence number at this change (a consumer may skip stale ones).
    pub seq: i64,
    pub object_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An outbox row to write with a status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub topic: &'static str,
    pub key: String,
    pub payload: String,
}

/// The topic that announces a change to `ev.status`, if any does.
pub fn topic_for(ev: &StatusEvent) -> Option<&'static str> {
    match ev.status {
        RecordStatus::Queued if ev.attempt == 0 => Some(TOPIC_PROCESSING),
        RecordStatus::Queued => Some(TOPIC_RETRY),
        RecordStatus::Completed => Some(TOPIC_RESULT),
        RecordStatus::Failed => Some(TOPIC_DLQ),
        _ => None,
    }
}

/// The announcement of `ev` for a record of `owner` stored at `object_key`.
pub fn announcement(owner: &str, object_key: &str, ev: &StatusEvent) -> Option<Announcement> {
    let topic = topic_for(ev)?;
    let msg = JobMessage {
        record_id: ev.record_id.as_str().to_owned(),
        owner: owner.to_owned(),
        status: ev.status,
        attempt: ev.attempt,
        seq: ev.seq,
        object_key: object_key.to_owned(),
        error: ev.error.clone(),
    };
    let payload = serde_json::to_string(&msg).ok()?;
    Some(Announcement { topic, key: owner.to_owned(), payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RecordId;

    fn ev(status: RecordStatus, attempt: i32) -> StatusEvent {
        StatusEvent { record_id: RecordId::from_uuid(uuid::Uuid::now_v7()), status, attempt, error: None, seq: 3 }
    }

    #[test]
    fn each_change_goes_to_its_topic() {
        assert_eq!(topic_for(&ev(RecordStatus::Queued, 0)), Some(TOPIC_PROCESSING));
        assert_eq!(topic_for(&ev(RecordStatus::Queued, 2)), Some(TOPIC_RETRY));
        assert_eq!(topic_for(&ev(RecordStatus::Completed, 1)), Some(TOPIC_RESULT));
        assert_eq!(topic_for(&ev(RecordStatus::Failed, 4)), Some(TOPIC_DLQ));
        assert_eq!(topic_for(&ev(RecordStatus::Processing, 1)), None);
        assert_eq!(topic_for(&ev(RecordStatus::Retrying, 1)), None);
    }

    #[test]
    fn announcements_are_keyed_by_owner_and_parse_back() {
        let e = ev(RecordStatus::Queued, 0);
        let a = announcement("ana", "audio/x", &e).unwrap();
        assert_eq!((a.topic, a.key.as_str()), (TOPIC_PROCESSING, "ana"));
        let m: JobMessage = serde_json::from_str(&a.payload).unwrap();
        assert_eq!((m.record_id.as_str(), m.seq, m.object_key.as_str()), (e.record_id.as_str(), 3, "audio/x"));
    }
}
