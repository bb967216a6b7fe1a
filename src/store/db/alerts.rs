//! `AlertStore` over diesel-async, for every backend (`alert_store_impl!(Store)`,
//! as `catalog_store_impl!`). An alert's row and its change rows are written in
//! one transaction; the unique (fingerprint, starts_at) index makes two
//! instances receiving the same alert agree on one row.

use crate::domain::alert::{AlertChangeView, AlertStatus, AlertView};
use crate::domain::record::rfc3339_millis;
use crate::store::StoreError;
use diesel::prelude::*;
use std::collections::BTreeMap;

/// A row of `alerts`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::alerts)]
pub struct AlertRow {
    pub id: i64,
    pub fingerprint: String,
    pub starts_at: i64,
    pub name: String,
    pub severity: String,
    pub status: String,
    pub labels: String,
    pub annotations: String,
    pub ends_at: Option<i64>,
    pub generator_url: String,
    pub received_at: i64,
    pub updated_at: i64,
}

fn status_of(s: &str) -> Result<AlertStatus, StoreError> {
    AlertStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("alert status {s:?}")))
}

fn map_of(json: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("alert labels: {e}")))
}

impl AlertRow {
    /// The row as the API shows it, with `changes` (status, at) in order.
    pub fn into_view(self, changes: Vec<(String, i64)>) -> Result<AlertView, StoreError> {
        Ok(AlertView {
            id: self.id,
            status: status_of(&self.status)?,
            labels: map_of(&self.labels)?,
            annotations: map_of(&self.annotations)?,
            fingerprint: self.fingerprint,
            name: self.name,
            severity: self.severity,
            starts_at: rfc3339_millis(self.starts_at),
            ends_at: self.ends_at.map(rfc3339_millis),
            generator_url: self.generator_url,
            received_at: rfc3339_millis(self.received_at),
            updated_at: rfc3339_millis(self.updated_at),
            changes: changes
                .into_iter()
                .map(|(s, at)| Ok(AlertChangeView { status: status_of(&s)?, at: rfc3339_millis(at) }))
                .collect::<Result<_, StoreError>>()?,
        })
    }
}

/// Whether `e` is a unique-index violation (another instance inserted the same alert first).
pub fn is_duplicate(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(m) if m.contains("UNIQUE constraint") || m.contains("Duplicate entry"))
}

macro_rules! alert_store_impl {
    ($store:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
            use diesel_async::{AsyncConnection, RunQueryDsl};
            use $crate::domain::alert::{AlertStatus, AlertView, IncomingAlert};
            use $crate::store::db::alerts::{AlertRow, is_duplicate};
            use $crate::store::db::schema::{alert_changes, alerts};
            use $crate::store::{AlertStore, StoreError};

            #[async_trait]
            impl AlertStore for $store {
                async fn record_alert(&self, a: &IncomingAlert, now: i64) -> Result<Option<AlertView>, StoreError> {
                    let labels = serde_json::to_string(&a.labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let annotations =
                        serde_json::to_string(&a.annotations).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let mut tries = 0;
                    loop {
                        let mut conn = self.write().await?;
                        let (a, labels, annotations) = (a.clone(), labels.clone(), annotations.clone());
                        let result = conn
                            .transaction::<_, StoreError, _>(async move |conn| {
                                let found: Option<AlertRow> = alerts::table
                                    .filter(alerts::fingerprint.eq(&a.fingerprint))
                                    .filter(alerts::starts_at.eq(a.starts_at))
                                    .select(AlertRow::as_select())
                                    .first(conn)
                                    .await
                                    .optional()?;
                                let id = match found {
                                    None => {
                                        diesel::insert_into(alerts::table)
                                            .values((
                                                alerts::fingerprint.eq(&a.fingerprint),
                                                alerts::starts_at.eq(a.starts_at),
                                                alerts::name.eq(&a.name),
                                                alerts::severity.eq(&a.severity),
                                                alerts::status.eq(a.status.as_str()),
                                                alerts::labels.eq(&labels),
                                                alerts::annotations.eq(&annotations),
                                                alerts::ends_at.eq(a.ends_at),
                                                alerts::generator_url.eq(&a.generator_url),
                                                alerts::received_at.eq(now),
                                                alerts::updated_at.eq(now),
                                            ))
                                            .execute(conn)
                                            .await?;
                                        alerts::table
                                            .filter(alerts::fingerprint.eq(&a.fingerprint))
                                            .filter(alerts::starts_at.eq(a.starts_at))
                                            .select(alerts::id)
                                            .first::<i64>(conn)
                                            .await?
                                    }
                                    Some(row) => {
                                        let current = AlertStatus::parse(&row.status);
                                        // Resolved is final for one firing; a repeat is no news.
                                        if current == Some(AlertStatus::Resolved) || current == Some(a.status) {
                                            return Ok(None);
                                        }
                                        diesel::update(alerts::table.find(row.id))
                                            .set((
                                                alerts::status.eq(a.status.as_str()),
                                                alerts::annotations.eq(&annotations),
                                                alerts::ends_at.eq(a.ends_at),
                                                alerts::updated_at.eq(now),
                                            ))
                                            .execute(conn)
                                            .await?;
                                        row.id
                                    }
                                };
                                diesel::insert_into(alert_changes::table)
                                    .values((
                                        alert_changes::alert_id.eq(id),
                                        alert_changes::status.eq(a.status.as_str()),
                                        alert_changes::at.eq(now),
                                    ))
                                    .execute(conn)
                                    .await?;
                                let row: AlertRow =
                                    alerts::table.find(id).select(AlertRow::as_select()).first(conn).await?;
                                let changes: Vec<(String, i64)> = alert_changes::table
                                    .filter(alert_changes::alert_id.eq(id))
                                    .order(alert_changes::id.asc())
                                    .select((alert_changes::status, alert_changes::at))
                                    .load(conn)
                                    .await?;
                                Ok(Some(row.into_view(changes)?))
                            })
                            .await;
                        match result {
                            Err(e) if is_duplicate(&e) && tries < 2 => tries += 1,
                            other => return other,
                        }
                    }
                }

                async fn alerts(
                    &self,
                    status: Option<AlertStatus>,
                    before: Option<i64>,
                    limit: i64,
                ) -> Result<Vec<AlertView>, StoreError> {
                    let mut conn = self.read().await?;
                    let mut query =
                        alerts::table.select(AlertRow::as_select()).order(alerts::id.desc()).limit(limit).into_boxed();
                    if let Some(s) = status {
                        query = query.filter(alerts::status.eq(s.as_str()));
                    }
                    if let Some(b) = before {
                        query = query.filter(alerts::id.lt(b));
                    }
                    let rows: Vec<AlertRow> = query.load(&mut *conn).await?;
                    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                    let changes: Vec<(i64, String, i64)> = alert_changes::table
                        .filter(alert_changes::alert_id.eq_any(&ids))
                        .order(alert_changes::id.asc())
                        .select((alert_changes::alert_id, alert_changes::status, alert_changes::at))
                        .load(&mut *conn)
                        .await?;
                    let mut by_alert: std::collections::HashMap<i64, Vec<(String, i64)>> = Default::default();
                    for (id, s, at) in changes {
                        by_alert.entry(id).or_default().push((s, at));
                    }
                    rows.into_iter()
                        .map(|r| {
                            let c = by_alert.remove(&r.id).unwrap_or_default();
                            r.into_view(c)
                        })
                        .collect()
                }
            }
        };
    };
}

pub(crate) use alert_store_impl;
