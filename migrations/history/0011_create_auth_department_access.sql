SET lock_timeout = '2s';

-- Staff: an account working for one department, with department-scoped roles.
-- The primary key on account_id keeps a staff account in exactly one department.
CREATE TABLE auth_staff (
    account_id     uuid NOT NULL,
    department_id  uuid NOT NULL,
    roles          text[] NOT NULL,
    granted_by     text NOT NULL,
    granted_at     timestamptz NOT NULL,
    CONSTRAINT auth_staff_pkey PRIMARY KEY (account_id),
    CONSTRAINT auth_staff_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account (id),
    CONSTRAINT auth_staff_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT auth_staff_roles_check
        CHECK (cardinality(roles) > 0 AND roles <@ ARRAY['clerk', 'approver', 'issuer', 'dept_admin']::text[])
);

CREATE INDEX auth_staff_department_id_idx ON auth_staff (department_id);

-- Department systems (client credentials). Only the SHA-256 of the random secret is kept.
CREATE TABLE auth_client (
    id             uuid NOT NULL,
    department_id  uuid NOT NULL,
    name           text NOT NULL,
    secret_hash    bytea NOT NULL,
    scopes         text[] NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    CONSTRAINT auth_client_pkey PRIMARY KEY (id),
    CONSTRAINT auth_client_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id)
);

CREATE INDEX auth_client_department_id_idx ON auth_client (department_id);
