SET lock_timeout = '2s';

-- The change log's data and the outbox's payload are written once, read whole and never queried
-- inside: json keeps the text as written (checked, not parsed into a tree), where jsonb built a
-- tree on every insert (about a sixth of PostgreSQL's work per certificate in batch issuing) and
-- turned it back into text on every sync page. Nothing compares these values (json has no
-- equality): the sync queries read data as text, the relay reads payloads whole.
ALTER TABLE sync_change ALTER COLUMN data TYPE json USING data::json;
ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json;
