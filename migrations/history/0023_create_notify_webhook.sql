SET lock_timeout = '2s';

-- A department system's endpoint for the events it names. The signing secret is sealed with the
-- keyring (context "notify_webhook.secret"): it is needed in the clear only to sign deliveries.
CREATE TABLE notify_webhook (
    id             uuid NOT NULL,
    department_id  uuid NOT NULL,
    url            text NOT NULL,
    events         text[] NOT NULL,
    secret         bytea NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL,
    disabled_at    timestamptz,
    CONSTRAINT notify_webhook_pkey PRIMARY KEY (id),
    CONSTRAINT notify_webhook_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT notify_webhook_events_check CHECK (cardinality(events) > 0)
);

CREATE INDEX notify_webhook_department_id_idx ON notify_webhook (department_id) WHERE disabled_at IS NULL;
