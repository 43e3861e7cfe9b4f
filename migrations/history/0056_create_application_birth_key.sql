SET lock_timeout = '2s';

-- 出生一件事: one birth, one child. A birth case is known by the 出生医学证明 number or the
-- hospital's delivery record number the parents give (blind-indexed, never stored in the clear);
-- each names the child the case created and the application that carries it now. The second
-- parent applying for the same baby joins that application instead of creating another child.
CREATE TABLE application_birth_key (
    key_index        bytea NOT NULL,
    child_person_id  uuid NOT NULL,
    application_id   uuid NOT NULL,
    created_at       timestamptz NOT NULL,
    CONSTRAINT application_birth_key_pkey PRIMARY KEY (key_index),
    CONSTRAINT application_birth_key_child_person_id_fkey FOREIGN KEY (child_person_id) REFERENCES person (id),
    CONSTRAINT application_birth_key_application_id_fkey FOREIGN KEY (application_id) REFERENCES application (id)
);
CREATE INDEX application_birth_key_application_id_idx ON application_birth_key (application_id);
CREATE INDEX application_birth_key_child_person_id_idx ON application_birth_key (child_person_id);
