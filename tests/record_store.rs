//! The record store against real databases — a SQLite file and a MariaDB/MySQL
//! database — with the same tests for both: transitions, leases as fencing
//! tokens, retries, reclaiming, expiry; and, on MySQL, instances claiming at once.

mod common;

use common::mysql::TestMysql;
use common::records::queued;
use orakgaraki::domain::{Analysis, FailureOutcome, RecordId, RecordStatus};
use orakgaraki::store::{LeaseScope, MysqlStore, NewRecord, RecordStore, SqliteStore, StoreError};
use std::sync::Arc;

fn analysis() -> Analysis {
    Analysis { duration_s: 1.0, sample_rate: 8000, channels: 1, format: "wav/pcm16".into(), ..Analysis::default() }
}

/// What keeps a test database alive (a temp dir or a MySQL database) until dropped.
type Guard = Box<dyn std::any::Any>;

async fn sqlite() -> (Guard, Arc<dyn RecordStore>) {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("t.sqlite3").to_string_lossy().into_owned();
    let s = SqliteStore::open(&url, 2).await.unwrap();
    (Box::new(dir), Arc::new(s))
}

async fn mysql() -> (Guard, Arc<dyn RecordStore>) {
    let db = TestMysql::create().await;
    let s = MysqlStore::open(&db.url, 4).await.unwrap();
    (Box::new(db), Arc::new(s))
}

/// Runs each listed test body against both backends.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite { $( #[tokio::test] async fn $name() { let (_g, s) = super::sqlite().await; super::$name(&*s).await } )* }
        mod on_mysql { $( #[tokio::test] async fn $name() { let (_g, s) = super::mysql().await; super::$name(&*s).await } )* }
    };
}

on_both!(
    a_reclaimed_lease_fences_off_the_old_worker,
    illegal_transitions_are_refused,
    retries_wait_for_their_time_and_exhausted_leases_fail,
    claims_are_oldest_first_and_limited,
    unfinished_uploads_expire_and_deletes_remove_everything,
    owners_are_compared_exactly,
);

async fn a_reclaimed_lease_fences_off_the_old_worker(s: &dyn RecordStore) {
    let id = queued(s, "u", 1).await;
    let (old, ev) = s.claim_jobs(5, "instance-a", 100, 2).await.unwrap().remove(0);
    assert_eq!((ev.status, old.attempt), (RecordStatus::Processing, 1));
    // Instance b starts, holding the data dir: a's lease goes back to the queue.
    let back = s.reclaim_leases(3, LeaseScope::NotOwnedBy("instance-b"), 4).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].status, RecordStatus::Queued);
    let (new, _) = s.claim_jobs(5, "instance-b", 100, 4).await.unwrap().remove(0);
    assert_eq!(new.attempt, 2);
    // The old worker's late result and late failure are both dropped.
    assert_eq!(s.complete(&old, &analysis(), 5).await.unwrap(), None);
    assert_eq!(s.fail(&old, "late", FailureOutcome::Dead, 5).await.unwrap(), None);
    let done = s.complete(&new, &analysis(), 6).await.unwrap().unwrap();
    assert_eq!(done.status, RecordStatus::Completed);
    // Completing twice does nothing.
    assert_eq!(s.complete(&new, &analysis(), 7).await.unwrap(), None);
    let rec = s.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.view.status, RecordStatus::Completed);
    assert_eq!(rec.view.attempts, 2);
    assert_eq!(rec.view.analysis, Some(analysis()));
}

async fn illegal_transitions_are_refused(s: &dyn RecordStore) {
    let id = queued(s, "u", 1).await;
    let err = s.mark_uploaded(&id, 10, "hash", 2).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(t) if t.from == RecordStatus::Queued), "uploading twice");
    let missing = RecordId::from_uuid(uuid::Uuid::now_v7());
    assert!(matches!(s.mark_uploaded(&missing, 1, "h", 2).await, Err(StoreError::NotFound)));
}

