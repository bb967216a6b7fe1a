CREATE TABLE embeddings_plain (
    record_id  TEXT    PRIMARY KEY NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    model      TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    dim        INTEGER NOT NULL,
    vector     BLOB    NOT NULL,
    created_at BIGINT  NOT NULL
);
INSERT INTO embeddings_plain SELECT record_id, model, version, dim, vector, created_at FROM embeddings;
DROP TABLE embeddings;
ALTER TABLE embeddings_plain RENAME TO embeddings;
CREATE INDEX embeddings_model_version ON embeddings (model, version);
ALTER TABLE records DROP COLUMN visibility;
