//! The alert store: alerts Alertmanager reported, each with its status changes.
//! Implemented by each database (`db/alerts.rs`).

use super::StoreError;
use crate::domain::alert::{AlertStatus, AlertView, IncomingAlert};
use async_trait::async_trait;

#[async_trait]
pub trait AlertStore: Send + Sync + 'static {
    /// Records a reported alert. Returns it, with its changes, when it is news: an
    /// alert not seen before, or a new status. A repeat of the same status (as
    /// Alertmanager re-sends firing alerts), or a late `firing` after `resolved`
    /// for the same start, changes nothing and returns `None`.
    async fn record_alert(&self, alert: &IncomingAlert, now: i64) -> Result<Option<AlertView>, StoreError>;
    /// Alerts, newest first, optionally only those in `status`; ids below `before`.
    async fn alerts(
        &self,
        status: Option<AlertStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AlertView>, StoreError>;
}