async fn retries_wait_for_their_time_and_exhausted_leases_fail(s: &dyn RecordStore) {
    let id = queued(s, "u", 1).await;
    let (job, _) = s.claim_jobs(1, "me", 100, 2).await.unwrap().remove(0);
    let ev = s.fail(&job, "disk hiccup", FailureOutcome::RetryAt(50), 3).await.unwrap().unwrap();
    assert_eq!((ev.status, ev.error.as_deref()), (RecordStatus::Retrying, Some("disk hiccup")));
    assert!(s.release_due_retries(49).await.unwrap().is_empty());
    let released = s.release_due_retries(50).await.unwrap();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].status, RecordStatus::Queued);

    // A lease that expires on the last allowed attempt ends FAILED.
    let (job, _) = s.claim_jobs(1, "me", 60, 51).await.unwrap().remove(0);
    assert_eq!(job.attempt, 2);
    assert!(s.reclaim_leases(59, LeaseScope::Expired, 2).await.unwrap().is_empty(), "not expired yet");
    let ev = s.reclaim_leases(61, LeaseScope::Expired, 2).await.unwrap();
    assert_eq!(ev[0].status, RecordStatus::Failed);
    assert!(ev[0].error.as_deref().unwrap().contains("lease expired"));
    assert_eq!(s.get(&id).await.unwrap().unwrap().view.status, RecordStatus::Failed);
}

async fn claims_are_oldest_first_and_limited(s: &dyn RecordStore) {
    let a = queued(s, "u", 1).await;
    let b = queued(s, "u", 2).await;
    let c = queued(s, "u", 3).await;
    let first: Vec<RecordId> =
        s.claim_jobs(2, "me", 100, 4).await.unwrap().into_iter().map(|(j, _)| j.record_id).collect();
    assert_eq!(first, [a, b]);
    let rest: Vec<RecordId> =
        s.claim_jobs(2, "me", 100, 4).await.unwrap().into_iter().map(|(j, _)| j.record_id).collect();
    assert_eq!(rest, [c]);
    assert!(s.claim_jobs(2, "me", 100, 4).await.unwrap().is_empty());
    let counts = s.count_by_status().await.unwrap();
    assert_eq!(counts, [(RecordStatus::Processing, 3)]);
}

async fn unfinished_uploads_expire_and_deletes_remove_everything(s: &dyn RecordStore) {
    let done = queued(s, "u", 1).await;
    let pending = RecordId::from_uuid(uuid::Uuid::now_v7());
    s.create_pending(NewRecord {
        id: pending.clone(),
        owner: "u".into(),
        filename: "p.wav".into(),
        content_type: "audio/wav".into(),
        declared_size: 5,
        metadata: Some(serde_json::json!({"k": 1})),
        upload_expires_at: 20,
        now: 10,
    })
    .await
    .unwrap();
    assert!(s.expire_pending(10).await.unwrap().is_empty());
    assert_eq!(s.expire_pending(11).await.unwrap(), [pending.object_key()]);
    assert!(s.get(&pending).await.unwrap().is_none());
    assert!(s.get(&done).await.unwrap().is_some(), "only PENDING records expire");
    assert_eq!(s.delete(&done).await.unwrap(), Some(done.object_key()));
    assert_eq!(s.delete(&done).await.unwrap(), None);
    assert!(s.list_for_owner("u", 10, None).await.unwrap().is_empty());
}

async fn owners_are_compared_exactly(s: &dyn RecordStore) {
    queued(s, "Alice", 1).await;
    assert!(s.list_for_owner("alice", 10, None).await.unwrap().is_empty(), "owner names are case-sensitive");
    assert_eq!(s.list_for_owner("Alice", 10, None).await.unwrap().len(), 1);
}

/// Several instances claiming from one MySQL database at once: every job is
/// leased exactly once, and nobody waits on anybody's locked rows.
#[tokio::test]
async fn instances_sharing_mysql_never_claim_the_same_job() {
    let db = TestMysql::create().await;
    let first = MysqlStore::open(&db.url, 4).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(queued(&first, "u", i).await);
    }
    let mut tasks = Vec::new();
    for n in 0..4 {
        // Each "instance" has its own pool, as separate processes would.
        let store = MysqlStore::open(&db.url, 2).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let me = format!("instance-{n}");
            let mut mine = Vec::new();
            loop {
                let got = store.claim_jobs(3, &me, 1_000, 100).await.unwrap();
                if got.is_empty() {
                    break mine;
                }
                for (job, _) in got {
                    assert_eq!(
                        store.complete(&job, &analysis(), 101).await.unwrap().unwrap().status,
                        RecordStatus::Completed
                    );
                    mine.push(job.record_id);
                }
            }
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    claimed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(claimed, ids, "each job claimed exactly once");
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM attempts").await, 60);
    assert_eq!(first.count_by_status().await.unwrap(), [(RecordStatus::Completed, 60)]);
}
