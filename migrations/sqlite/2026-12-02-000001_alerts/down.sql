DROP TABLE alert_changes;
DROP TABLE alerts;
