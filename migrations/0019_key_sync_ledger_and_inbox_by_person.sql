SET lock_timeout = '2s';

-- The push ledger and the inbox are placed with their person on a Citus cluster (api/kernel/distribution.py).
-- These tables are empty on every deployment (nothing is deployed yet), so the keys are swapped in one statement
-- each; rows there are (a development database) are kept, each where it now belongs.

-- The push ledger of an account with a person is kept by that person (the account's own, not whom a token acts
-- for): `sync_mutation (person_id, account_id, id)`. An account without a person (a department's staff, an L1
-- login) keeps its ledger in `sync_account_mutation`, on the coordinator of a cluster. An account that gains its
-- person later starts a new ledger there; a mutation it sent before is still known as processed by its sequence
-- number (`sync_client.last_seq`).
CREATE TABLE sync_account_mutation (
    account_id  uuid NOT NULL,
    id          uuid NOT NULL,
    n           bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    client_id   uuid NOT NULL,
    seq         bigint NOT NULL,
    name        text NOT NULL,
    fingerprint bytea NOT NULL,
    status      text NOT NULL,
    code        text,
    version     bigint,
    result      jsonb,
    recorded_at timestamptz NOT NULL,
    CONSTRAINT sync_account_mutation_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT sync_account_mutation_code_check CHECK ((status = 'rejected') = (code IS NOT NULL)),
    CONSTRAINT sync_account_mutation_status_check CHECK (status IN ('applied', 'rejected', 'conflict'))
);

CREATE INDEX sync_account_mutation_recorded_at_idx ON sync_account_mutation (recorded_at);

ALTER TABLE sync_mutation ADD COLUMN person_id uuid;

UPDATE sync_mutation m SET person_id = a.person_id FROM auth_account a WHERE a.id = m.account_id;

INSERT INTO sync_account_mutation (account_id, id, client_id, seq, name, fingerprint, status, code, version, result,
                                   recorded_at)
SELECT account_id, id, client_id, seq, name, fingerprint, status, code, version, result, recorded_at
FROM sync_mutation WHERE person_id IS NULL ORDER BY n;

DELETE FROM sync_mutation WHERE person_id IS NULL;

-- squawk-ignore adding-not-nullable-field
ALTER TABLE sync_mutation ALTER COLUMN person_id SET NOT NULL;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE sync_mutation DROP CONSTRAINT sync_mutation_pkey, ADD CONSTRAINT sync_mutation_pkey PRIMARY KEY (person_id, account_id, id);

-- A person's inbox stays in `notify_notification`, kept by the person: `(person_id, id)`, its dedup keys unique per
-- person (a key names its recipient already, so this is no weaker). Notifications to an account without a person
-- or to a department (the events its systems catch up on, and its webhooks deliver) move to
-- `notify_other_notification`, on the coordinator of a cluster: they are read by account or department, and
-- their webhook deliveries join them there.
CREATE TABLE notify_other_notification (
    id            uuid NOT NULL,
    dedup_key     text NOT NULL,
    event         text NOT NULL,
    kind          text NOT NULL,
    person_id     uuid,
    account_id    uuid,
    department_id uuid,
    title         text NOT NULL,
    body          text NOT NULL,
    data          jsonb NOT NULL,
    urgent        boolean NOT NULL DEFAULT false,
    lane          text NOT NULL,
    created_at    timestamptz NOT NULL,
    read_at       timestamptz,
    CONSTRAINT notify_other_notification_pkey PRIMARY KEY (id),
    CONSTRAINT notify_other_notification_dedup_key_key UNIQUE (dedup_key),
    CONSTRAINT notify_other_notification_recipient_check
        CHECK (person_id IS NULL AND num_nonnulls(account_id, department_id) = 1)
);

CREATE INDEX notify_other_notification_account_id_idx ON notify_other_notification (account_id, id DESC)
    WHERE (account_id IS NOT NULL);

CREATE INDEX notify_other_notification_department_id_idx ON notify_other_notification (department_id, id)
    WHERE (department_id IS NOT NULL);

INSERT INTO notify_other_notification
SELECT id, dedup_key, event, kind, person_id, account_id, department_id, title, body, data, urgent, lane, created_at, read_at
FROM notify_notification WHERE person_id IS NULL;

DELETE FROM notify_notification WHERE person_id IS NULL;

-- squawk-ignore adding-not-nullable-field
ALTER TABLE notify_notification ALTER COLUMN person_id SET NOT NULL;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE notify_notification DROP CONSTRAINT notify_notification_pkey, ADD CONSTRAINT notify_notification_pkey PRIMARY KEY (person_id, id);

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, disallowed-unique-constraint
ALTER TABLE notify_notification DROP CONSTRAINT notify_notification_dedup_key_key, ADD CONSTRAINT notify_notification_dedup_key_key UNIQUE (person_id, dedup_key);

-- squawk-ignore require-concurrent-index-deletion
DROP INDEX notify_notification_account_id_idx;

-- squawk-ignore require-concurrent-index-deletion
DROP INDEX notify_notification_department_id_idx;
