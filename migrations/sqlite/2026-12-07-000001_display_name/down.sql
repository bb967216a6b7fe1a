ALTER TABLE records DROP COLUMN display_name;
