-- The transactional outbox (with Kafka): a row is written in the same transaction
-- as the status change it announces; the outbox relay produces it, then deletes it.
CREATE TABLE outbox (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    topic      VARCHAR(255) NOT NULL,
    msg_key    VARCHAR(255) NOT NULL,
    payload    MEDIUMTEXT   NOT NULL,
    created_at BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
