-- Dead letters are FAILED records. A requeue gives a record a fresh budget of
-- attempts: attempts counted for the retry policy are attempts - attempt_base
-- (the attempt number itself keeps growing, so the history stays in order).
ALTER TABLE records ADD COLUMN attempt_base INT NOT NULL DEFAULT 0;
CREATE INDEX records_status_updated ON records (status, updated_at);

-- What admins did with dead letters. A discarded record is deleted with its
-- history, so the audit row keeps a copy of it (outlives the record: no foreign key).
CREATE TABLE dead_letter_audit (
    id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    record_id VARCHAR(64)  NOT NULL,
    owner     VARCHAR(255) NOT NULL,
    filename  TEXT         NOT NULL,
    -- 'requeue' or 'discard'
    action    VARCHAR(16)  NOT NULL,
    admin     VARCHAR(255) NOT NULL,
    at        BIGINT       NOT NULL,
    error     TEXT,
    attempts  INT          NOT NULL,
    -- The attempts at that moment, as a JSON array.
    history   MEDIUMTEXT   NOT NULL,
    INDEX dead_letter_audit_record (record_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
