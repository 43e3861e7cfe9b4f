SET lock_timeout = '2s';

-- Applications are placed with the person they are for on a Citus cluster (api/kernel/distribution.py),
-- with their tasks, timeline, rating and rectification: the keys become (for_person_id, …), each child
-- row carries the application's for_person_id, and the foreign keys between them go through it. On one
-- PostgreSQL the same tables simply have these keys. The ids on the wire are unchanged; every statement
-- that knows the application's person names it, and a department's statement reads the person from the
-- task or rectification it was given (docs/scaling.md).
--
-- The application's person is `for_person_id`, not the applicant: a citizen's own applications and those
-- for their dependents are then on their family's shards (a newborn's, applied for by either parent, on
-- the child's), notices and wallet entries name that person, and an application someone made for another
-- is always for a person they were guardian of (docs/scaling.md).
--
-- These tables are empty on every deployment (nothing is deployed yet), so each key is swapped in one
-- statement; rows there are (a development database) get their person from their application, and the keys
-- to the application are added NOT VALID (0021 checks them). On tables that take traffic the keys would be
-- built CONCURRENTLY first.
--
-- Citus holds no foreign key between a distributed table and a coordinator table, nor one between
-- distributed tables that does not go through the distribution column. 0017 dropped the keys to `person`
-- (the one through the distribution column, `for_person_id`, comes back in 0020; the applicant is another
-- person's row when someone applies for a dependent) and a family reader's key to its application. These go:
-- - from the window's visits and hand-overs and the birth cases, which stay on the coordinator
--   (docs/scaling.md: they are found by a visit id, a centre's queue or a blind index of a birth
--   certificate number, never by the person), to the application: each is written in the transaction
--   that wrote or read the application it names, and now also names its person.

-- squawk-ignore ban-drop-constraint
ALTER TABLE application_task DROP CONSTRAINT application_task_application_id_fkey;

-- squawk-ignore ban-drop-constraint
ALTER TABLE application_event DROP CONSTRAINT application_event_application_id_fkey;

-- squawk-ignore ban-drop-constraint
ALTER TABLE evaluation DROP CONSTRAINT evaluation_application_id_fkey;

-- squawk-ignore ban-drop-constraint
ALTER TABLE rectification DROP CONSTRAINT rectification_application_id_fkey;

-- squawk-ignore ban-drop-constraint
ALTER TABLE application_birth_key DROP CONSTRAINT application_birth_key_application_id_fkey;

-- squawk-ignore ban-drop-constraint
ALTER TABLE window_intake DROP CONSTRAINT window_intake_application_id_fkey;

-- squawk-ignore ban-drop-constraint
ALTER TABLE window_handover DROP CONSTRAINT window_handover_application_id_fkey;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE application DROP CONSTRAINT application_pkey, ADD CONSTRAINT application_pkey PRIMARY KEY (for_person_id, id);

-- A citizen's list reads by the person applied for (application_for_person_idx); what a person applied
-- for others is found through the persons they were guardian of, so the index by applicant goes.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX application_applicant_idx;

-- Tasks: a department reads one by its id without knowing the person (application_task_id_idx).
ALTER TABLE application_task ADD COLUMN for_person_id uuid;

UPDATE application_task x SET for_person_id = a.for_person_id FROM application a WHERE a.id = x.application_id;

-- squawk-ignore adding-not-nullable-field
ALTER TABLE application_task ALTER COLUMN for_person_id SET NOT NULL;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE application_task DROP CONSTRAINT application_task_pkey, ADD CONSTRAINT application_task_pkey PRIMARY KEY (for_person_id, id);

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, disallowed-unique-constraint
ALTER TABLE application_task DROP CONSTRAINT application_task_application_id_matter_code_key, ADD CONSTRAINT application_task_application_id_matter_code_key UNIQUE (for_person_id, application_id, matter_code);

ALTER TABLE application_task ADD CONSTRAINT application_task_application_id_fkey FOREIGN KEY (for_person_id, application_id) REFERENCES application (for_person_id, id) NOT VALID;

-- squawk-ignore require-concurrent-index-creation
CREATE INDEX application_task_id_idx ON application_task (id);

ALTER TABLE application_event ADD COLUMN for_person_id uuid;

UPDATE application_event x SET for_person_id = a.for_person_id FROM application a WHERE a.id = x.application_id;

-- squawk-ignore adding-not-nullable-field
ALTER TABLE application_event ALTER COLUMN for_person_id SET NOT NULL;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE application_event DROP CONSTRAINT application_event_pkey, ADD CONSTRAINT application_event_pkey PRIMARY KEY (for_person_id, id);

ALTER TABLE application_event ADD CONSTRAINT application_event_application_id_fkey FOREIGN KEY (for_person_id, application_id) REFERENCES application (for_person_id, id) NOT VALID;

-- squawk-ignore require-concurrent-index-deletion
DROP INDEX application_event_application_idx;

-- squawk-ignore require-concurrent-index-creation
CREATE INDEX application_event_application_idx ON application_event (for_person_id, application_id, id);

ALTER TABLE evaluation ADD COLUMN for_person_id uuid;

UPDATE evaluation x SET for_person_id = a.for_person_id FROM application a WHERE a.id = x.application_id;

-- squawk-ignore adding-not-nullable-field
ALTER TABLE evaluation ALTER COLUMN for_person_id SET NOT NULL;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE evaluation DROP CONSTRAINT evaluation_pkey, ADD CONSTRAINT evaluation_pkey PRIMARY KEY (for_person_id, application_id);

ALTER TABLE evaluation ADD CONSTRAINT evaluation_application_id_fkey FOREIGN KEY (for_person_id, application_id) REFERENCES application (for_person_id, id) NOT VALID;

-- Rectifications: a department answers one by its id (rectification_id_idx).
ALTER TABLE rectification ADD COLUMN for_person_id uuid;

UPDATE rectification x SET for_person_id = a.for_person_id FROM application a WHERE a.id = x.application_id;

-- squawk-ignore adding-not-nullable-field
ALTER TABLE rectification ALTER COLUMN for_person_id SET NOT NULL;

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, adding-serial-primary-key-field
ALTER TABLE rectification DROP CONSTRAINT rectification_pkey, ADD CONSTRAINT rectification_pkey PRIMARY KEY (for_person_id, id);

-- squawk-ignore ban-drop-constraint, constraint-missing-not-valid, disallowed-unique-constraint
ALTER TABLE rectification DROP CONSTRAINT rectification_application_id_key, ADD CONSTRAINT rectification_application_id_key UNIQUE (for_person_id, application_id);

ALTER TABLE rectification ADD CONSTRAINT rectification_application_id_fkey FOREIGN KEY (for_person_id, application_id) REFERENCES application (for_person_id, id) NOT VALID;

-- squawk-ignore require-concurrent-index-creation
CREATE INDEX rectification_id_idx ON rectification (id);

-- A window's visit names the application it took with its person (a hand-over is made from the visit); a
-- birth case's child is the person its application is for, so child_person_id is that key already.
ALTER TABLE window_intake ADD COLUMN for_person_id uuid;

UPDATE window_intake i SET for_person_id = a.for_person_id FROM application a WHERE a.id = i.application_id;
