-- Dead letters are FAILED records. A requeue gives a record a fresh budget of
-- attempts: attempts counted for the retry policy are attempts - attempt_base
-- (the attempt number itself keeps growing, so the history stays in order).
ALTER TABLE records ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0;
CREATE INDEX records_status_updated ON records (status, updated_at);

-- What admins did with dead letters. A discarded record is deleted with its
-- history, so the audit row keeps a copy of it (outlives the record: no foreign key).
CREATE TABLE dead_letter_audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    record_id TEXT    NOT NULL,
    owner     TEXT    NOT NULL,
    filename  TEXT    NOT NULL,
    -- 'requeue' or 'discard'
    action    TEXT    NOT NULL,
    admin     TEXT    NOT NULL,
    at        BIGINT  NOT NULL,
    error     TEXT,
    attempts  INTEGER NOT NULL,
    -- The attempts at that moment, as a JSON array.
    history   TEXT    NOT NULL
);
CREATE INDEX dead_letter_audit_record ON dead_letter_audit (record_id, id);
