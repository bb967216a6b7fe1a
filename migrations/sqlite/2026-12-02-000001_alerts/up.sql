-- Alerts received from Alertmanager: one row per firing of a rule for one label
-- set (fingerprint + start), its current status, and every status change.
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    fingerprint   TEXT    NOT NULL,
    starts_at     BIGINT  NOT NULL,
    name          TEXT    NOT NULL,
    severity      TEXT    NOT NULL,
    -- 'firing' or 'resolved'
    status        TEXT    NOT NULL,
    -- JSON objects
    labels        TEXT    NOT NULL,
    annotations   TEXT    NOT NULL,
    ends_at       BIGINT,
    generator_url TEXT    NOT NULL,
    received_at   BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE UNIQUE INDEX alerts_identity ON alerts (fingerprint, starts_at);
CREATE INDEX alerts_status ON alerts (status, id);

CREATE TABLE alert_changes (
    id       INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    alert_id BIGINT  NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    status   TEXT    NOT NULL,
    at       BIGINT  NOT NULL
);
CREATE INDEX alert_changes_alert ON alert_changes (alert_id, id);
