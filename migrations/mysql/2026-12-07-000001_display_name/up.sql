-- The name a public recording is shown under in other users' voice search (the
-- owner's choice); NULL: shown without a name. Owner ids are never shown.
ALTER TABLE records ADD COLUMN display_name VARCHAR(64) NULL;
