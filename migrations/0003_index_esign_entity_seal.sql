SET lock_timeout = '2s';

-- An entity's e-seals, plural (migration 0004): looked up by entity, newest first, in place of the
-- unique constraint on org_id that 0004 drops. Built concurrently: the table takes writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS esign_entity_seal_org_id_idx ON esign_entity_seal (org_id, created_at DESC);

-- At most one active seal per entity and algorithm (ES256 and SM2); the name is what a violation maps to.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS esign_entity_seal_active_key ON esign_entity_seal (org_id, algorithm) WHERE status = 'active';
