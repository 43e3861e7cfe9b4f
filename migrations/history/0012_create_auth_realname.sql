SET lock_timeout = '2s';

-- Identity providers whose signed assertions prove a real name (e.g. the public-security CTID
-- service). Keys are given either as one PEM public key or as a JWKS document.
CREATE TABLE auth_identity_provider (
    id              uuid NOT NULL,
    name            text NOT NULL,
    issuer          text NOT NULL,
    public_key_pem  text,
    jwks            jsonb,
    max_level       smallint NOT NULL DEFAULT 2,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    CONSTRAINT auth_identity_provider_pkey PRIMARY KEY (id),
    CONSTRAINT auth_identity_provider_issuer_key UNIQUE (issuer),
    CONSTRAINT auth_identity_provider_key_check CHECK ((public_key_pem IS NULL) <> (jwks IS NULL)),
    CONSTRAINT auth_identity_provider_max_level_check CHECK (max_level BETWEEN 2 AND 3)
);

-- One attempt to prove a claimed identity through one channel. The claimed name and ID number are
-- encrypted while the session is open and erased when it closes; the blind index remains.
CREATE TABLE auth_realname_session (
    id                      uuid NOT NULL,
    account_id              uuid NOT NULL,
    method                  text NOT NULL,
    nonce                   text NOT NULL,
    name                    bytea,
    id_number               bytea,
    id_number_index         bytea NOT NULL,
    status                  text NOT NULL DEFAULT 'open',
    created_at              timestamptz NOT NULL,
    expires_at              timestamptz NOT NULL,
    completed_at            timestamptz,
    wechat_openid           text,
    verify_id               text,
    out_seq_no              text,
    assurance_level         smallint,
    person_id               uuid,
    failure_reason          text,
    attested_by             uuid,
    attested_department_id  uuid,
    CONSTRAINT auth_realname_session_pkey PRIMARY KEY (id),
    CONSTRAINT auth_realname_session_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account (id),
    CONSTRAINT auth_realname_session_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT auth_realname_session_attested_by_fkey FOREIGN KEY (attested_by) REFERENCES auth_account (id),
    CONSTRAINT auth_realname_session_attested_department_id_fkey
        FOREIGN KEY (attested_department_id) REFERENCES department (id),
    CONSTRAINT auth_realname_session_method_check CHECK (method IN ('wechat_face', 'assertion', 'counter')),
    CONSTRAINT auth_realname_session_status_check CHECK (status IN ('open', 'verified', 'failed'))
);

CREATE INDEX auth_realname_session_account_id_idx ON auth_realname_session (account_id, created_at);
