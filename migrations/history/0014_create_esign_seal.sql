SET lock_timeout = '2s';

-- Seals (电子印章): a key pair and its certificate from the platform root. Departments' seals
-- sign certificates (role issuer); the platform's presentation seal signs presentations (role
-- presenter, no department). private_key is sealed PKCS#8 DER (context "esign_seal.private_key"),
-- or NULL when the department keeps its key (it sent a CSR and signs for itself).
-- status: active (signs), retired (replaced by a rotation: what it signed stays valid, it signs
-- no more), revoked (its key is no longer trusted: everything it signed fails verification).
CREATE TABLE esign_seal (
    id                uuid NOT NULL,
    department_id     uuid,
    role              text NOT NULL,
    name              text NOT NULL,
    kind              text NOT NULL,
    algorithm         text NOT NULL,
    kid               bytea NOT NULL,
    certificate       bytea NOT NULL,
    private_key       bytea,
    key_custody       text NOT NULL,
    status            text NOT NULL DEFAULT 'active',
    valid_from        timestamptz NOT NULL,
    valid_until       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    retired_at        timestamptz,
    revoked_at        timestamptz,
    revocation_reason text,
    replaces_id       uuid,
    CONSTRAINT esign_seal_pkey PRIMARY KEY (id),
    CONSTRAINT esign_seal_kid_key UNIQUE (kid),
    CONSTRAINT esign_seal_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT esign_seal_replaces_id_fkey FOREIGN KEY (replaces_id) REFERENCES esign_seal (id),
    CONSTRAINT esign_seal_role_check CHECK (
        (role = 'issuer' AND department_id IS NOT NULL AND kind IN ('official', 'business'))
        OR (role = 'presenter' AND department_id IS NULL AND kind = 'presentation')
    ),
    CONSTRAINT esign_seal_algorithm_check CHECK (algorithm IN ('ES256', 'SM2')),
    CONSTRAINT esign_seal_key_custody_check CHECK (
        (key_custody = 'platform' AND private_key IS NOT NULL)
        OR (key_custody = 'department' AND private_key IS NULL)
    ),
    CONSTRAINT esign_seal_status_check CHECK (status IN ('active', 'retired', 'revoked')),
    CONSTRAINT esign_seal_one_presenter_excl EXCLUDE USING btree (role WITH =)
        WHERE (role = 'presenter' AND status = 'active')
);

CREATE INDEX esign_seal_department_id_idx ON esign_seal (department_id, created_at DESC);
