SET lock_timeout = '2s';

-- When the registry last named another legal representative (a later 营业执照): the acting tokens of the
-- one it named before are refused from then on (auth/revocation.py reads the entities changed within an
-- access token's life every few seconds). Nullable without a default: adding it rewrites nothing.
ALTER TABLE org_entity ADD COLUMN legal_rep_changed_at timestamptz;
