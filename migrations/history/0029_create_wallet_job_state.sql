SET lock_timeout = '2s';

-- How far the derivation sweep has read each source (certificates by created_at, applications by
-- completed_at). It re-reads a margin behind the mark, because a row can commit after a later one;
-- what it writes is keyed (wallet_item.source_key), so reading a row twice writes once.
CREATE TABLE wallet_job_mark (
    name      text NOT NULL,
    position  timestamptz NOT NULL,
    CONSTRAINT wallet_job_mark_pkey PRIMARY KEY (name)
);

-- Expiry reminders already queued: one per certificate and threshold (30, 7, 1 days).
CREATE TABLE wallet_expiry_reminder (
    certificate_id  uuid NOT NULL,
    days            integer NOT NULL,
    queued_at       timestamptz NOT NULL,
    CONSTRAINT wallet_expiry_reminder_pkey PRIMARY KEY (certificate_id, days),
    CONSTRAINT wallet_expiry_reminder_certificate_id_fkey FOREIGN KEY (certificate_id) REFERENCES esign_certificate (id),
    CONSTRAINT wallet_expiry_reminder_days_check CHECK (days IN (1, 7, 30))
);

-- The sweeps read certificates by creation and by approaching expiry, and bundles by completion.
CREATE INDEX esign_certificate_created_at_idx ON esign_certificate (created_at, id);
CREATE INDEX esign_certificate_valid_until_idx ON esign_certificate (valid_until)
    WHERE status = 'valid' AND person_id IS NOT NULL AND valid_until IS NOT NULL;
CREATE INDEX application_completed_at_idx ON application (completed_at, id) WHERE status = 'completed';
