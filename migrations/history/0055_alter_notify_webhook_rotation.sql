SET lock_timeout = '2s';

-- Rotating a webhook's secret keeps the one it replaces for an overlap: until
-- previous_secret_expires_at, deliveries carry a signature under each (Standard Webhooks allows
-- several space-separated "v1," signatures), so the receiver can switch when it is ready.
ALTER TABLE notify_webhook ADD COLUMN previous_secret bytea;
ALTER TABLE notify_webhook ADD COLUMN previous_secret_expires_at timestamptz;
ALTER TABLE notify_webhook ADD COLUMN rotated_at timestamptz;
ALTER TABLE notify_webhook ADD CONSTRAINT notify_webhook_previous_secret_check
    CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL));

-- A department's events in order, for a system catching up on what it missed ("everything since").
CREATE INDEX notify_notification_department_id_idx ON notify_notification (department_id, id)
    WHERE department_id IS NOT NULL;
