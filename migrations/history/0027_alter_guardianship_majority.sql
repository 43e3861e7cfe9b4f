SET lock_timeout = '2s';

-- A child who comes of age (18) is no longer a dependent: until is set to the 18th birthday
-- unless a department says otherwise (beyond_majority: guardianship of an adult, e.g. 成年监护
-- ordered by a court). department_id and basis record who set a guardianship and on what grounds.
ALTER TABLE guardianship ADD COLUMN beyond_majority boolean NOT NULL DEFAULT false;
ALTER TABLE guardianship ADD COLUMN department_id uuid;
ALTER TABLE guardianship ADD COLUMN basis text;
ALTER TABLE guardianship ADD CONSTRAINT guardianship_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id);

-- The coming-of-age sweep looks only at open guardianships of minors.
CREATE INDEX guardianship_open_idx ON guardianship (dependent_person_id) WHERE until IS NULL AND NOT beyond_majority;
