SET lock_timeout = '2s';

-- Entities whose legal representative changed within an access token's life, read every few seconds by
-- each server process (auth/revocation.py). Built concurrently: org_entity takes writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS org_entity_legal_rep_changed_at_idx ON org_entity (legal_rep_changed_at)
    WHERE legal_rep_changed_at IS NOT NULL;
