//! Adapters to the outside world: the record database, the object store and the
//! files kept in the data dir. Each outside system sits behind a small trait with
//! one implementation per backend, so actors and handlers never name a backend.

pub mod alerts;
pub mod db;
pub mod dead_letters;
pub mod kafka;
pub mod lock;
pub mod objects;
pub mod redis;
pub mod s3;
pub mod secrets;
pub mod vectors;

use crate::domain::{
    Analysis, Embedding, FailureOutcome, Job, RecordId, RecordStatus, RecordView, StatusEvent, TransitionError,
};
use async_trait::async_trait;

pub use alerts::AlertStore;
pub use db::{Database, MysqlStore, OpenDatabase, SqliteStore, open_database};
pub use dead_letters::DeadLetterStore;
pub use objects::{LocalObjects, ObjectError, ObjectStore, PresignedPut, PutOutcome};

/// A failed database operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record not found")]
    NotFound,
    #[error(transparent)]
    Conflict(#[from] TransitionError),
    #[error("database error: {0}")]
    Database(String),
    #[error("database pool error: {0}")]
    Pool(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("the record is {0}, not a dead letter")]
    NotDeadLetter(RecordStatus),
}

impl StoreError {
    /// The database aborted the transaction to break a deadlock or a lock wait,
    /// or a guarded update lost a race: trying again is the remedy.
    pub fn is_lock_conflict(&self) -> bool {
        match self {
            StoreError::Database(m) => {
                m.contains("Deadlock found") || m.contains("Lock wait timeout") || m.contains("changed concurrently")
            }
            _ => false,
        }
    }
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => StoreError::NotFound,
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// A new record, as the upload session creates it (PENDING).
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub id: RecordId,
    pub owner: String,
    pub filename: String,
    pub content_type: String,
    pub declared_size: i64,
    pub metadata: Option<serde_json::Value>,
    pub upload_expires_at: i64,
    pub now: i64,
}

/// A message waiting in the transactional outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub topic: String,
    pub key: String,
    pub payload: String,
}

/// A COMPLETED record whose embedding is missing or from another model version.
#[derive(Debug, Clone)]
pub struct StaleEmbedding {
    pub record_id: RecordId,
    pub object_key: String,
    pub filename: String,
}

/// What one user holds: recordings waiting or in analysis, and bytes stored
/// (the declared size of uploads not yet arrived).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerUsage {
    pub active: i64,
    pub bytes: i64,
}

/// A record with the facts the API does not show.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub view: RecordView,
    pub owner: String,
    pub object_key: String,
    pub declared_size: i64,
    pub seq: i64,
    /// `view.created_at` as unix ms.
    pub created_at_ms: i64,
}

impl StoredRecord {
    /// The record's current status as a status event (what a new subscriber or a
    /// poll sees first).
    pub fn status_event(&self) -> StatusEvent {
        StatusEvent {
            record_id: self.view.id.clone(),
            status: self.view.status,
            attempt: self.view.attempts,
            error: self.view.error.clone(),
            seq: self.seq,
        }
    }
}

/// Position in a newest-first listing: (created_at, id) of the last item seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub created_at: i64,
    pub id: String,
}

/// Which leases to take back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseScope<'a> {
    /// Leases past their expiry, whoever holds them.
    Expired,
    /// Every lease held by this instance (its pool restarted: no worker holds them).
    OwnedBy(&'a str),
    /// Every lease not held by this instance (embedded mode at start-up, holding the
    /// data-dir lock: their holders are dead).
    NotOwnedBy(&'a str),
}

/// What a catalog import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOutcome {
    pub inserted: u64,
    pub updated: u64,
    /// Songs in the catalog afterwards.
    pub total: u64,
}

/// The song catalog and the songs each user turned down.
#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Inserts new songs and replaces known ones (by `song_id`), in one transaction.
    async fn upsert_songs(&self, songs: &[crate::domain::catalog::Song], now: i64)
    -> Result<ImportOutcome, StoreError>;
    /// Every song with at least `min_popularity`, by id.
    async fn songs(&self, min_popularity: i64) -> Result<Vec<crate::domain::catalog::Song>, StoreError>;
    async fn count_songs(&self) -> Result<i64, StoreError>;
    /// Records a dislike; false when the song is unknown. Repeating one is harmless.
    async fn add_dislike(&self, owner: &str, song_id: i64, now: i64) -> Result<bool, StoreError>;
    async fn dislikes(&self, owner: &str) -> Result<std::collections::HashSet<i64>, StoreError>;
}

