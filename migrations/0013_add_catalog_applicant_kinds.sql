SET lock_timeout = '2s';

-- Who may apply for a bundle or a matter: a person, a business entity (acting for it), or both. Null means the
-- default the catalogue derives (matters/service.py): bundles of an enterprise's life stages are applied for by
-- the entity, others by a person; a matter by whoever may apply for a bundle it belongs to.
ALTER TABLE catalog_bundle ADD COLUMN applicant_kinds text[];
ALTER TABLE catalog_matter ADD COLUMN applicant_kinds text[];
