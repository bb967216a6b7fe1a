-- The voice embedding of a COMPLETED record: the source of truth for the vector index.
CREATE TABLE embeddings (
    record_id  TEXT    PRIMARY KEY NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    model      TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    dim        INTEGER NOT NULL,
    -- dim little-endian float32 values.
    vector     BLOB    NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX embeddings_model_version ON embeddings (model, version);
