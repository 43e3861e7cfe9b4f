SET lock_timeout = '2s';

-- The server's sync epoch: one row, created when the database is. Pull cursors carry it, so a
-- cursor from another database (a restored backup, a rebuilt server, another environment) is
-- recognised and answered with a full reset instead of a silent gap. Operators start a new epoch
-- after restoring a backup: UPDATE sync_epoch SET epoch = gen_random_uuid(), started_at = now();
CREATE TABLE sync_epoch (
    id          boolean NOT NULL DEFAULT true,
    epoch       uuid NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sync_epoch_pkey PRIMARY KEY (id),
    CONSTRAINT sync_epoch_id_check CHECK (id)
);
INSERT INTO sync_epoch (id, epoch) VALUES (true, gen_random_uuid());

-- The tombstone horizon per person: compaction removes `del` entries older than the retention
-- window and raises `version` to the highest version it removed. A cursor below it may have missed
-- a deletion, so its owner gets a reset.
CREATE TABLE sync_horizon (
    person_id     uuid NOT NULL,
    version       bigint NOT NULL,
    compacted_at  timestamptz NOT NULL,
    CONSTRAINT sync_horizon_pkey PRIMARY KEY (person_id)
);

-- Compaction looks for old entries by time.
CREATE INDEX sync_change_at_idx ON sync_change (at);
