SET lock_timeout = '2s';

-- The `aud` an identity provider must put in its assertions for us (our client id with that
-- provider). NULL, for providers registered before it existed, means the public base URL.
ALTER TABLE auth_identity_provider ADD COLUMN audience text;
ALTER TABLE auth_identity_provider ADD CONSTRAINT auth_identity_provider_audience_check
    CHECK (audience IS NULL OR length(audience) BETWEEN 1 AND 300);

-- A session's nonce is used once: an assertion carrying the nonce of a session already closed is a
-- replay. The lookup goes by nonce, which is unique anyway (24 random bytes).
ALTER TABLE auth_realname_session ADD CONSTRAINT auth_realname_session_nonce_key UNIQUE (nonce);
