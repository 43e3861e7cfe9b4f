SET lock_timeout = '2s';

-- 授权用证: a holder (or their guardian) lets one department read named wallet items for a
-- purpose, until expires_at and for at most max_uses reads. uses counts the reads served; a read
-- takes a use with one conditional UPDATE, so two concurrent reads never overspend.
CREATE TABLE wallet_consent (
    id                     uuid NOT NULL,
    person_id              uuid NOT NULL,
    grantee_department_id  uuid NOT NULL,
    item_ids               uuid[] NOT NULL,
    purpose                text NOT NULL,
    matter_code            text,
    expires_at             timestamptz NOT NULL,
    max_uses               integer,
    uses                   integer NOT NULL DEFAULT 0,
    granted_by             text NOT NULL,
    created_at             timestamptz NOT NULL,
    revoked_at             timestamptz,
    updated_at             timestamptz NOT NULL,
    CONSTRAINT wallet_consent_pkey PRIMARY KEY (id),
    CONSTRAINT wallet_consent_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT wallet_consent_grantee_department_id_fkey FOREIGN KEY (grantee_department_id) REFERENCES department (id),
    CONSTRAINT wallet_consent_matter_code_fkey FOREIGN KEY (matter_code) REFERENCES catalog_matter (code),
    CONSTRAINT wallet_consent_item_ids_check CHECK (cardinality(item_ids) BETWEEN 1 AND 100),
    CONSTRAINT wallet_consent_max_uses_check CHECK (max_uses IS NULL OR max_uses >= 1),
    CONSTRAINT wallet_consent_uses_check CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses))
);
CREATE INDEX wallet_consent_person_id_idx ON wallet_consent (person_id, created_at DESC, id DESC);
CREATE INDEX wallet_consent_grantee_department_id_idx ON wallet_consent (grantee_department_id, created_at DESC, id DESC);

-- Every read of a consent by its grantee, served or refused, shown to the holder. actor is
-- "account:<id>" (staff) or "client:<id>" (a department system); purpose is the consent's.
CREATE TABLE wallet_access_log (
    id             bigint GENERATED ALWAYS AS IDENTITY,
    person_id      uuid NOT NULL,
    consent_id     uuid NOT NULL,
    department_id  uuid NOT NULL,
    actor          text NOT NULL,
    purpose        text NOT NULL,
    item_ids       uuid[] NOT NULL,
    outcome        text NOT NULL,
    reason         text,
    at             timestamptz NOT NULL,
    CONSTRAINT wallet_access_log_pkey PRIMARY KEY (id),
    CONSTRAINT wallet_access_log_consent_id_fkey FOREIGN KEY (consent_id) REFERENCES wallet_consent (id),
    CONSTRAINT wallet_access_log_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT wallet_access_log_outcome_check CHECK (outcome IN ('served', 'refused'))
);
CREATE INDEX wallet_access_log_person_id_idx ON wallet_access_log (person_id, id DESC);
