SET lock_timeout = '2s';

-- Each time a login is bound to a verified identity (a login of an account that has one, or the
-- real-name proof that gives it one) the person is told, with a one-tap "not me". The token of that
-- link is kept only as its SHA-256; it works once and expires.
CREATE TABLE auth_login_alert (
    id          uuid NOT NULL,
    login_id    uuid,
    account_id  uuid NOT NULL,
    person_id   uuid NOT NULL,
    method      text NOT NULL,
    token_hash  bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT auth_login_alert_pkey PRIMARY KEY (id),
    CONSTRAINT auth_login_alert_token_hash_key UNIQUE (token_hash),
    CONSTRAINT auth_login_alert_login_id_fkey FOREIGN KEY (login_id) REFERENCES auth_refresh_family (id),
    CONSTRAINT auth_login_alert_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account (id),
    CONSTRAINT auth_login_alert_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id)
);

CREATE INDEX auth_login_alert_login_id_idx ON auth_login_alert (login_id);
CREATE INDEX auth_login_alert_account_id_idx ON auth_login_alert (account_id);
