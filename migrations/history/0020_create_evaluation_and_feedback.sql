SET lock_timeout = '2s';

-- 好差评: one rating per application, once it is completed or rejected.
CREATE TABLE evaluation (
    application_id  uuid NOT NULL,
    person_id       uuid NOT NULL,
    level           smallint NOT NULL,
    comment         text,
    tags            text[] NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL,
    CONSTRAINT evaluation_pkey PRIMARY KEY (application_id),
    CONSTRAINT evaluation_application_id_fkey FOREIGN KEY (application_id) REFERENCES application (id),
    CONSTRAINT evaluation_level_check CHECK (level BETWEEN 1 AND 5)
);
CREATE INDEX evaluation_at_idx ON evaluation (at);

-- A bad rating (level ≤ 2) opens a case the responsible department must answer by a deadline.
CREATE TABLE rectification (
    id              uuid NOT NULL,
    application_id  uuid NOT NULL,
    department_id   uuid NOT NULL,
    level           smallint NOT NULL,
    status          text NOT NULL DEFAULT 'open',
    due_at          timestamptz NOT NULL,
    answer          text,
    answered_by     text,
    answered_at     timestamptz,
    created_at      timestamptz NOT NULL,
    CONSTRAINT rectification_pkey PRIMARY KEY (id),
    CONSTRAINT rectification_application_id_key UNIQUE (application_id),
    CONSTRAINT rectification_application_id_fkey FOREIGN KEY (application_id) REFERENCES application (id),
    CONSTRAINT rectification_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT rectification_status_check CHECK (status IN ('open', 'answered'))
);
CREATE INDEX rectification_department_idx ON rectification (department_id, status, due_at);

-- 请你来找茬: complaints, suggestions and error reports, routed to a department or the operators.
CREATE TABLE feedback (
    id              uuid NOT NULL,
    kind            text NOT NULL,
    text            text NOT NULL,
    account_id      uuid NOT NULL,
    application_id  uuid,
    matter_code     text,
    department_id   uuid,
    status          text NOT NULL DEFAULT 'open',
    answer          text,
    answered_by     text,
    answered_at     timestamptz,
    created_at      timestamptz NOT NULL,
    CONSTRAINT feedback_pkey PRIMARY KEY (id),
    CONSTRAINT feedback_kind_check CHECK (kind IN ('complaint', 'suggestion', 'error_report')),
    CONSTRAINT feedback_status_check CHECK (status IN ('open', 'answered')),
    CONSTRAINT feedback_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id)
);
CREATE INDEX feedback_department_idx ON feedback (department_id, status, created_at);
CREATE INDEX feedback_account_idx ON feedback (account_id, created_at);
