SET lock_timeout = '2s';

-- An application is for a person: with `person` (0017) and `application` (0018) placed by that person in one
-- co-location group, the key through the distribution column is one Citus holds. Added NOT VALID; 0021 checks
-- the rows there are.
ALTER TABLE application ADD CONSTRAINT application_for_person_id_fkey FOREIGN KEY (for_person_id) REFERENCES person (id) NOT VALID;
