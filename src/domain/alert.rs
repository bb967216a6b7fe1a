//! Alerts from Alertmanager: its webhook payload (version 4), checked and turned
//! into the alerts this service stores, streams to admins and forwards to chat;
//! and the readable message a chat channel gets. Pure: no I/O.
//!
//! An alert is one firing of one rule for one set of labels: Alertmanager's
//! fingerprint (a hash of the labels) plus the time it started firing. Alertmanager
//! repeats a firing alert every `repeat_interval` and sends `resolved` once it
//! ends; only a change of status is a new event.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Alertmanager's webhook body (`version: "4"`); fields this service does not use
/// are ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub version: String,
    #[serde(default)]
    pub group_key: String,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub external_url: String,
    pub alerts: Vec<NotifiedAlert>,
}

/// One alert of a notification, as Alertmanager sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedAlert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "firing" => Some(AlertStatus::Firing),
            "resolved" => Some(AlertStatus::Resolved),
            _ => None,
        }
    }
}

/// An alert as received, checked: what the store keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingAlert {
    pub fingerprint: String,
    pub status: AlertStatus,
    pub name: String,
    pub severity: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Unix ms.
    pub starts_at: i64,
    /// Unix ms; `None` while firing (Alertmanager sends year 1).
    pub ends_at: Option<i64>,
    pub generator_url: String,
}

/// A payload this service cannot take.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AlertPayloadError {
    #[error("not an Alertmanager webhook payload: {0}")]
    Malformed(String),
    #[error("unsupported Alertmanager webhook version {0:?} (version 4 is understood)")]
    Version(String),
    #[error("alert {index}: {what}")]
    Alert { index: usize, what: String },
}

/// Most alerts one notification may carry (Alertmanager's `max_alerts` is 0 =
/// unlimited by default; a group this large is a misconfiguration).
pub const MAX_ALERTS: usize = 1000;

/// Parses and checks a webhook body.
pub fn parse(body: &[u8]) -> Result<Vec<IncomingAlert>, AlertPayloadError> {
    let n: Notification = serde_json::from_slice(body).map_err(|e| AlertPayloadError::Malformed(e.to_string()))?;
    if n.version != "4" {
        return Err(AlertPayloadError::Version(n.version));
    }
    if n.alerts.len() > MAX_ALERTS {
        return Err(AlertPayloadError::Malformed(format!(
            "{} alerts in one notification (at most {MAX_ALERTS})",
            n.alerts.len()
        )));
    }
    n.alerts
        .into_iter()
        .enumerate()
        .map(|(index, a)| check(a).map_err(|what| AlertPayloadError::Alert { index, what }))
        .collect()
}

fn check(a: NotifiedAlert) -> Result<IncomingAlert, String> {
    let status =
        AlertStatus::parse(&a.status).ok_or_else(|| format!("status {:?} is neither firing nor resolved", a.status))?;
    let starts_at =
        unix_ms(&a.starts_at).ok_or_else(|| format!("startsAt {:?} is not an RFC 3339 time", a.starts_at))?;
    let ends_at = if a.ends_at.is_empty() {
        None
    } else {
        let ms = unix_ms(&a.ends_at).ok_or_else(|| format!("endsAt {:?} is not an RFC 3339 time", a.ends_at))?;
        // Firing alerts carry year 1 ("0001-01-01T00:00:00Z").
        (ms > 0).then_some(ms)
    };
    let name = a.labels.get("alertname").cloned().unwrap_or_default();
    if name.is_empty() {
        return Err("no alertname label".into());
    }
    let fingerprint = if a.fingerprint.is_empty() { fingerprint_of(&a.labels) } else { a.fingerprint };
    if fingerprint.len() > 64 {
        return Err("fingerprint longer than 64 characters".into());
    }
    Ok(IncomingAlert {
        fingerprint,
        status,
        severity: a.labels.get("severity").cloned().unwrap_or_default(),
        name,
        labels: a.labels,
        annotations: a.annotations,
        starts_at,
        ends_at,
        generator_url: a.generator_url,
    })
}

/// Unix ms of an RFC 3339 time.
fn unix_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis())
}

/// A stable id for a label set when the sender gave none (SHA-256 of the sorted
/// labels, 16 hex digits like Alertmanager's own).
fn fingerprint_of(labels: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update([0xff]);
        h.update(v.as_bytes());
        h.update([0xff]);
    }
    hex::encode(&h.finalize()[..8])
}

/// A stored alert with its status changes: what the admin API lists and the
/// stream sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: i64,
    pub fingerprint: String,
    pub name: String,
    pub severity: String,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    pub ends_at: Option<String>,
    pub generator_url: String,
    /// When this service first heard of it, and last.
    pub received_at: String,
    pub updated_at: String,
    /// Every status it was reported in, in order (a repeat of the same status is not a change).
    pub changes: Vec<AlertChangeView>,
}

