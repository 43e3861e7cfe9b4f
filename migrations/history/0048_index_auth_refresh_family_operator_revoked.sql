SET lock_timeout = '2s';

-- Operator tokens live up to a week, so every server process also reads the operator logins ended
-- within the last week (auth/revocation.py): only those are indexed.
CREATE INDEX auth_refresh_family_operator_revoked_at_idx ON auth_refresh_family (revoked_at)
    WHERE method = 'operator' AND revoked_at IS NOT NULL;
