SET lock_timeout = '2s';

-- The chain becomes keyed: entries from audit_head.keyed_from on are chained with HMAC-SHA256 under
-- a key derived from the master key (chain_version 2), so write access to these tables no longer
-- suffices to forge a consistent chain. Entries written before this migration keep their plain
-- SHA-256 links (chain_version 1) and are verified with that recipe up to the marker; the first
-- keyed entry's HMAC covers the last plain hash, which seals them too.
ALTER TABLE audit_log
    ADD COLUMN chain_version smallint NOT NULL DEFAULT 1
        CONSTRAINT audit_log_chain_version_check CHECK (chain_version IN (1, 2));

ALTER TABLE audit_head ADD COLUMN keyed_from bigint;
UPDATE audit_head SET keyed_from = seq + 1;
ALTER TABLE audit_head ALTER COLUMN keyed_from SET NOT NULL;
