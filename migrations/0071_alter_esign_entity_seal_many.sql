SET lock_timeout = '2s';

-- An entity's e-seals, plural: the one made at 公章刻制备案 (ES256) and those its 法定代表人 asks for
-- (SM2 as well, as departments' seals allow), at most one active per algorithm; the 法定代表人 revokes
-- them, and the revocation is kept (when, by whom, why).
ALTER TABLE esign_entity_seal
    ADD COLUMN name          text,
    ADD COLUMN revoked_at    timestamptz,
    ADD COLUMN revoked_by    text,
    ADD COLUMN revoke_reason text;
UPDATE esign_entity_seal s SET name = o.name || '电子公章' FROM org_entity o WHERE o.id = s.org_id;
ALTER TABLE esign_entity_seal ALTER COLUMN name SET NOT NULL;
CREATE INDEX esign_entity_seal_org_id_idx ON esign_entity_seal (org_id, created_at DESC);
-- The index takes the constraint's place (its name is what a violation maps to).
ALTER TABLE esign_entity_seal DROP CONSTRAINT esign_entity_seal_org_id_key;
CREATE UNIQUE INDEX esign_entity_seal_active_key ON esign_entity_seal (org_id, algorithm) WHERE status = 'active';
