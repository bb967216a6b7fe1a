-- The MySQL/MariaDB schema of the distributed mode: the same tables as
-- migrations/sqlite/ (one migration, since no MySQL database predates it).
-- utf8mb4_bin: owners, ids and statuses compare byte for byte, as in SQLite
-- ("Alice" is not "alice"). Times are unix milliseconds.

-- Records: one per upload, carrying its status, its job lease and its retry schedule.
CREATE TABLE records (
    id                VARCHAR(64)  NOT NULL PRIMARY KEY,
    owner             VARCHAR(255) NOT NULL,
    status            VARCHAR(16)  NOT NULL,
    -- Incremented on every status change; orders the status events of a record.
    seq               BIGINT       NOT NULL DEFAULT 0,
    filename          TEXT         NOT NULL,
    content_type      VARCHAR(255) NOT NULL,
    declared_size     BIGINT       NOT NULL,
    size              BIGINT,
    object_key        VARCHAR(512) NOT NULL,
    content_hash      VARCHAR(128),
    metadata          MEDIUMTEXT,
    attempts          INT          NOT NULL DEFAULT 0,
    error             TEXT,
    upload_expires_at BIGINT       NOT NULL,
    queued_at         BIGINT,
    next_attempt_at   BIGINT,
    lease_owner       VARCHAR(255),
    lease_until       BIGINT,
    created_at        BIGINT       NOT NULL,
    updated_at        BIGINT       NOT NULL,
    -- Who may find a recording in voice search: 'private' (its owner only) or 'public'.
    visibility        VARCHAR(16)  NOT NULL DEFAULT 'private',
    INDEX records_owner_created (owner, created_at DESC, id DESC),
    INDEX records_status_queued (status, queued_at),
    INDEX records_status_next (status, next_attempt_at),
    INDEX records_status_lease (status, lease_until)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The analysis of a COMPLETED record, as JSON.
CREATE TABLE analyses (
    record_id  VARCHAR(64) NOT NULL PRIMARY KEY,
    analysis   LONGTEXT    NOT NULL,
    created_at BIGINT      NOT NULL,
    CONSTRAINT analyses_record FOREIGN KEY (record_id) REFERENCES records (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Every processing attempt and how it ended: the history behind retries and dead letters.
CREATE TABLE attempts (
    id          INT          NOT NULL AUTO_INCREMENT PRIMARY KEY,
    record_id   VARCHAR(64)  NOT NULL,
    attempt     INT          NOT NULL,
    worker      VARCHAR(255) NOT NULL,
    started_at  BIGINT       NOT NULL,
    finished_at BIGINT       NOT NULL,
    outcome     VARCHAR(32)  NOT NULL,
    error       TEXT,
    INDEX attempts_record (record_id, attempt),
    CONSTRAINT attempts_record_fk FOREIGN KEY (record_id) REFERENCES records (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The voice embedding of a COMPLETED record: the source of truth for the vector
-- indexes. vec_key is the index label; it only grows (InnoDB persists the
-- counter), and a replaced embedding gets a new one.
CREATE TABLE embeddings (
    vec_key    BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    record_id  VARCHAR(64)  NOT NULL UNIQUE,
    model      VARCHAR(128) NOT NULL,
    version    VARCHAR(64)  NOT NULL,
    dim        INT          NOT NULL,
    -- dim little-endian float32 values.
    vector     MEDIUMBLOB   NOT NULL,
    created_at BIGINT       NOT NULL,
    INDEX embeddings_model_version (model, version, vec_key),
    CONSTRAINT embeddings_record FOREIGN KEY (record_id) REFERENCES records (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The song catalog recommendations rank.
CREATE TABLE songs (
    song_id            BIGINT       NOT NULL PRIMARY KEY,
    song_name          TEXT         NOT NULL,
    artist_name        TEXT         NOT NULL,
    album_name         TEXT         NOT NULL,
    spotify_track_id   VARCHAR(64)  NOT NULL,
    duration_ms        BIGINT       NOT NULL,
    popularity         BIGINT       NOT NULL,
    -- The 13 MFCC means as a JSON array.
    mfcc               TEXT         NOT NULL,
    pitch_low          DOUBLE       NOT NULL,
    pitch_high         DOUBLE       NOT NULL,
    pitch_avg          DOUBLE       NOT NULL,
    spotify_popularity BIGINT,
    updated_at         BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Songs a user said no to: never recommended to them again.
CREATE TABLE song_dislikes (
    owner      VARCHAR(255) NOT NULL,
    song_id    BIGINT       NOT NULL,
    created_at BIGINT       NOT NULL,
    PRIMARY KEY (owner, song_id),
    CONSTRAINT song_dislikes_song FOREIGN KEY (song_id) REFERENCES songs (song_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
