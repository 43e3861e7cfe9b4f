SET lock_timeout = '2s';

-- 身后: the wallet of a person who died is closed to new writes (no records, consents or
-- presentations) and stays readable by the family members who applied for 身后一件事.
CREATE TABLE wallet_closure (
    person_id   uuid NOT NULL,
    closed_at   timestamptz NOT NULL,
    source      text NOT NULL,
    CONSTRAINT wallet_closure_pkey PRIMARY KEY (person_id),
    CONSTRAINT wallet_closure_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id)
);

CREATE TABLE wallet_family_reader (
    person_id         uuid NOT NULL,
    reader_person_id  uuid NOT NULL,
    application_id    uuid NOT NULL,
    since             timestamptz NOT NULL,
    CONSTRAINT wallet_family_reader_pkey PRIMARY KEY (person_id, reader_person_id),
    CONSTRAINT wallet_family_reader_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT wallet_family_reader_reader_person_id_fkey FOREIGN KEY (reader_person_id) REFERENCES person (id),
    CONSTRAINT wallet_family_reader_application_id_fkey FOREIGN KEY (application_id) REFERENCES application (id)
);
CREATE INDEX wallet_family_reader_reader_idx ON wallet_family_reader (reader_person_id);
