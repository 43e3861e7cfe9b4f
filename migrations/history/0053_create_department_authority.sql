SET lock_timeout = '2s';

-- A department's listed powers (权责清单) besides the certificate types it issues, which
-- certificate_type.issuer_department_ids states, and the matters it handles (catalog_matter).
CREATE TABLE department_authority (
    department_id      uuid NOT NULL,
    record_kinds       text[] NOT NULL DEFAULT '{}',
    life_events        text[] NOT NULL DEFAULT '{}',
    guardianship       boolean NOT NULL DEFAULT false,
    realname_proofing  boolean NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT department_authority_pkey PRIMARY KEY (department_id),
    CONSTRAINT department_authority_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id)
);
