SET lock_timeout = '2s';

-- An entity's e-seals, plural: the one made at 公章刻制备案 (ES256) and those its 法定代表人 asks for
-- (SM2 as well, as departments' seals allow), at most one active per algorithm (migration 0003's
-- index); the 法定代表人 revokes them, and the revocation is kept: when, by whom, why. A seal's name
-- (null for those made before: read as the entity's name and 电子公章).
ALTER TABLE esign_entity_seal
    ADD COLUMN name          text,
    ADD COLUMN revoked_at    timestamptz,
    ADD COLUMN revoked_by    text,
    ADD COLUMN revoke_reason text;

-- One seal per entity no longer: migration 0003's indexes take its place. The guarantee it gave —
-- one seal per entity — is meant to go; no reader assumes it (a submission is signed with the newest
-- active seal, a signature is checked against the seal its kid names).
-- squawk-ignore ban-drop-constraint
ALTER TABLE esign_entity_seal DROP CONSTRAINT esign_entity_seal_org_id_key;
