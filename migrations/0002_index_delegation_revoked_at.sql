SET lock_timeout = '2s';

-- Authorisations revoked within an access token's life, read every few seconds by each server
-- process (auth/revocation.py) so that a revoked 经办人's acting token is refused at once. Built
-- concurrently: delegation takes writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS delegation_revoked_at_idx ON delegation (revoked_at) WHERE revoked_at IS NOT NULL;
