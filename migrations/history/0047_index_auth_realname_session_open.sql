SET lock_timeout = '2s';

-- auth.forget_expired_realname_sessions looks for sessions left open that still hold a name and ID
-- number; only those are indexed, so the index stays as small as the sessions under way.
CREATE INDEX auth_realname_session_open_expires_at_idx ON auth_realname_session (expires_at)
    WHERE status = 'open' AND id_number IS NOT NULL;
