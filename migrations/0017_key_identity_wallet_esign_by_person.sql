SET lock_timeout = '2s';

-- The person and the tables that grow with them (their wallet, certificates, guardianships, devices,
-- login alerts, authorisations) are placed with the person on a Citus cluster
-- (api/kernel/distribution.py): `person` by its id, the others by the person they belong to, in the
-- change log's co-location group. Citus wants the distribution column in every primary and unique
-- key of a distributed table, so the keys below gain the person; the ids on the wire are unchanged and
-- every statement that knows the person names it.
--
-- What is unique across everyone and looked up without a person moves to small tables that stay on
-- the coordinator, one primary-key read away: the blind index of ID numbers (`person_id_number`) and
-- a certificate's licence number, status slot and a department's external_ref (`esign_certificate_key`,
-- which also tells whose a certificate is, for the department's reads by id), and a department's
-- external_ref of a pushed wallet item (`wallet_item_ref`).
--
-- These tables are empty on every deployment (nothing is deployed yet), so each key is swapped in one
-- statement and the copies below are of no rows; on tables that take traffic the new keys would be
-- built CONCURRENTLY first and added USING INDEX, and the foreign keys added NOT VALID and validated
-- by a later migration. On one PostgreSQL the same tables simply have the new keys.
--
-- Citus holds a foreign key from a distributed table only to a co-located distributed table through
-- the distribution column, or to a reference table, and none from a coordinator table to a
-- distributed one. Each key dropped below says why it goes; what it guarded is written in the
-- transaction that created or checked what it names.

-- The ID-number index: one row per ID number, its uniqueness checked where it is kept (finding or
-- creating a person inserts here first, so two transactions creating the same person wait for each
-- other on this key).
CREATE TABLE person_id_number (
    id_number_index bytea NOT NULL,
    person_id uuid NOT NULL,
    CONSTRAINT person_id_number_pkey PRIMARY KEY (id_number_index),
    CONSTRAINT person_id_number_person_id_key UNIQUE (person_id)
);

INSERT INTO person_id_number (id_number_index, person_id)
SELECT id_number_index, id FROM person WHERE id_number_index IS NOT NULL;

-- The person keeps its sealed ID number and its index (read with the person); uniqueness is above.
-- squawk-ignore ban-drop-constraint
ALTER TABLE person DROP CONSTRAINT person_id_number_index_key;

-- Coordinator tables naming a person: an account's person, a real-name session's, an entity's own
-- person row, and the application group's persons (applications, birth keys, window visits; these
-- move with their applications in the next migration, which adds back those Citus can hold). Person
-- rows are never deleted, and each of these names the person it was written for.
-- squawk-ignore ban-drop-constraint
ALTER TABLE auth_account DROP CONSTRAINT auth_account_person_id_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE auth_realname_session DROP CONSTRAINT auth_realname_session_person_id_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE org_entity DROP CONSTRAINT org_entity_id_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE application DROP CONSTRAINT application_applicant_person_id_fkey, DROP CONSTRAINT application_for_person_id_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE application_birth_key DROP CONSTRAINT application_birth_key_child_person_id_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE window_intake DROP CONSTRAINT window_intake_person_id_fkey, DROP CONSTRAINT window_intake_delegation_id_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE window_handover DROP CONSTRAINT window_handover_recipient_person_id_fkey, DROP CONSTRAINT window_handover_delegation_id_fkey;

-- The keys migration 0014 dropped come back, from co-located tables through the distribution column.
-- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
ALTER TABLE sync_draft ADD CONSTRAINT sync_draft_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id);
-- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
ALTER TABLE wallet_consent ADD CONSTRAINT wallet_consent_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id);

-- Certificates: keyed by holder. Every certificate has one (a person, or an organisation's own person
-- row); the key makes that a rule.
CREATE TABLE esign_certificate_key (
    id uuid NOT NULL,
    person_id uuid NOT NULL,
    department_id uuid NOT NULL,
    external_ref text NOT NULL,
    licence_id text NOT NULL,
    status_list_id integer NOT NULL,
    status_index integer NOT NULL,
    CONSTRAINT esign_certificate_key_pkey PRIMARY KEY (id),
    CONSTRAINT esign_certificate_key_department_id_external_ref_key UNIQUE (department_id, external_ref),
    CONSTRAINT esign_certificate_key_licence_id_key UNIQUE (licence_id),
    CONSTRAINT esign_certificate_key_status_slot_key UNIQUE (status_list_id, status_index)
);

