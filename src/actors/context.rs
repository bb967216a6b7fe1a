//! What every actor shares: configuration, the stores, the directory of running
//! actors, and this instance's identity.

use super::Directory;
use super::job_source::JobSourceMsg;
use super::outbox_relay::RelayMsg;
use super::sse_broadcaster::SseMsg;
use crate::config::Config;
use crate::domain::StatusEvent;
use crate::domain::{RecordId, RecordStatus};
use crate::store::redis::{BusSender, RedisBus};
use crate::store::vectors::{VectorError, VectorKey, VectorSource, VectorStore};
use crate::store::{AlertStore, CatalogStore, DeadLetterStore, ObjectStore, RecordStore, StoreError};
use std::sync::Arc;

/// Shared by the whole tree (cheap to clone).
#[derive(Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub store: Arc<dyn RecordStore>,
    pub catalog: Arc<dyn CatalogStore>,
    pub dead_letters: Arc<dyn DeadLetterStore>,
    pub alerts: Arc<dyn AlertStore>,
    pub objects: Arc<dyn ObjectStore>,
    /// The voice-search index and the database side it is rebuilt from.
    pub vectors: Arc<dyn VectorStore>,
    pub vector_source: Arc<dyn VectorSource>,
    pub directory: Arc<Directory>,
    /// Names this process in job leases.
    pub instance_id: Arc<str>,
    /// Redis (distributed mode): status transitions to and from other instances.
    pub bus: Option<Bus>,
}

/// The Redis status channel, as the tree uses it.
#[derive(Clone)]
pub struct Bus {
    pub redis: Arc<RedisBus>,
    pub sender: BusSender,
}

impl Ctx {
    /// How this instance names itself to Kafka brokers (`client.id`).
    pub fn client_id(&self) -> String {
        format!("orakgaraki-{}", self.instance_id)
    }

    /// A record's stored embedding from the current model, with its index key,
    /// owner and visibility (`None` when it has none).
    pub async fn record_vector(&self, id: &RecordId) -> Result<Option<(VectorKey, Vec<f32>)>, StoreError> {
        self.vector_source.vector_of_record(id, crate::model::MODEL_NAME, crate::model::MODEL_VERSION).await
    }

    /// Puts a record's stored embedding (if it has one from the current model) into
    /// the vector index. A failure is logged, not returned: the periodic sync with
    /// the database repairs the index.
    pub async fn index_record(&self, id: &RecordId) {
        let result = match self.record_vector(id).await {
            Ok(Some((key, vector))) => self.vectors.upsert(key, vector).await,
            other => other.map(|_| ()).map_err(VectorError::from),
        };
        log_index_failure(id, result, "could not index the embedding; the next sync will");
    }

    /// Takes a record's embedding out of the vector index (before the record is deleted).
    pub async fn unindex_record(&self, id: &RecordId) {
        let result = match self.record_vector(id).await {
            Ok(Some((key, _))) => self.vectors.remove(key.key).await,
            other => other.map(|_| ()).map_err(VectorError::from),
        };
        log_index_failure(id, result, "could not remove the embedding from the index; the next sync will");
    }

    /// Tells the vector index a record's new visibility. Searches re-check
    /// visibility in the database, so a failure here never shows a private record.
    pub async fn reindex_visibility(&self, id: &RecordId, public: bool) {
        let result = match self.record_vector(id).await {
            Ok(Some((key, _))) => self.vectors.set_public(key.key, public).await,
            other => other.map(|_| ()).map_err(VectorError::from),
        };
        log_index_failure(id, result, "could not update the index's visibility");
    }

    /// Announces committed transitions to live subscribers: this instance's at
    /// once, other instances' through Redis (streams skip what they already sent).
    pub fn publish(&self, events: impl IntoIterator<Item = StatusEvent>) {
        let sse = self.directory.sse();
        for ev in events {
            tracing::debug!(record_id = %ev.record_id, status = %ev.status, attempt = ev.attempt, "status");
            if let Some(bus) = &self.bus {
                bus.sender.send(ev.clone());
            }
            match ev.status {
                // An outbox row was written with it (Kafka mode).
                RecordStatus::Queued | RecordStatus::Completed | RecordStatus::Failed => {
                    if let Some(relay) = self.directory.relay() {
                        let _ = super::instrument::tell(&relay, RelayMsg::Wake);
                    }
                }
                _ => {}
            }
            let finished = matches!(ev.status, RecordStatus::Completed | RecordStatus::Retrying | RecordStatus::Failed);
            if let Some(js) = self.directory.job_source().filter(|_| finished) {
                let _ = super::instrument::tell(&js, JobSourceMsg::Finished(ev.record_id.clone()));
            }
            if let Some(sse) = &sse {
                let _ = super::instrument::tell(sse, SseMsg::Publish(ev));
            }
        }
    }
}

fn log_index_failure(id: &RecordId, result: Result<(), VectorError>, what: &str) {
    if let Err(e) = result {
        tracing::warn!(record_id = %id, error = %e, "{what}");
    }
}