/// One status change of an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertChangeView {
    pub status: AlertStatus,
    pub at: String,
}

impl AlertView {
    /// The text a chat channel gets, in Mattermost's Markdown.
    pub fn chat_message(&self) -> String {
        let icon = match self.status {
            AlertStatus::Firing => ":rotating_light:",
            AlertStatus::Resolved => ":white_check_mark:",
        };
        let mut text = format!("{icon} **{}** {}", self.status.as_str().to_uppercase(), self.name);
        if !self.severity.is_empty() {
            text.push_str(&format!(" ({})", self.severity));
        }
        for key in ["summary", "description"] {
            if let Some(v) = self.annotations.get(key) {
                text.push_str(&format!("\n{v}"));
            }
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "alertname" | "severity"))
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect();
        if !labels.is_empty() {
            text.push_str(&format!("\n{}", labels.join(" ")));
        }
        text.push_str(&format!("\nsince {}", self.starts_at));
        if let Some(end) = &self.ends_at {
            text.push_str(&format!(", ended {end}"));
        }
        if !self.generator_url.is_empty() {
            text.push_str(&format!(" · [source]({})", self.generator_url));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRING: &str = r#"{
      "version": "4", "groupKey": "{}:{alertname=\"DeadLettersGrowing\"}", "status": "firing",
      "receiver": "orakgaraki", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
      "externalURL": "http://am:9093", "truncatedAlerts": 0,
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "DeadLettersGrowing", "severity": "warning", "instance": "app:9100"},
        "annotations": {"summary": "3 new dead letters in 15 minutes"},
        "startsAt": "2026-11-30T10:00:00.5Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prom:9090/graph", "fingerprint": "a1b2c3d4e5f60718"
      }]
    }"#;

    #[test]
    fn a_firing_alert_is_understood() {
        let alerts = parse(FIRING.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.name, "DeadLettersGrowing");
        assert_eq!(a.severity, "warning");
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.fingerprint, "a1b2c3d4e5f60718");
        assert_eq!(a.starts_at, 1_796_032_800_500);
        assert_eq!(a.ends_at, None, "year 1 means still firing");
    }

    #[test]
    fn bad_payloads_are_refused_with_the_reason() {
        assert!(matches!(parse(b"nope"), Err(AlertPayloadError::Malformed(_))));
        assert!(matches!(parse(br#"{"version":"3","alerts":[]}"#), Err(AlertPayloadError::Version(v)) if v == "3"));
        let bad_status = FIRING.replacen(
            r#""status": "firing",
        "labels""#,
            r#""status": "burning",
        "labels""#,
            1,
        );
        assert!(matches!(parse(bad_status.as_bytes()), Err(AlertPayloadError::Alert { index: 0, .. })));
        let bad_time = FIRING.replace("2026-11-30T10:00:00.5Z", "yesterday");
        assert!(matches!(parse(bad_time.as_bytes()), Err(AlertPayloadError::Alert { index: 0, .. })));
        let no_name = FIRING.replace(r#""alertname": "DeadLettersGrowing", "#, "");
        assert!(matches!(parse(no_name.as_bytes()), Err(AlertPayloadError::Alert { .. })));
    }

    #[test]
    fn a_missing_fingerprint_is_derived_from_the_labels() {
        let body = FIRING.replace(r#", "fingerprint": "a1b2c3d4e5f60718""#, "");
        let a = parse(body.as_bytes()).unwrap().remove(0);
        assert_eq!(a.fingerprint.len(), 16);
        let again = parse(body.as_bytes()).unwrap().remove(0);
        assert_eq!(a.fingerprint, again.fingerprint);
        let other = parse(body.replace("app:9100", "app:9101").as_bytes()).unwrap().remove(0);
        assert_ne!(a.fingerprint, other.fingerprint);
    }

    #[test]
    fn the_chat_message_says_what_and_where() {
        let view = AlertView {
            id: 1,
            fingerprint: "f".into(),
            name: "DeadLettersGrowing".into(),
            severity: "warning".into(),
            status: AlertStatus::Resolved,
            labels: [("alertname", "DeadLettersGrowing"), ("instance", "app:9100")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            annotations: [("summary".to_owned(), "3 new dead letters".to_owned())].into_iter().collect(),
            starts_at: "2026-11-30T10:00:00.500Z".into(),
            ends_at: Some("2026-11-30T10:05:00.000Z".into()),
            generator_url: String::new(),
            received_at: String::new(),
            updated_at: String::new(),
            changes: vec![],
        };
        let text = view.chat_message();
        assert!(text.starts_with(":white_check_mark: **RESOLVED** DeadLettersGrowing (warning)"), "{text}");
        assert!(text.contains("3 new dead letters"));
        assert!(text.contains("`instance=app:9100`"));
        assert!(!text.contains("alertname="));
        assert!(text.contains("ended 2026-11-30T10:05:00.000Z"));
    }
}
