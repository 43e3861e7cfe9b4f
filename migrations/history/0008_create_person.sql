SET lock_timeout = '2s';

-- One row per verified identity (实人): the same ID number always maps to the same person, whichever
-- login proved it. Name and ID number are encrypted (contexts "person.name", "person.id_number");
-- lookups go through the HMAC blind index. Other domains add their own columns later.
CREATE TABLE person (
    id               uuid NOT NULL,
    id_number        bytea NOT NULL,
    id_number_index  bytea NOT NULL,
    name             bytea NOT NULL,
    created_at       timestamptz NOT NULL,
    CONSTRAINT person_pkey PRIMARY KEY (id),
    CONSTRAINT person_id_number_index_key UNIQUE (id_number_index)
);
