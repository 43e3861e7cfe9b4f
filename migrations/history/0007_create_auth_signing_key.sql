SET lock_timeout = '2s';

-- ES256 keys that sign access tokens. The private key is sealed with the keyring (AES-GCM under
-- the master key, context "auth_signing_key.private_key"); the public half is published as a JWK.
-- Exactly one key signs at a time (retired_at IS NULL); a retired key stays published until every
-- token it signed has expired, so rotation never logs anyone out.
CREATE TABLE auth_signing_key (
    kid          text NOT NULL,
    algorithm    text NOT NULL DEFAULT 'ES256',
    private_key  bytea NOT NULL,
    public_jwk   jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    retired_at   timestamptz,
    CONSTRAINT auth_signing_key_pkey PRIMARY KEY (kid),
    CONSTRAINT auth_signing_key_algorithm_check CHECK (algorithm IN ('ES256'))
);

CREATE INDEX auth_signing_key_retired_at_idx ON auth_signing_key (retired_at);
