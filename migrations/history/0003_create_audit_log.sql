SET lock_timeout = '2s';

-- Append-only and hash-chained: each entry's hash covers its own content and the previous
-- entry's hash, so editing or deleting any entry breaks every hash after it.
CREATE TABLE audit_log (
    seq         bigint NOT NULL,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    data        jsonb NOT NULL DEFAULT '{}',
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (seq)
);

CREATE INDEX audit_log_action_idx ON audit_log (action, at);

-- The single head row serialises appends (row lock) and remembers the last hash.
CREATE TABLE audit_head (
    id          boolean PRIMARY KEY DEFAULT true,
    seq         bigint NOT NULL,
    hash        bytea NOT NULL,
    CONSTRAINT audit_head_single_check CHECK (id)
);
INSERT INTO audit_head (id, seq, hash) VALUES (true, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