/// The record database: records, their status transitions, job leases and results.
/// Every transition happens in one transaction and returns the event announcing it.
#[async_trait]
pub trait RecordStore: Send + Sync + 'static {
    /// Cheap liveness check.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Inserts a PENDING record.
    async fn create_pending(&self, new: NewRecord) -> Result<StoredRecord, StoreError>;
    /// What `owner` holds now (for the per-user caps on uploads).
    async fn owner_usage(&self, owner: &str) -> Result<OwnerUsage, StoreError>;
    /// Erases what is left of `owner` once their records are deleted: their song
    /// dislikes and unsent outbox messages, and their name and filenames in the
    /// dead-letter audit (the admins' actions stay, anonymous). Rows changed.
    async fn erase_owner_traces(&self, owner: &str) -> Result<u64, StoreError>;
    /// One record with its analysis.
    async fn get(&self, id: &RecordId) -> Result<Option<StoredRecord>, StoreError>;
    /// An owner's records, newest first.
    async fn list_for_owner(
        &self,
        owner: &str,
        limit: i64,
        after: Option<&ListCursor>,
    ) -> Result<Vec<StoredRecord>, StoreError>;
    /// Makes a record public or private, shown to others under `display_name`.
    async fn set_visibility(
        &self,
        id: &RecordId,
        visibility: crate::domain::Visibility,
        display_name: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Replaces a record's client metadata.
    async fn set_metadata(&self, id: &RecordId, metadata: &serde_json::Value, now: i64) -> Result<(), StoreError>;
    /// The object arrived: PENDING → UPLOADED → QUEUED, in one transaction.
    async fn mark_uploaded(
        &self,
        id: &RecordId,
        size: i64,
        content_hash: &str,
        now: i64,
    ) -> Result<Vec<StatusEvent>, StoreError>;
    /// Leases up to `max` QUEUED records, oldest first: QUEUED → PROCESSING.
    async fn claim_jobs(
        &self,
        max: usize,
        owner: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<Vec<(Job, StatusEvent)>, StoreError>;
    /// Leases one QUEUED record (a job message named it): QUEUED → PROCESSING.
    /// `None` when it is not QUEUED (already taken, done, deleted: a duplicate message).
    async fn claim_job(
        &self,
        id: &RecordId,
        owner: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<Option<(Job, StatusEvent)>, StoreError>;
    /// From now on every change to QUEUED, COMPLETED or FAILED also writes an
    /// outbox row in its transaction (for Kafka).
    fn enable_outbox(&self);
    /// The oldest outbox rows, up to `limit`.
    async fn outbox_pending(&self, limit: i64) -> Result<Vec<OutboxRow>, StoreError>;
    /// Removes outbox rows once they were produced.
    async fn outbox_done(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Stores the analysis: PROCESSING → COMPLETED. `None` when the lease was lost
    /// (the job was reclaimed or the record deleted): the result is dropped.
    async fn complete(&self, job: &Job, analysis: &Analysis, now: i64) -> Result<Option<StatusEvent>, StoreError>;
    /// A record's stored embedding with its vector.
    async fn embedding(&self, id: &RecordId) -> Result<Option<Embedding>, StoreError>;
    /// Replaces a COMPLETED record's embedding (re-embedding); false when the
    /// record is gone or no longer COMPLETED.
    async fn put_embedding(&self, id: &RecordId, embedding: &Embedding, now: i64) -> Result<bool, StoreError>;
    /// COMPLETED records without an embedding from `model` at `version`, by id after `after`.
    async fn stale_embeddings(
        &self,
        model: &str,
        version: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StaleEmbedding>, StoreError>;
    /// How many COMPLETED records lack an embedding from `model` at `version`.
    async fn count_stale_embeddings(&self, model: &str, version: &str) -> Result<i64, StoreError>;
    /// Records a failed attempt: PROCESSING → RETRYING or FAILED. `None` when the lease was lost.
    async fn fail(
        &self,
        job: &Job,
        error: &str,
        outcome: FailureOutcome,
        now: i64,
    ) -> Result<Option<StatusEvent>, StoreError>;
    /// RETRYING records whose time has come: → QUEUED.
    async fn release_due_retries(&self, now: i64) -> Result<Vec<StatusEvent>, StoreError>;
    /// PROCESSING records in `scope`: back to QUEUED, or FAILED once `max_attempts` were used.
    async fn reclaim_leases(
        &self,
        now: i64,
        scope: LeaseScope<'_>,
        max_attempts: i32,
    ) -> Result<Vec<StatusEvent>, StoreError>;
    /// PENDING records created before `created_before`, oldest first (the sweeper
    /// checks whether their object arrived without an event).
    async fn pending_uploads(&self, created_before: i64, limit: i64) -> Result<Vec<(RecordId, String)>, StoreError>;
    /// QUEUED records queued before `queued_before`, oldest first. With the outbox
    /// on (Kafka), each is announced again (a new outbox row; its queue time is
    /// bumped so the next sweep waits again): the message may have been lost with
    /// a broker. A second message is harmless, since a claim needs QUEUED.
    async fn reannounce_queued(&self, queued_before: i64, now: i64, limit: i64) -> Result<Vec<RecordId>, StoreError>;
    /// PENDING records created before `cutoff` whose upload never came: deleted; returns their object keys.
    async fn expire_pending(&self, cutoff: i64) -> Result<Vec<String>, StoreError>;
    /// Removes a record, its analysis and history; returns its object key.
    async fn delete(&self, id: &RecordId) -> Result<Option<String>, StoreError>;
    /// How many records are in each status.
    async fn count_by_status(&self) -> Result<Vec<(RecordStatus, i64)>, StoreError>;
}
