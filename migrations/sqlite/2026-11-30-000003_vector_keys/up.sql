-- Who may find a recording in voice search: 'private' (its owner only) or 'public'.
ALTER TABLE records ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';

-- Embeddings get an integer key that the vector index uses as its label. Keys only
-- grow (AUTOINCREMENT: never reused), and replacing an embedding gives it a new key,
-- so comparing the index's keys with the table's tells exactly what it misses.
CREATE TABLE embeddings_keyed (
    vec_key    INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    record_id  TEXT    NOT NULL UNIQUE REFERENCES records (id) ON DELETE CASCADE,
    model      TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    dim        INTEGER NOT NULL,
    -- dim little-endian float32 values.
    vector     BLOB    NOT NULL,
    created_at BIGINT  NOT NULL
);
INSERT INTO embeddings_keyed (record_id, model, version, dim, vector, created_at)
    SELECT record_id, model, version, dim, vector, created_at FROM embeddings ORDER BY created_at, record_id;
DROP TABLE embeddings;
ALTER TABLE embeddings_keyed RENAME TO embeddings;
CREATE INDEX embeddings_model_version ON embeddings (model, version, vec_key);