INSERT INTO esign_certificate_key (id, person_id, department_id, external_ref, licence_id, status_list_id, status_index)
SELECT id, person_id, department_id, external_ref, licence_id, status_list_id, status_index FROM esign_certificate;

-- The keys that reach a certificate by its id alone: a wallet item's and a device credential's come back
-- below with the holder; an expiry reminder (a coordinator table, written by the job that read the
-- certificate) keeps the id.
-- squawk-ignore ban-drop-constraint
ALTER TABLE wallet_item DROP CONSTRAINT wallet_item_certificate_id_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE esign_device_credential DROP CONSTRAINT esign_device_credential_certificate_id_fkey, DROP CONSTRAINT esign_device_credential_device_id_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE wallet_expiry_reminder DROP CONSTRAINT wallet_expiry_reminder_certificate_id_fkey;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field, disallowed-unique-constraint
ALTER TABLE esign_certificate DROP CONSTRAINT esign_certificate_pkey, DROP CONSTRAINT esign_certificate_department_id_external_ref_key, DROP CONSTRAINT esign_certificate_licence_id_key, DROP CONSTRAINT esign_certificate_status_slot_key, ADD CONSTRAINT esign_certificate_pkey PRIMARY KEY (person_id, id);

-- A department's own certificates by its external_ref (its list and replays read the key table first).
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX esign_certificate_department_id_external_ref_idx ON esign_certificate (department_id, external_ref);

-- Wallet items: keyed by their person; a certificate's item names a certificate of the same person.
-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field, disallowed-unique-constraint
ALTER TABLE wallet_item DROP CONSTRAINT wallet_item_pkey, DROP CONSTRAINT wallet_item_certificate_id_key, ADD CONSTRAINT wallet_item_pkey PRIMARY KEY (person_id, id), ADD CONSTRAINT wallet_item_certificate_id_key UNIQUE (person_id, certificate_id);

-- squawk-ignore require-concurrent-index-deletion
DROP INDEX wallet_item_source_key_key;
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX wallet_item_source_key_key ON wallet_item (person_id, source_key) WHERE source_key IS NOT NULL;

-- squawk-ignore require-concurrent-index-deletion
DROP INDEX wallet_item_department_id_kind_external_ref_key;
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX wallet_item_department_id_kind_external_ref_key ON wallet_item (person_id, department_id, kind, external_ref) WHERE external_ref IS NOT NULL;

-- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
ALTER TABLE wallet_item ADD CONSTRAINT wallet_item_certificate_id_fkey FOREIGN KEY (person_id, certificate_id) REFERENCES esign_certificate (person_id, id);

-- A department's pushed item (a record, a life event) is found by its external_ref, without the holder: the
-- ref is kept unique where it is looked up, on the coordinator.
CREATE TABLE wallet_item_ref (
    department_id uuid NOT NULL,
    kind text NOT NULL,
    external_ref text NOT NULL,
    person_id uuid NOT NULL,
    item_id uuid NOT NULL,
    CONSTRAINT wallet_item_ref_pkey PRIMARY KEY (department_id, kind, external_ref)
);

INSERT INTO wallet_item_ref (department_id, kind, external_ref, person_id, item_id)
SELECT department_id, kind, external_ref, person_id, id FROM wallet_item WHERE external_ref IS NOT NULL;

-- Guardianships are placed with the guardian and read with the dependent's birth date, which they
-- carry (copied when the guardianship is written or the birth date learnt): the guardian's list of
-- dependents is one shard's, not a join with the dependent's person row on another. The key to the
-- dependent's person goes (not through the distribution column).
ALTER TABLE guardianship ADD COLUMN dependent_born_on date;

UPDATE guardianship g SET dependent_born_on = p.born_on FROM person p WHERE p.id = g.dependent_person_id;

-- squawk-ignore ban-drop-constraint
ALTER TABLE guardianship DROP CONSTRAINT guardianship_dependent_person_id_fkey;

-- A closed wallet's family reader is placed with the reader (their list of the wallets they may read is one
-- shard's); the closed wallet's person and the application that made them a reader are named by id (the
-- person is on another shard; applications are still on the coordinator).
-- squawk-ignore ban-drop-constraint
ALTER TABLE wallet_family_reader DROP CONSTRAINT wallet_family_reader_person_id_fkey, DROP CONSTRAINT wallet_family_reader_application_id_fkey;

