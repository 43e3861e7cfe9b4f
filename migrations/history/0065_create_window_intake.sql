SET lock_timeout = '2s';

-- 前台综合受理: the service-centre window takes applications for citizens who are present.

-- The window's power in the catalogue (权责清单): its clerks take applications for others.
ALTER TABLE department_authority ADD COLUMN window_intake boolean NOT NULL DEFAULT false;
UPDATE department_authority SET window_intake = true
WHERE department_id IN (SELECT id FROM department WHERE key IN ('shenpi', 'gongan'));

-- The window clerk's role.
ALTER TABLE auth_staff DROP CONSTRAINT auth_staff_roles_check;
ALTER TABLE auth_staff ADD CONSTRAINT auth_staff_roles_check
    CHECK (cardinality(roles) > 0
           AND roles <@ ARRAY['clerk', 'approver', 'issuer', 'dept_admin', 'window_clerk']::text[]) NOT VALID;
ALTER TABLE auth_staff VALIDATE CONSTRAINT auth_staff_roles_check;

-- A citizen who walks in without an account applies all the same: the application is theirs.
ALTER TABLE application ALTER COLUMN applicant_account_id DROP NOT NULL;

-- 代办: a principal (a person; an organisation for its 经办人) lets an agent act for them, for some
-- matters and some actions, until a time or until revoked. Every use is logged.
CREATE TABLE delegation (
    id                uuid NOT NULL,
    principal_kind    text NOT NULL,
    principal_id      uuid NOT NULL,
    agent_person_id   uuid NOT NULL,
    matters           text[] NOT NULL,
    actions           text[] NOT NULL,
    note              text,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    revoked_at        timestamptz,
    CONSTRAINT delegation_pkey PRIMARY KEY (id),
    CONSTRAINT delegation_agent_person_id_fkey FOREIGN KEY (agent_person_id) REFERENCES person (id),
    CONSTRAINT delegation_principal_kind_check CHECK (principal_kind IN ('person', 'organisation')),
    CONSTRAINT delegation_actions_check
        CHECK (cardinality(actions) > 0 AND actions <@ ARRAY['apply', 'supplement', 'collect']::text[]),
    CONSTRAINT delegation_matters_check CHECK (cardinality(matters) > 0),
    CONSTRAINT delegation_expiry_check CHECK (expires_at > created_at)
);

CREATE INDEX delegation_principal_idx ON delegation (principal_kind, principal_id);
CREATE INDEX delegation_agent_person_id_idx ON delegation (agent_person_id);

CREATE TABLE delegation_use (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    delegation_id   uuid NOT NULL,
    action          text NOT NULL,
    outcome         text NOT NULL,
    reason          text,
    matter_code     text,
    application_id  uuid,
    department_id   uuid,
    actor           text NOT NULL,
    at              timestamptz NOT NULL,
    CONSTRAINT delegation_use_pkey PRIMARY KEY (id),
    CONSTRAINT delegation_use_delegation_id_fkey FOREIGN KEY (delegation_id) REFERENCES delegation (id),
    CONSTRAINT delegation_use_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT delegation_use_outcome_check CHECK (outcome IN ('served', 'refused'))
);

CREATE INDEX delegation_use_delegation_id_idx ON delegation_use (delegation_id, id DESC);

-- One visit at a window: who came (and who for), which clerk of which centre, the consent given
-- there for 免提交, and the application taken. Its times are the window's numbers.
CREATE TABLE window_intake (
    id                  uuid NOT NULL,
    department_id       uuid NOT NULL,
    window_label        text,
    clerk_account_id    uuid NOT NULL,
    person_id           uuid NOT NULL,
    delegation_id       uuid,
    agent_person_id     uuid,
    ticket_issued_at    timestamptz,
    opened_at           timestamptz NOT NULL,
    consent_id          uuid,
    consented_at        timestamptz,
    application_id      uuid,
    submitted_at        timestamptz,
    CONSTRAINT window_intake_pkey PRIMARY KEY (id),
    CONSTRAINT window_intake_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT window_intake_clerk_account_id_fkey FOREIGN KEY (clerk_account_id) REFERENCES auth_account (id),
    CONSTRAINT window_intake_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT window_intake_delegation_id_fkey FOREIGN KEY (delegation_id) REFERENCES delegation (id),
    CONSTRAINT window_intake_consent_id_fkey FOREIGN KEY (consent_id) REFERENCES wallet_consent (id),
    CONSTRAINT window_intake_application_id_fkey FOREIGN KEY (application_id) REFERENCES application (id),
    CONSTRAINT window_intake_application_id_key UNIQUE (application_id)
);

CREATE INDEX window_intake_department_id_opened_at_idx ON window_intake (department_id, opened_at);
