SET lock_timeout = '2s';

-- A family is one login on one device; every refresh spends the presented token and issues the next
-- one in the same family. Presenting a spent token again revokes the whole family (theft detection).
CREATE TABLE auth_refresh_family (
    id              uuid NOT NULL,
    account_id      uuid NOT NULL,
    method          text NOT NULL,
    auth_time       timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    CONSTRAINT auth_refresh_family_pkey PRIMARY KEY (id),
    CONSTRAINT auth_refresh_family_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account (id),
    CONSTRAINT auth_refresh_family_method_check CHECK (method IN ('wechat', 'sms', 'operator'))
);

CREATE INDEX auth_refresh_family_account_id_idx ON auth_refresh_family (account_id);

-- Only the SHA-256 of the (256-bit random) token is kept.
CREATE TABLE auth_refresh_token (
    token_hash  bytea NOT NULL,
    family_id   uuid NOT NULL,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT auth_refresh_token_pkey PRIMARY KEY (token_hash),
    CONSTRAINT auth_refresh_token_family_id_fkey FOREIGN KEY (family_id) REFERENCES auth_refresh_family (id)
);

CREATE INDEX auth_refresh_token_family_id_idx ON auth_refresh_token (family_id);
