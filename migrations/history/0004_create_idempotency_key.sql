SET lock_timeout = '2s';

-- The stored response of a creating POST, committed in the same transaction as what it created.
CREATE TABLE idempotency_key (
    scope            text NOT NULL,
    key              text NOT NULL,
    fingerprint      bytea NOT NULL,
    response_status  integer NOT NULL,
    response_body    bytea NOT NULL,
    content_type     text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_key_pkey PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_key_created_at_idx ON idempotency_key (created_at);
