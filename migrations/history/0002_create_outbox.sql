SET lock_timeout = '2s';

-- Rows are written by the business transaction; a relay claims them with
-- FOR UPDATE SKIP LOCKED and hands them on. A crash between commit and hand-off leaves the row
-- unpublished, so it is picked up again: at-least-once, deduplicated downstream by dedup_key.
CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    topic         text NOT NULL,
    dedup_key     text NOT NULL,
    -- Fairness key: one department's bulk send must not starve another's messages.
    partition_key text NOT NULL DEFAULT '',
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    available_at  timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    published_at  timestamptz,
    last_error    text,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_dedup_key_key UNIQUE (dedup_key)
);

CREATE INDEX outbox_pending_idx ON outbox (available_at, id) WHERE published_at IS NULL;
