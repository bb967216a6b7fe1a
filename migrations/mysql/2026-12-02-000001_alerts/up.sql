-- Alerts received from Alertmanager: one row per firing of a rule for one label
-- set (fingerprint + start), its current status, and every status change.
CREATE TABLE alerts (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    fingerprint   VARCHAR(64)  NOT NULL,
    starts_at     BIGINT       NOT NULL,
    name          VARCHAR(255) NOT NULL,
    severity      VARCHAR(64)  NOT NULL,
    -- 'firing' or 'resolved'
    status        VARCHAR(16)  NOT NULL,
    -- JSON objects
    labels        MEDIUMTEXT   NOT NULL,
    annotations   MEDIUMTEXT   NOT NULL,
    ends_at       BIGINT,
    generator_url TEXT         NOT NULL,
    received_at   BIGINT       NOT NULL,
    updated_at    BIGINT       NOT NULL,
    UNIQUE INDEX alerts_identity (fingerprint, starts_at),
    INDEX alerts_status (status, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE alert_changes (
    id       BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    alert_id BIGINT      NOT NULL,
    status   VARCHAR(16) NOT NULL,
    at       BIGINT      NOT NULL,
    INDEX alert_changes_alert (alert_id, id),
    CONSTRAINT alert_changes_alert_fk FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
