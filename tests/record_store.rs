//! The record store against real databases — a SQLite file and a MariaDB/MySQL
//! database — with the same tests for both: transitions, leases as fencing
//! tokens, retries, reclaiming, expiry; and, on MySQL, instances claiming at once.

mod common;

use common::mysql::TestMysql;
use common::records::{pending, queued};
use orakgaraki::domain::alert::{AlertStatus, IncomingAlert};
use orakgaraki::domain::dead_letter::{DeadLetterAction, DeadLetterFilter};
use orakgaraki::domain::{Analysis, FailureOutcome, RecordId, RecordStatus};
use orakgaraki::store::{Database, LeaseScope, MysqlStore, NewRecord, RecordStore, SqliteStore, StoreError};
use std::sync::Arc;

fn analysis() -> Analysis {
    Analysis { duration_s: 1.0, sample_rate: 8000, channels: 1, format: "wav/pcm16".into(), ..Analysis::default() }
}

/// What keeps a test database alive (a temp dir or a MySQL database) until dropped.
type Guard = Box<dyn std::any::Any>;

async fn sqlite() -> (Guard, Arc<dyn Database>) {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("t.sqlite3").to_string_lossy().into_owned();
    let s = SqliteStore::open(&url, 2).await.unwrap();
    (Box::new(dir), Arc::new(s))
}

async fn mysql() -> (Guard, Arc<dyn Database>) {
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
    dead_letters_requeue_with_a_fresh_budget_and_discard_with_an_audit,
    the_sweeper_finds_unfinished_uploads_and_long_waits,
    alerts_keep_their_status_changes_and_ignore_repeats,
);

fn alert(fingerprint: &str, status: AlertStatus, starts_at: i64) -> IncomingAlert {
    IncomingAlert {
        fingerprint: fingerprint.into(),
        status,
        name: "DeadLettersGrowing".into(),
        severity: "warning".into(),
        labels: [
            ("alertname".to_owned(), "DeadLettersGrowing".to_owned()),
            ("instance".to_owned(), "app1:9464".to_owned()),
        ]
        .into(),
        annotations: [("summary".to_owned(), "\u{c624}\u{b958} — 3 new dead letters".to_owned())].into(),
        starts_at,
        ends_at: (status == AlertStatus::Resolved).then_some(starts_at + 60_000),
        generator_url: "http://prometheus:9090/graph".into(),
    }
}

async fn alerts_keep_their_status_changes_and_ignore_repeats(s: &dyn Database) {
    let t0 = 1_796_032_800_000;
    let first = s.record_alert(&alert("fp1", AlertStatus::Firing, t0), t0 + 10).await.unwrap().expect("new");
    assert_eq!(first.status, AlertStatus::Firing);
    assert_eq!(first.annotations["summary"], "\u{c624}\u{b958} — 3 new dead letters", "text round-trips (utf8mb4)");
    assert!(s.record_alert(&alert("fp1", AlertStatus::Firing, t0), t0 + 20).await.unwrap().is_none(), "a repeat");
    let resolved = s.record_alert(&alert("fp1", AlertStatus::Resolved, t0), t0 + 30).await.unwrap().expect("a change");
    assert_eq!(resolved.id, first.id);
    assert_eq!(resolved.ends_at.as_deref(), Some("2026-11-30T10:01:00.000Z"));
    let changes: Vec<AlertStatus> = resolved.changes.iter().map(|c| c.status).collect();
    assert_eq!(changes, [AlertStatus::Firing, AlertStatus::Resolved]);
    assert!(s.record_alert(&alert("fp1", AlertStatus::Firing, t0), t0 + 40).await.unwrap().is_none(), "late firing");
    // The same rule firing again later is a new alert.
    let again =
        s.record_alert(&alert("fp1", AlertStatus::Firing, t0 + 3_600_000), t0 + 50).await.unwrap().expect("new");
    assert!(again.id > first.id);
    let other = s.record_alert(&alert("fp2", AlertStatus::Firing, t0), t0 + 60).await.unwrap().expect("new");

    let all = s.alerts(None, None, 10).await.unwrap();
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), [other.id, again.id, first.id], "newest first");
    assert_eq!(all[2].changes.len(), 2);
    let firing = s.alerts(Some(AlertStatus::Firing), None, 10).await.unwrap();
    assert_eq!(firing.len(), 2);
    let page = s.alerts(None, Some(again.id), 10).await.unwrap();
    assert_eq!(page.iter().map(|a| a.id).collect::<Vec<_>>(), [first.id]);
}

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

