SET lock_timeout = '2s';

-- The key 0020 added, checked against the rows there are.
ALTER TABLE application VALIDATE CONSTRAINT application_for_person_id_fkey;
