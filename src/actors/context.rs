//! What every actor shares: configuration, the stores, the directory of running
//! actors, and this instance's identity.

use super::Directory;
use super::sse_broadcaster::SseMsg;
use crate::config::Config;
use crate::domain::RecordId;
use crate::domain::StatusEvent;
use crate::store::vectors::{VectorSource, VectorStore};
use crate::store::{CatalogStore, ObjectStore, RecordStore};
use std::sync::Arc;

/// Shared by the whole tree (cheap to clone).
#[derive(Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub store: Arc<dyn RecordStore>,
    pub catalog: Arc<dyn CatalogStore>,
    pub objects: Arc<dyn ObjectStore>,
    /// The voice-search index and the database side it is rebuilt from.
    pub vectors: Arc<dyn VectorStore>,
    pub vector_source: Arc<dyn VectorSource>,
    pub directory: Arc<Directory>,
    /// Names this process in job leases.
    pub instance_id: Arc<str>,
}

impl Ctx {
    /// Puts a record's stored embedding (if it has one from the current model) into
    /// the vector index. A failure is logged, not returned: the periodic sync with
    /// the database repairs the index.
    pub async fn index_record(&self, id: &RecordId) {
        let found =
            self.vector_source.vector_of_record(id, crate::model::MODEL_NAME, crate::model::MODEL_VERSION).await;
        let result = match found {
            Ok(Some((key, vector))) => self.vectors.upsert(key, vector).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
            tracing::warn!(record_id = %id, error = %e, "could not index the embedding; the next sync will");
        }
    }

    /// Takes a record's embedding out of the vector index (before the record is deleted).
    pub async fn unindex_record(&self, id: &RecordId) {
        let found =
            self.vector_source.vector_of_record(id, crate::model::MODEL_NAME, crate::model::MODEL_VERSION).await;
        let result = match found {
            Ok(Some((key, _))) => self.vectors.remove(key.key).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
            tracing::warn!(record_id = %id, error = %e, "could not remove the embedding from the index; the next sync will");
        }
    }

    /// Announces committed transitions to live subscribers.
    pub fn publish(&self, events: impl IntoIterator<Item = StatusEvent>) {
        let Some(sse) = self.directory.sse() else {
            return;
        };
        for ev in events {
            tracing::debug!(record_id = %ev.record_id, status = %ev.status, attempt = ev.attempt, "status");
            let _ = sse.cast(SseMsg::Publish(ev));
        }
    }
}