async fn dead_letters_requeue_with_a_fresh_budget_and_discard_with_an_audit(s: &dyn Database) {
    // Two attempts allowed: the second lease expiring makes it a dead letter.
    let id = queued(s, "u", 1).await;
    let (job, _) = s.claim_jobs(1, "w", 10, 2).await.unwrap().remove(0);
    assert_eq!((job.attempt, job.retry_attempt, job.queued_at), (1, 1, 1));
    s.fail(&job, "flaky disk", FailureOutcome::RetryAt(3), 3).await.unwrap().unwrap();
    s.release_due_retries(3).await.unwrap();
    let (job, _) = s.claim_jobs(1, "w", 10, 4).await.unwrap().remove(0);
    let ev = s.fail(&job, "flaky again", FailureOutcome::Dead, 5).await.unwrap().unwrap();
    assert_eq!(ev.status, RecordStatus::Failed);

    let listed = s.dead_letters(&DeadLetterFilter::default(), 10, None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].0.attempts, listed[0].0.error.as_deref()), (2, Some("flaky again")));
    let none = DeadLetterFilter { error_contains: Some("100%_".into()), ..Default::default() };
    assert!(s.dead_letters(&none, 10, None).await.unwrap().is_empty(), "LIKE wildcards are literal");
    let history = s.attempt_history(&id).await.unwrap();
    assert_eq!(history.iter().map(|a| a.outcome.as_str()).collect::<Vec<_>>(), ["retrying", "failed"]);

    // Requeued: attempt 3 is the first of a fresh budget, so two more are allowed.
    let ev = s.requeue_dead_letter(&id, "admin", 6).await.unwrap();
    assert_eq!((ev.status, ev.error.as_deref()), (RecordStatus::Queued, None));
    assert!(matches!(s.dead_letter(&id).await, Err(StoreError::NotDeadLetter(RecordStatus::Queued))));
    let (job, _) = s.claim_jobs(1, "w", 10, 7).await.unwrap().remove(0);
    assert_eq!((job.attempt, job.retry_attempt), (3, 1));
    let back = s.reclaim_leases(11, LeaseScope::Expired, 2).await.unwrap();
    assert_eq!(back[0].status, RecordStatus::Queued, "one attempt of the new budget used");
    let (job, _) = s.claim_jobs(1, "w", 20, 12).await.unwrap().remove(0);
    assert_eq!((job.attempt, job.retry_attempt), (4, 2));
    s.complete(&job, &analysis(), 13).await.unwrap().unwrap();
    // A COMPLETED record is neither requeued nor discarded.
    assert!(matches!(
        s.requeue_dead_letter(&id, "admin", 14).await,
        Err(StoreError::NotDeadLetter(RecordStatus::Completed))
    ));
    assert!(matches!(s.discard_dead_letter(&id, "admin", 14).await, Err(StoreError::NotDeadLetter(_))));

    // A permanent failure, discarded: gone, with an audit row that keeps its history.
    let other = queued(s, "v", 20).await;
    let (job, _) = s.claim_jobs(1, "w", 40, 21).await.unwrap().remove(0);
    s.fail(&job, "not audio", FailureOutcome::Dead, 22).await.unwrap().unwrap();
    let key = s.discard_dead_letter(&other, "admin2", 23).await.unwrap();
    assert_eq!(key, other.object_key());
    assert!(s.get(&other).await.unwrap().is_none());
    assert!(matches!(s.discard_dead_letter(&other, "admin2", 24).await, Err(StoreError::NotFound)));
    let audit = s.dead_letter_audit(None, None, 10).await.unwrap();
    assert_eq!(
        audit.iter().map(|a| a.action).collect::<Vec<_>>(),
        [DeadLetterAction::Discard, DeadLetterAction::Requeue]
    );
    assert_eq!((audit[0].admin.as_str(), audit[0].owner.as_str(), audit[0].history.len()), ("admin2", "v", 1));
    assert_eq!(audit[1].history.len(), 2);
    assert_eq!(s.dead_letter_audit(Some(id.as_str()), None, 10).await.unwrap().len(), 1);
    assert_eq!(s.dead_letter_audit(None, Some(audit[0].id), 10).await.unwrap().len(), 1, "paging by id");
    assert_ne!(audit[1].owner, "", "the requeue row names its owner");

    // Past retention (here: before 10) a row keeps what the admin did, not whose it was.
    assert_eq!(s.forget_audit_identities(10).await.unwrap(), 1);
    assert_eq!(s.forget_audit_identities(10).await.unwrap(), 0, "once");
    let audit = s.dead_letter_audit(None, None, 10).await.unwrap();
    assert_eq!((audit[0].owner.as_str(), audit[1].owner.as_str(), audit[1].filename.as_str()), ("v", "", ""));
    assert_eq!((audit[1].action, audit[1].admin.as_str()), (DeadLetterAction::Requeue, "admin"));
    // A user who leaves takes their name out of the rest.
    s.erase_owner_traces("v").await.unwrap();
    let audit = s.dead_letter_audit(None, None, 10).await.unwrap();
    assert!(audit.iter().all(|a| a.owner.is_empty() && a.filename.is_empty()), "{audit:?}");
    assert_eq!(audit[0].admin, "admin2");
}

async fn the_sweeper_finds_unfinished_uploads_and_long_waits(s: &dyn Database) {
    let pending = pending(s, "u", 5).await;
    assert!(s.pending_uploads(5, 10).await.unwrap().is_empty(), "not older than the cutoff");
    assert_eq!(s.pending_uploads(6, 10).await.unwrap(), [(pending.clone(), pending.object_key())]);
    // Without the outbox a long wait is only found; with it, announced again and its clock reset.
    let waiting = queued(s, "u", 10).await;
    assert_eq!(s.reannounce_queued(11, 50, 10).await.unwrap(), std::slice::from_ref(&waiting));
    assert_eq!(s.reannounce_queued(11, 50, 10).await.unwrap(), std::slice::from_ref(&waiting));
    s.enable_outbox();
    assert_eq!(s.reannounce_queued(11, 60, 10).await.unwrap(), std::slice::from_ref(&waiting));
    assert!(s.reannounce_queued(11, 61, 10).await.unwrap().is_empty(), "queued_at moved to 60");
    let rows = s.outbox_pending(10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].payload.contains(waiting.as_str()), "{rows:?}");
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
