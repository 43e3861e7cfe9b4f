SET lock_timeout = '2s';

-- The keys 0018 and 0020 added, checked against the rows there are.
ALTER TABLE application VALIDATE CONSTRAINT application_for_person_id_fkey;

ALTER TABLE application_task VALIDATE CONSTRAINT application_task_application_id_fkey;

ALTER TABLE application_event VALIDATE CONSTRAINT application_event_application_id_fkey;

ALTER TABLE evaluation VALIDATE CONSTRAINT evaluation_application_id_fkey;

ALTER TABLE rectification VALIDATE CONSTRAINT rectification_application_id_fkey;
