//! Short-lived tickets for the URLs a browser cannot put a header on (an
//! EventSource, an `<audio>` element). A ticket opens one thing — one record's
//! status stream, one record's audio, or the admin alert stream — for one caller,
//! for about a minute; a leaked one (a proxy log, the browser history) is worth
//! little, unlike a bearer token in a query string.
//!
//! Stateless: `base64url(payload JSON) "." base64url(HMAC-SHA256)` under a key
//! derived from the instance secret (domain-separated from the JWT and upload-URL
//! uses), so every instance sharing the secret accepts it.

use super::Role;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a ticket opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketScope {
    /// `GET /api/processing/status/{record}`.
    Status,
    /// `GET /api/audio/{record}`.
    Audio,
    /// `GET /api/admin/alerts/stream` (no record).
    Alerts,
}

impl TicketScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketScope::Status => "status",
            TicketScope::Audio => "audio",
            TicketScope::Alerts => "alerts",
        }
    }
}

/// What a valid ticket says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    #[serde(rename = "s")]
    pub scope: TicketScope,
    /// The record it opens; empty for the alert stream.
    #[serde(rename = "r")]
    pub record: String,
    #[serde(rename = "u")]
    pub user: String,
    #[serde(rename = "a")]
    pub role: Role,
    /// Unix seconds after which it is refused.
    #[serde(rename = "e")]
    pub expires: i64,
}

/// Why a ticket was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("malformed ticket")]
    Malformed,
    #[error("the ticket's signature is invalid")]
    BadSignature,
    #[error("the ticket has expired; ask for a new one (POST /api/tickets)")]
    Expired,
    #[error("the ticket is for another resource")]
    WrongResource,
}

/// Issues and checks tickets.
#[derive(Clone)]
pub struct TicketSigner {
    key: Vec<u8>,
}

impl TicketSigner {
    /// A signer keyed by `secret`, domain-separated from its other uses.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"orakgaraki ticket v1").expect("HMAC takes any key");
        mac.update(secret);
        TicketSigner { key: mac.finalize().into_bytes().to_vec() }
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(payload);
        mac
    }

    /// The ticket's text.
    pub fn issue(&self, ticket: &Ticket) -> String {
        let payload = serde_json::to_vec(ticket).unwrap_or_default();
        let sig = self.mac(&payload).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(sig))
    }

    /// Checks the signature (constant time), the expiry against `now` (unix
    /// seconds), and that it opens `scope` on `record`.
    pub fn verify(&self, text: &str, scope: TicketScope, record: &str, now: i64) -> Result<Ticket, TicketError> {
        let (payload, sig) = text.split_once('.').ok_or(TicketError::Malformed)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TicketError::Malformed)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| TicketError::Malformed)?;
        self.mac(&payload).verify_slice(&sig).map_err(|_| TicketError::BadSignature)?;
        let ticket: Ticket = serde_json::from_slice(&payload).map_err(|_| TicketError::Malformed)?;
        if now > ticket.expires {
            return Err(TicketError::Expired);
        }
        if ticket.scope != scope || ticket.record != record {
            return Err(TicketError::WrongResource);
        }
        Ok(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(scope: TicketScope, record: &str) -> Ticket {
        Ticket { scope, record: record.into(), user: "민지.a".into(), role: Role::User, expires: 1000 }
    }

    #[test]
    fn a_ticket_opens_exactly_its_resource_until_it_expires() {
        let s = TicketSigner::new(b"secret");
        let t = s.issue(&ticket(TicketScope::Status, "r1"));
        assert_eq!(s.verify(&t, TicketScope::Status, "r1", 999).unwrap().user, "민지.a");
        assert_eq!(s.verify(&t, TicketScope::Status, "r1", 1001), Err(TicketError::Expired));
        assert_eq!(s.verify(&t, TicketScope::Status, "r2", 999), Err(TicketError::WrongResource));
        assert_eq!(s.verify(&t, TicketScope::Audio, "r1", 999), Err(TicketError::WrongResource));
        assert_eq!(
            TicketSigner::new(b"other").verify(&t, TicketScope::Status, "r1", 999),
            Err(TicketError::BadSignature)
        );
        assert_eq!(s.verify("nonsense", TicketScope::Status, "r1", 999), Err(TicketError::Malformed));
    }

    #[test]
    fn a_changed_payload_is_refused() {
        let s = TicketSigner::new(b"secret");
        let t = s.issue(&ticket(TicketScope::Alerts, ""));
        let (_, sig) = t.split_once('.').unwrap();
        let mut admin = ticket(TicketScope::Alerts, "");
        admin.role = Role::Admin;
        let forged = format!("{}.{sig}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&admin).unwrap()));
        assert_eq!(s.verify(&forged, TicketScope::Alerts, "", 999), Err(TicketError::BadSignature));
    }
}
