SET lock_timeout = '2s';

-- A revoked key (`zhangban revoke-signing-key`, for a compromised one) is no longer published and
-- none of its tokens verify; a revoked key is retired too.
ALTER TABLE auth_signing_key ADD COLUMN revoked_at timestamptz;
ALTER TABLE auth_signing_key ADD CONSTRAINT auth_signing_key_revoked_retired_check
    CHECK (revoked_at IS NULL OR retired_at IS NOT NULL);
