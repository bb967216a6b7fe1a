//! Records put straight into a record store (no service), for the store tests.

use orakgaraki::domain::{RecordId, RecordStatus};
use orakgaraki::store::{NewRecord, RecordStore};

/// A new PENDING record of `owner`, created at `now`.
pub async fn pending(s: &dyn RecordStore, owner: &str, now: i64) -> RecordId {
    let id = RecordId::from_uuid(uuid::Uuid::now_v7());
    s.create_pending(NewRecord {
        id: id.clone(),
        owner: owner.into(),
        filename: "a.wav".into(),
        content_type: "audio/wav".into(),
        declared_size: 10,
        metadata: None,
        upload_expires_at: now + 1000,
        now,
    })
    .await
    .unwrap();
    id
}

/// A new QUEUED record of `owner` (created and uploaded at `now`).
pub async fn queued(s: &dyn RecordStore, owner: &str, now: i64) -> RecordId {
    let id = pending(s, owner, now).await;
    let ev = s.mark_uploaded(&id, 10, "hash", now).await.unwrap();
    assert_eq!(ev.iter().map(|e| e.status).collect::<Vec<_>>(), [RecordStatus::Uploaded, RecordStatus::Queued]);
    assert_eq!(ev[1].seq, 2);
    id
}
