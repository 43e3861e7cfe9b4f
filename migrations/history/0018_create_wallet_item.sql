SET lock_timeout = '2s';

-- The lifelong wallet: one row per thing a person keeps (certificate, department record, life
-- event, application), mirrored to the person's devices through the change log. Certificates
-- link back to esign_certificate; the other kinds carry their own data.
CREATE TABLE wallet_item (
    id              uuid NOT NULL,
    person_id       uuid NOT NULL,
    kind            text NOT NULL,
    title           text NOT NULL,
    at              timestamptz NOT NULL,
    summary         jsonb NOT NULL DEFAULT '{}',
    certificate_id  uuid,
    application_id  uuid,
    bundle_code     text,
    data            jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT wallet_item_pkey PRIMARY KEY (id),
    CONSTRAINT wallet_item_certificate_id_key UNIQUE (certificate_id),
    CONSTRAINT wallet_item_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT wallet_item_certificate_id_fkey FOREIGN KEY (certificate_id) REFERENCES esign_certificate (id),
    CONSTRAINT wallet_item_kind_check CHECK (kind IN ('certificate', 'record', 'event', 'application')),
    CONSTRAINT wallet_item_certificate_check CHECK ((kind = 'certificate') = (certificate_id IS NOT NULL))
);

CREATE INDEX wallet_item_person_id_idx ON wallet_item (person_id, kind, at DESC);
