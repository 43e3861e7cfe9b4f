SET lock_timeout = '2s';

-- 统一窗口出件: results handed over on paper at the window that took the application — who handed
-- them, when, to whom (the citizen or their 代办人), and that the recipient's ID card was checked.
CREATE TABLE window_handover (
    id                   uuid NOT NULL,
    application_id       uuid NOT NULL,
    department_id        uuid NOT NULL,
    clerk_account_id     uuid NOT NULL,
    recipient_person_id  uuid NOT NULL,
    delegation_id        uuid,
    id_checked           boolean NOT NULL,
    certificate_ids      uuid[] NOT NULL,
    handed_at            timestamptz NOT NULL,
    CONSTRAINT window_handover_pkey PRIMARY KEY (id),
    CONSTRAINT window_handover_application_id_key UNIQUE (application_id),
    CONSTRAINT window_handover_application_id_fkey FOREIGN KEY (application_id) REFERENCES application (id),
    CONSTRAINT window_handover_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT window_handover_clerk_account_id_fkey FOREIGN KEY (clerk_account_id) REFERENCES auth_account (id),
    CONSTRAINT window_handover_recipient_person_id_fkey FOREIGN KEY (recipient_person_id) REFERENCES person (id),
    CONSTRAINT window_handover_delegation_id_fkey FOREIGN KEY (delegation_id) REFERENCES delegation (id),
    CONSTRAINT window_handover_id_checked_check CHECK (id_checked)
);

-- When the window was told an application is ready (its last task done), for the pick-up queue.
ALTER TABLE window_intake ADD COLUMN ready_at timestamptz;
CREATE INDEX window_intake_department_id_ready_at_idx ON window_intake (department_id, ready_at)
    WHERE ready_at IS NOT NULL;
