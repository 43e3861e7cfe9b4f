SET lock_timeout = '2s';

-- A member of staff's TOTP authenticator (RFC 6238), the second factor of their logins. The shared
-- secret is kept sealed by the keyring; it is shown once, at enrolment, and counts only once a first
-- code confirms it. ``last_step`` is the newest time step a code was accepted for: a code is good once.
CREATE TABLE auth_totp (
    account_id    uuid NOT NULL,
    secret        bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    confirmed_at  timestamptz,
    last_step     bigint NOT NULL DEFAULT 0,
    CONSTRAINT auth_totp_pkey PRIMARY KEY (account_id),
    CONSTRAINT auth_totp_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account (id)
);
