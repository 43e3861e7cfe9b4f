SET lock_timeout = '2s';

-- Every server process reads the logins revoked in the last quarter hour every few seconds
-- (auth/revocation.py): only revoked families are indexed.
CREATE INDEX auth_refresh_family_revoked_at_idx ON auth_refresh_family (revoked_at) WHERE revoked_at IS NOT NULL;
