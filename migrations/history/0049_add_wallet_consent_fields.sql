SET lock_timeout = '2s';

-- The fields a consent discloses, per item: {"<item id>": ["key", ...]}. An item the map does not
-- name is shown to the grantee without its sensitive values (as to anyone but the holder).
ALTER TABLE wallet_consent ADD COLUMN fields jsonb NOT NULL DEFAULT '{}';
ALTER TABLE wallet_consent ADD CONSTRAINT wallet_consent_fields_check CHECK (jsonb_typeof(fields) = 'object');
