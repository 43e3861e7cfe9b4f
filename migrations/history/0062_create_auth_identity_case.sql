SET lock_timeout = '2s';

-- A person said "not me" about a login bound to their identity: the login was ended and the
-- operators look into it. One case per alert; closed with a resolution.
CREATE TABLE auth_identity_case (
    id                uuid NOT NULL,
    alert_id          uuid NOT NULL,
    person_id         uuid NOT NULL,
    account_id        uuid NOT NULL,
    login_id          uuid,
    method            text NOT NULL,
    reported_via      text NOT NULL,
    reported_by       uuid,
    identity_unbound  boolean NOT NULL,
    status            text NOT NULL DEFAULT 'open',
    opened_at         timestamptz NOT NULL,
    closed_at         timestamptz,
    closed_by         text,
    resolution        text,
    CONSTRAINT auth_identity_case_pkey PRIMARY KEY (id),
    CONSTRAINT auth_identity_case_alert_id_key UNIQUE (alert_id),
    CONSTRAINT auth_identity_case_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES auth_login_alert (id),
    CONSTRAINT auth_identity_case_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT auth_identity_case_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account (id),
    CONSTRAINT auth_identity_case_reported_by_fkey FOREIGN KEY (reported_by) REFERENCES auth_account (id),
    CONSTRAINT auth_identity_case_reported_via_check CHECK (reported_via IN ('app', 'link')),
    CONSTRAINT auth_identity_case_status_check CHECK (status IN ('open', 'closed'))
);

CREATE INDEX auth_identity_case_status_id_idx ON auth_identity_case (status, id);
