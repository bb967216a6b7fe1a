DROP TABLE dead_letter_audit;
DROP INDEX records_status_updated;
ALTER TABLE records DROP COLUMN attempt_base;
