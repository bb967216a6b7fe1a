-- The transactional outbox (distributed mode with Kafka): a row is written in the
-- same transaction as the status change it announces, and the outbox relay
-- produces it to Kafka, then deletes it. A crash between the two repeats the
-- message (consumers are idempotent); it never loses one.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    topic      TEXT    NOT NULL,
    msg_key    TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
