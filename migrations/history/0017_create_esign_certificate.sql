SET lock_timeout = '2s';

-- Issued certificates (电子证照). The holder's name and ID number are sealed (contexts
-- "esign_certificate.holder_name", "esign_certificate.holder_id"), found by the blind index, and
-- shown masked; an organisation's credit code is public and kept as it is. fields holds what the
-- type does not mark sensitive; sealed_fields the sensitive ones (sealed JSON).
-- status: pending (waiting for the signature of a department that keeps its seal key), valid,
-- suspended, revoked. Expiry is read from valid_until, never stored.
-- No foreign keys: department, certificate type, seal and person rows are never deleted, the issuing
-- transaction reads each of them before it writes, and the four row-level checks doubled the cost
-- of a bulk insert (batch issuing writes thousands of rows a second).
CREATE TABLE esign_certificate (
    id                  uuid NOT NULL,
    department_id       uuid NOT NULL,
    type_code           text NOT NULL,
    licence_id          text NOT NULL,
    holder_kind         text NOT NULL,
    person_id           uuid,
    holder_name         bytea NOT NULL,
    holder_id           bytea,
    holder_index        bytea,
    holder_credit_code  text,
    holder_name_masked  text NOT NULL,
    holder_id_masked    text NOT NULL,
    fields              jsonb NOT NULL,
    sealed_fields       bytea,
    seal_id             uuid NOT NULL,
    issued_at           timestamptz NOT NULL,
    valid_from          timestamptz NOT NULL,
    valid_until         timestamptz,
    status              text NOT NULL,
    status_reason       text,
    status_changed_at   timestamptz,
    status_list_id      integer NOT NULL,
    status_index        integer NOT NULL,
    record_digest       bytea NOT NULL,
    to_be_signed        bytea,
    token               text,
    external_ref        text NOT NULL,
    request_hash        bytea NOT NULL,
    application_id      uuid,
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL,
    CONSTRAINT esign_certificate_pkey PRIMARY KEY (id),
    CONSTRAINT esign_certificate_licence_id_key UNIQUE (licence_id),
    CONSTRAINT esign_certificate_department_id_external_ref_key UNIQUE (department_id, external_ref),
    CONSTRAINT esign_certificate_status_slot_key UNIQUE (status_list_id, status_index),
    CONSTRAINT esign_certificate_holder_kind_check CHECK (
        (holder_kind = 'person' AND holder_credit_code IS NULL)
        OR (holder_kind = 'organisation' AND holder_credit_code IS NOT NULL AND person_id IS NULL)
    ),
    CONSTRAINT esign_certificate_status_check CHECK (status IN ('pending', 'valid', 'suspended', 'revoked')),
    CONSTRAINT esign_certificate_token_check CHECK (
        (status = 'pending' AND token IS NULL AND to_be_signed IS NOT NULL)
        OR (status <> 'pending' AND token IS NOT NULL AND to_be_signed IS NULL)
    ),
    CONSTRAINT esign_certificate_validity_check CHECK (valid_until IS NULL OR valid_until > valid_from)
);

CREATE INDEX esign_certificate_person_id_idx ON esign_certificate (person_id) WHERE person_id IS NOT NULL;
-- Building a status list reads only the entries that are not valid.
CREATE INDEX esign_certificate_status_list_idx ON esign_certificate (status_list_id)
    WHERE status IN ('revoked', 'suspended');
