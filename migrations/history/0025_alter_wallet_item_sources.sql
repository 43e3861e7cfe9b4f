SET lock_timeout = '2s';

-- Wallet items that no certificate produced: records and life events that departments push
-- (idempotent by the department's external_ref, per kind; request_hash tells a repeat from a
-- different body), and life events the wallet derives from what happened. source_key names where
-- a derived or pushed life event came from, so deriving twice writes once; the events a person has
-- only once are keyed by person ('born:<person id>', 'died:<person id>').
-- sealed_data holds the values a department marked sensitive, sealed with the keyring (context
-- "wallet_item.sealed_data"); data holds the rest and travels to the holder's devices.
ALTER TABLE wallet_item ADD COLUMN department_id uuid;
ALTER TABLE wallet_item ADD COLUMN external_ref text;
ALTER TABLE wallet_item ADD COLUMN request_hash bytea;
ALTER TABLE wallet_item ADD COLUMN sealed_data bytea;
ALTER TABLE wallet_item ADD COLUMN source_key text;

ALTER TABLE wallet_item ADD CONSTRAINT wallet_item_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id);
ALTER TABLE wallet_item ADD CONSTRAINT wallet_item_department_id_kind_external_ref_key UNIQUE (department_id, kind, external_ref);
ALTER TABLE wallet_item ADD CONSTRAINT wallet_item_source_key_key UNIQUE (source_key);
ALTER TABLE wallet_item ADD CONSTRAINT wallet_item_external_ref_check
    CHECK ((external_ref IS NULL) = (department_id IS NULL) AND (external_ref IS NULL) = (request_hash IS NULL));

-- The wallet lists every kind together, newest first.
CREATE INDEX wallet_item_person_id_at_idx ON wallet_item (person_id, at DESC, id DESC);
