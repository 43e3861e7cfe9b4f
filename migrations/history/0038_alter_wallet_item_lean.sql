SET lock_timeout = '2s';

-- Certificates are most of the wallet, and batch issuing writes thousands of their items a second.
-- Each paid for three foreign-key checks and five index entries it never uses:
-- * the keys to person, esign_certificate and department: those rows are never deleted, and every
--   writer of an item has just read or written the row it names (as for esign_certificate, 0017);
-- * the two provenance keys, NULL for a certificate's item: partial indexes leave those out;
-- * (person_id, kind, at): the listing reads (person_id, at DESC, id DESC) and filters the kind
--   from a person's few items.
ALTER TABLE wallet_item DROP CONSTRAINT wallet_item_person_id_fkey;
ALTER TABLE wallet_item DROP CONSTRAINT wallet_item_certificate_id_fkey;
ALTER TABLE wallet_item DROP CONSTRAINT wallet_item_department_id_fkey;

ALTER TABLE wallet_item DROP CONSTRAINT wallet_item_department_id_kind_external_ref_key;
CREATE UNIQUE INDEX wallet_item_department_id_kind_external_ref_key ON wallet_item (department_id, kind, external_ref)
    WHERE external_ref IS NOT NULL;
ALTER TABLE wallet_item DROP CONSTRAINT wallet_item_source_key_key;
CREATE UNIQUE INDEX wallet_item_source_key_key ON wallet_item (source_key) WHERE source_key IS NOT NULL;

DROP INDEX wallet_item_person_id_idx;
