SET lock_timeout = '2s';

-- One row per (account, client install): the last mutation sequence number processed. Pushes lock
-- it for each mutation, so two pushes from the same client take turns and seq stays gap-free.
CREATE TABLE sync_client (
    account_id  uuid NOT NULL,
    client_id   uuid NOT NULL,
    last_seq    bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT sync_client_pkey PRIMARY KEY (account_id, client_id),
    CONSTRAINT sync_client_last_seq_check CHECK (last_seq >= 0)
);

-- The ledger: every processed mutation and its result, committed with the mutation's effect, so a
-- retry finds it and gets the same answer. fingerprint is a keyed hash of (name, args,
-- base_version): it tells a retry from a reused id without keeping the args (they may hold ID
-- numbers). result holds what the answer carried (draft forms only sealed).
CREATE TABLE sync_mutation (
    account_id    uuid NOT NULL,
    id            uuid NOT NULL,
    n             bigint GENERATED ALWAYS AS IDENTITY,
    client_id     uuid NOT NULL,
    seq           bigint NOT NULL,
    name          text NOT NULL,
    fingerprint   bytea NOT NULL,
    status        text NOT NULL,
    code          text,
    version       bigint,
    result        jsonb,
    recorded_at   timestamptz NOT NULL,
    CONSTRAINT sync_mutation_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT sync_mutation_status_check CHECK (status IN ('applied', 'rejected', 'conflict')),
    CONSTRAINT sync_mutation_code_check CHECK ((status = 'rejected') = (code IS NOT NULL))
);
CREATE INDEX sync_mutation_recorded_at_idx ON sync_mutation (recorded_at);
