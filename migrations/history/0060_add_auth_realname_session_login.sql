SET lock_timeout = '2s';

-- The login that opened a real-name session: the one the proof binds to the identity, which the
-- person may then end with "not me"; and how often a window clerk keyed in an ID number that is
-- not the session's (a few mismatches close the session).
ALTER TABLE auth_realname_session ADD COLUMN login_id uuid;
ALTER TABLE auth_realname_session ADD COLUMN id_number_mismatches smallint NOT NULL DEFAULT 0;
