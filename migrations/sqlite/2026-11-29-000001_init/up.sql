-- Records: one per upload, carrying its status, its job lease and its retry schedule.
CREATE TABLE records (
    id                TEXT    PRIMARY KEY NOT NULL,
    owner             TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    -- Incremented on every status change; orders the status events of a record.
    seq               BIGINT  NOT NULL DEFAULT 0,
    filename          TEXT    NOT NULL,
    content_type      TEXT    NOT NULL,
    declared_size     BIGINT  NOT NULL,
    size              BIGINT,
    object_key        TEXT    NOT NULL,
    content_hash      TEXT,
    metadata          TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    upload_expires_at BIGINT  NOT NULL,
    queued_at         BIGINT,
    next_attempt_at   BIGINT,
    lease_owner       TEXT,
    lease_until       BIGINT,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);
CREATE INDEX records_owner_created ON records (owner, created_at DESC, id DESC);
CREATE INDEX records_status_queued ON records (status, queued_at);
CREATE INDEX records_status_next ON records (status, next_attempt_at);
CREATE INDEX records_status_lease ON records (status, lease_until);

-- The analysis of a COMPLETED record, as JSON.
CREATE TABLE analyses (
    record_id  TEXT   PRIMARY KEY NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    analysis   TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- Every processing attempt and how it ended: the history behind retries and dead letters.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    record_id   TEXT    NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    worker      TEXT    NOT NULL,
    started_at  BIGINT  NOT NULL,
    finished_at BIGINT  NOT NULL,
    outcome     TEXT    NOT NULL,
    error       TEXT
);
CREATE INDEX attempts_record ON attempts (record_id, attempt);
