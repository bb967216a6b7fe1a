//! Row types and their mapping to domain types.

use super::schema::{analyses, attempts, embeddings, records};
use crate::domain::record::rfc3339_millis;
use crate::domain::{Analysis, RecordId, RecordStatus, RecordView, StatusEvent, Visibility};
use crate::store::{StoreError, StoredRecord};
use diesel::prelude::{Insertable, Queryable, Selectable};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = records)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::mysql::Mysql))]
pub struct RecordRow {
    pub id: String,
    pub owner: String,
    pub status: String,
    pub seq: i64,
    pub filename: String,
    pub content_type: String,
    pub declared_size: i64,
    pub size: Option<i64>,
    pub object_key: String,
    pub content_hash: Option<String>,
    pub metadata: Option<String>,
    pub attempts: i32,
    pub error: Option<String>,
    pub queued_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub visibility: String,
    /// Attempts made before the last requeue (not counted against the retry budget).
    pub attempt_base: i32,
    pub display_name: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = records)]
pub struct NewRecordRow<'a> {
    pub id: &'a str,
    pub owner: &'a str,
    pub status: &'a str,
    pub seq: i64,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub declared_size: i64,
    pub object_key: &'a str,
    pub metadata: Option<String>,
    pub attempts: i32,
    pub upload_expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = embeddings)]
pub struct NewEmbeddingRow<'a> {
    pub record_id: &'a str,
    pub model: &'a str,
    pub version: &'a str,
    pub dim: i32,
    pub vector: Vec<u8>,
    pub created_at: i64,
}

/// Which model made a record's embedding (the vector left out).
pub type EmbeddingTag = (Option<String>, Option<String>);

#[derive(Debug, Insertable)]
#[diesel(table_name = analyses)]
pub struct NewAnalysisRow<'a> {
    pub record_id: &'a str,
    pub analysis: String,
    pub created_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = attempts)]
pub struct NewAttemptRow<'a> {
    pub record_id: &'a str,
    pub attempt: i32,
    pub worker: &'a str,
    pub started_at: i64,
    pub finished_at: i64,
    pub outcome: &'a str,
    pub error: Option<&'a str>,
}

impl RecordRow {
    pub fn status(&self) -> Result<RecordStatus, StoreError> {
        self.status.parse().map_err(|e: crate::domain::status::UnknownStatus| StoreError::Corrupt(e.to_string()))
    }

    pub fn visibility(&self) -> Result<Visibility, StoreError> {
        self.visibility
            .parse()
            .map_err(|e: crate::domain::record::UnknownVisibility| StoreError::Corrupt(e.to_string()))
    }

    pub fn record_id(&self) -> Result<RecordId, StoreError> {
        RecordId::parse(&self.id).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The event announcing this row's current status.
    pub fn event(&self) -> Result<StatusEvent, StoreError> {
        Ok(StatusEvent {
            record_id: self.record_id()?,
            status: self.status()?,
            attempt: self.attempts,
            error: self.error.clone(),
            seq: self.seq,
        })
    }

    pub fn into_stored(self, analysis: Option<String>, tag: EmbeddingTag) -> Result<StoredRecord, StoreError> {
        let mut analysis = analysis
            .map(|a| serde_json::from_str::<Analysis>(&a))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("analysis of {}: {e}", self.id)))?;
        if let (Some(a), (Some(model), Some(version))) = (analysis.as_mut(), tag) {
            a.embedding = Some(crate::domain::Embedding { model, version, vector: Vec::new() });
        }
        let metadata = self
            .metadata
            .as_deref()
            .map(serde_json::from_str::<serde_json::Value>)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("metadata of {}: {e}", self.id)))?;
        let view = RecordView {
            id: self.record_id()?,
            status: self.status()?,
            filename: self.filename.clone(),
            content_type: self.content_type.clone(),
            visibility: self.visibility()?,
            display_name: self.display_name.clone(),
            size: self.size.unwrap_or(self.declared_size),
            created_at: rfc3339_millis(self.created_at),
            updated_at: rfc3339_millis(self.updated_at),
            attempts: self.attempts,
            error: self.error.clone(),
            metadata,
            analysis,
        };
        Ok(StoredRecord {
            view,
            owner: self.owner,
            object_key: self.object_key,
            declared_size: self.declared_size,
            seq: self.seq,
            created_at_ms: self.created_at,
        })
    }
}