-- Login alerts and identity cases: keyed by their person. The account and the login they name stay on the
-- coordinator (both are written or checked in the transaction that writes the alert). An alert's link
-- is found by its token's hash alone (rare: the person opened the link), a lookup on every shard.
-- squawk-ignore ban-drop-constraint
ALTER TABLE auth_identity_case DROP CONSTRAINT auth_identity_case_alert_id_fkey, DROP CONSTRAINT auth_identity_case_account_id_fkey, DROP CONSTRAINT auth_identity_case_reported_by_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE auth_login_alert DROP CONSTRAINT auth_login_alert_account_id_fkey, DROP CONSTRAINT auth_login_alert_login_id_fkey;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE auth_login_alert DROP CONSTRAINT auth_login_alert_pkey, DROP CONSTRAINT auth_login_alert_token_hash_key, ADD CONSTRAINT auth_login_alert_pkey PRIMARY KEY (person_id, id);

-- squawk-ignore require-concurrent-index-creation
CREATE INDEX auth_login_alert_token_hash_idx ON auth_login_alert (token_hash);

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field, disallowed-unique-constraint
ALTER TABLE auth_identity_case DROP CONSTRAINT auth_identity_case_pkey, DROP CONSTRAINT auth_identity_case_alert_id_key, ADD CONSTRAINT auth_identity_case_pkey PRIMARY KEY (person_id, id), ADD CONSTRAINT auth_identity_case_alert_id_key UNIQUE (person_id, alert_id);

-- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
ALTER TABLE auth_identity_case ADD CONSTRAINT auth_identity_case_alert_id_fkey FOREIGN KEY (person_id, alert_id) REFERENCES auth_login_alert (person_id, id);

-- Authorisations are placed with their principal (a person, or an entity's person row), and so are their
-- uses, which name the principal too. The agent is another person: its key goes.
-- squawk-ignore ban-drop-constraint
ALTER TABLE delegation DROP CONSTRAINT delegation_agent_person_id_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE delegation_use DROP CONSTRAINT delegation_use_delegation_id_fkey;

ALTER TABLE delegation_use ADD COLUMN principal_id uuid;

UPDATE delegation_use u SET principal_id = d.principal_id FROM delegation d WHERE d.id = u.delegation_id;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE delegation DROP CONSTRAINT delegation_pkey, ADD CONSTRAINT delegation_pkey PRIMARY KEY (principal_id, id);

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field, adding-not-nullable-field
ALTER TABLE delegation_use DROP CONSTRAINT delegation_use_pkey, ADD CONSTRAINT delegation_use_pkey PRIMARY KEY (principal_id, id);

-- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
ALTER TABLE delegation_use ADD CONSTRAINT delegation_use_delegation_id_fkey FOREIGN KEY (principal_id, delegation_id) REFERENCES delegation (principal_id, id);

-- Signing devices and their credentials: keyed by the device's person, which a credential already names
-- (the holder of its certificate). A device key is unique among its person's devices.
-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field, disallowed-unique-constraint
ALTER TABLE esign_device DROP CONSTRAINT esign_device_pkey, DROP CONSTRAINT esign_device_public_key_key, ADD CONSTRAINT esign_device_pkey PRIMARY KEY (person_id, id), ADD CONSTRAINT esign_device_public_key_key UNIQUE (person_id, public_key);

-- A status slot is the allocator's (esign.lists), never handed out twice; the key keeps the status list's
-- reads on an index.
-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field, disallowed-unique-constraint
ALTER TABLE esign_device_credential DROP CONSTRAINT esign_device_credential_pkey, DROP CONSTRAINT esign_device_credential_device_id_certificate_id_key, DROP CONSTRAINT esign_device_credential_status_list_id_status_index_key, ADD CONSTRAINT esign_device_credential_pkey PRIMARY KEY (person_id, id), ADD CONSTRAINT esign_device_credential_device_id_certificate_id_key UNIQUE (person_id, device_id, certificate_id), ADD CONSTRAINT esign_device_credential_status_list_id_status_index_key UNIQUE (status_list_id, status_index, person_id);

-- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
ALTER TABLE esign_device_credential ADD CONSTRAINT esign_device_credential_device_id_fkey FOREIGN KEY (person_id, device_id) REFERENCES esign_device (person_id, id), ADD CONSTRAINT esign_device_credential_certificate_id_fkey FOREIGN KEY (person_id, certificate_id) REFERENCES esign_certificate (person_id, id);
