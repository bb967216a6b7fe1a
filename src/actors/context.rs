//! What every actor shares: configuration, the stores, the directory of running
//! actors, and this instance's identity.

use super::Directory;
use super::sse_broadcaster::SseMsg;
use crate::config::Config;
use crate::domain::StatusEvent;
use crate::store::{CatalogStore, ObjectStore, RecordStore};
use std::sync::Arc;

/// Shared by the whole tree (cheap to clone).
#[derive(Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub store: Arc<dyn RecordStore>,
    pub catalog: Arc<dyn CatalogStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub directory: Arc<Directory>,
    /// Names this process in job leases.
    pub instance_id: Arc<str>,
}

impl Ctx {
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
