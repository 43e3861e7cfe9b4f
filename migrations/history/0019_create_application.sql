SET lock_timeout = '2s';

-- A newborn is a person before public security assigns its ID number (出生登记).
ALTER TABLE person ALTER COLUMN id_number DROP NOT NULL;
ALTER TABLE person ALTER COLUMN id_number_index DROP NOT NULL;
ALTER TABLE person ADD COLUMN born_on date;
ALTER TABLE person ADD COLUMN sex text;
ALTER TABLE person ADD CONSTRAINT person_id_number_pair_check CHECK ((id_number IS NULL) = (id_number_index IS NULL));

-- Who may see and act for whom: parents for a newborn (from 出生一件事), or set by a department.
CREATE TABLE guardianship (
    guardian_person_id   uuid NOT NULL,
    dependent_person_id  uuid NOT NULL,
    source               text NOT NULL,
    since                timestamptz NOT NULL,
    until                timestamptz,
    CONSTRAINT guardianship_pkey PRIMARY KEY (guardian_person_id, dependent_person_id),
    CONSTRAINT guardianship_guardian_person_id_fkey FOREIGN KEY (guardian_person_id) REFERENCES person (id),
    CONSTRAINT guardianship_dependent_person_id_fkey FOREIGN KEY (dependent_person_id) REFERENCES person (id),
    CONSTRAINT guardianship_not_self_check CHECK (guardian_person_id <> dependent_person_id)
);
CREATE INDEX guardianship_dependent_idx ON guardianship (dependent_person_id);

ALTER TABLE catalog_material ADD COLUMN may_defer boolean NOT NULL DEFAULT false;
ALTER TABLE catalog_material ADD COLUMN holder_field text;
ALTER TABLE catalog_bundle ADD COLUMN subject text NOT NULL DEFAULT 'self';
ALTER TABLE catalog_bundle ADD CONSTRAINT catalog_bundle_subject_check CHECK (subject IN ('self', 'newborn', 'deceased'));

CREATE TABLE application (
    id                    uuid NOT NULL,
    bundle_code           text,
    matter_code           text,
    applicant_account_id  uuid NOT NULL,
    applicant_person_id   uuid NOT NULL,
    for_person_id         uuid NOT NULL,
    status                text NOT NULL,
    -- The form carries ID numbers and names: encrypted (context "application.form").
    form                  bytea NOT NULL,
    materials             jsonb NOT NULL,
    deferred_materials    text[] NOT NULL DEFAULT '{}',
    fingerprint           bytea NOT NULL,
    submitted_at          timestamptz NOT NULL,
    due_at                timestamptz NOT NULL,
    supplement_due_at     timestamptz,
    completed_at          timestamptz,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT application_pkey PRIMARY KEY (id),
    CONSTRAINT application_target_check CHECK ((bundle_code IS NULL) <> (matter_code IS NULL)),
    CONSTRAINT application_status_check CHECK (status IN ('submitted', 'in_progress', 'needs_supplement', 'completed', 'rejected', 'withdrawn')),
    CONSTRAINT application_applicant_person_id_fkey FOREIGN KEY (applicant_person_id) REFERENCES person (id),
    CONSTRAINT application_for_person_id_fkey FOREIGN KEY (for_person_id) REFERENCES person (id)
);
CREATE INDEX application_applicant_idx ON application (applicant_person_id, submitted_at DESC);
CREATE INDEX application_for_person_idx ON application (for_person_id, submitted_at DESC);
CREATE INDEX application_stats_idx ON application (submitted_at, bundle_code);

CREATE TABLE application_task (
    id                    uuid NOT NULL,
    application_id        uuid NOT NULL,
    matter_code           text NOT NULL,
    department_id         uuid NOT NULL,
    required              boolean NOT NULL,
    after_matters         text[] NOT NULL DEFAULT '{}',
    status                text NOT NULL,
    claimed_by            text,
    started_at            timestamptz,
    due_at                timestamptz,
    paused_at             timestamptz,
    decided_at            timestamptz,
    reasons               jsonb NOT NULL DEFAULT '[]',
    required_materials    jsonb NOT NULL DEFAULT '[]',
    note                  text NOT NULL DEFAULT '',
    result_certificate_id uuid,
    overdue_flagged_at    timestamptz,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT application_task_pkey PRIMARY KEY (id),
    CONSTRAINT application_task_application_id_fkey FOREIGN KEY (application_id) REFERENCES application (id),
    CONSTRAINT application_task_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT application_task_application_id_matter_code_key UNIQUE (application_id, matter_code),
    CONSTRAINT application_task_status_check CHECK (status IN ('waiting', 'pending', 'claimed', 'approved', 'rejected', 'needs_supplement', 'cancelled'))
);
CREATE INDEX application_task_department_idx ON application_task (department_id, status, due_at);
CREATE INDEX application_task_open_due_idx ON application_task (due_at) WHERE status IN ('pending', 'claimed') AND overdue_flagged_at IS NULL;

-- The timeline a citizen sees: every event of the application, in order.
CREATE TABLE application_event (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    application_id  uuid NOT NULL,
    at              timestamptz NOT NULL,
    event           text NOT NULL,
    actor           text NOT NULL,
    detail          jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT application_event_pkey PRIMARY KEY (id),
    CONSTRAINT application_event_application_id_fkey FOREIGN KEY (application_id) REFERENCES application (id)
);
CREATE INDEX application_event_application_idx ON application_event (application_id, id);
