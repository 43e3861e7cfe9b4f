SET lock_timeout = '2s';

-- Drafts, consents and the reads under them are placed with their person on a Citus cluster
-- (api/kernel/distribution.py), which wants the distribution column in every primary and unique
-- key: the keys become (person_id, id). The wire ids stay what they were (a draft's id is the
-- client's UUID, a consent's a UUIDv7, a read's a number); every statement that knows the person
-- names it, so another person's draft or consent is still not found.
--
-- These tables are empty on every deployment (nothing is deployed yet), so each key is swapped in
-- one statement; on tables that take traffic the new key would be built CONCURRENTLY first and
-- added USING INDEX, and the foreign keys added NOT VALID and validated by a later migration.
--
-- Citus allows a foreign key from a distributed table only to a co-located distributed table
-- (through the distribution column) or to a reference table, and none from a coordinator table to
-- a distributed one. The person table stays on the coordinator (docs/scaling.md: its ID-number
-- index stays unique across everyone), person rows are never deleted and the person of a draft or
-- a consent is the caller's, read from their account: the foreign keys to it go. So do those that
-- join a consent or a read to a table still on the coordinator (a window visit's consent, the task
-- a read was for, the authorisation a 代办人 used): each is written in the transaction that created
-- or checked what it names.

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE sync_draft DROP CONSTRAINT sync_draft_pkey, ADD CONSTRAINT sync_draft_pkey PRIMARY KEY (person_id, id);

-- squawk-ignore ban-drop-constraint
ALTER TABLE sync_draft DROP CONSTRAINT sync_draft_person_id_fkey;

-- squawk-ignore ban-drop-constraint
ALTER TABLE window_intake DROP CONSTRAINT window_intake_consent_id_fkey;

-- squawk-ignore ban-drop-constraint
ALTER TABLE wallet_access_log DROP CONSTRAINT wallet_access_log_consent_id_fkey, DROP CONSTRAINT wallet_access_log_task_id_fkey;

-- A 代办人's use names the authorisation (0007); `delegation` stays on the coordinator until it moves
-- with its principal (docs/scaling.md), and the entry is written in the transaction that checked it.
-- squawk-ignore ban-drop-constraint
ALTER TABLE wallet_access_log DROP CONSTRAINT wallet_access_log_delegation_id_fkey;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE wallet_consent DROP CONSTRAINT wallet_consent_person_id_fkey;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE wallet_consent DROP CONSTRAINT wallet_consent_pkey, ADD CONSTRAINT wallet_consent_pkey PRIMARY KEY (person_id, id);

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE wallet_access_log DROP CONSTRAINT wallet_access_log_pkey, ADD CONSTRAINT wallet_access_log_pkey PRIMARY KEY (person_id, id);

-- A read under a consent names a consent of the same person: the key carries the person.
-- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
ALTER TABLE wallet_access_log ADD CONSTRAINT wallet_access_log_consent_id_fkey FOREIGN KEY (person_id, consent_id) REFERENCES wallet_consent (person_id, id);
