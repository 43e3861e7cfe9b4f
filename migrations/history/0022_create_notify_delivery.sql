SET lock_timeout = '2s';

-- A notification on one outside channel to one target (the account for wechat and sms, the webhook
-- for webhook). Status machine after GOV.UK Notify: created -> sending -> delivered | sent |
-- temporary-failure | permanent-failure | technical-failure; only created and sending move.
-- not_before holds a delivery (quiet hours, the next retry); lease_until is set while an attempt
-- is in flight, so an attempt whose worker died can be taken again once it passes; queued_at says
-- when the row was last handed to the dispatch stream; credit_spent, that a one-time WeChat grant
-- was spent on it (given back when WeChat never took the message). content is what the channel
-- sends, rendered when the notification was made (SMS text; WeChat template and values); webhooks
-- send the notification's event and data.
CREATE TABLE notify_delivery (
    id               uuid NOT NULL,
    notification_id  uuid NOT NULL,
    channel          text NOT NULL,
    target           uuid NOT NULL,
    lane             text NOT NULL,
    status           text NOT NULL DEFAULT 'created',
    attempts         integer NOT NULL DEFAULT 0,
    not_before       timestamptz,
    lease_until      timestamptz,
    queued_at        timestamptz,
    sending_since    timestamptz,
    credit_spent     boolean NOT NULL DEFAULT false,
    content          jsonb,
    reason           text,
    provider_ref     text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT notify_delivery_pkey PRIMARY KEY (id),
    CONSTRAINT notify_delivery_notification_id_channel_target_key UNIQUE (notification_id, channel, target),
    CONSTRAINT notify_delivery_notification_id_fkey FOREIGN KEY (notification_id) REFERENCES notify_notification (id),
    CONSTRAINT notify_delivery_channel_check CHECK (channel IN ('wechat', 'sms', 'webhook')),
    CONSTRAINT notify_delivery_status_check CHECK (status IN (
        'created', 'sending', 'delivered', 'sent', 'temporary-failure', 'permanent-failure', 'technical-failure'
    ))
);

-- The requeue job scans only what can still move.
CREATE INDEX notify_delivery_open_idx ON notify_delivery (not_before) WHERE status IN ('created', 'sending');
CREATE INDEX notify_delivery_webhook_idx ON notify_delivery (target, id DESC) WHERE channel = 'webhook';

-- Every attempt at a delivery, with what came of it (shown to operators).
CREATE TABLE notify_attempt (
    delivery_id  uuid NOT NULL,
    attempt      integer NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    outcome      text NOT NULL,
    detail       text,
    CONSTRAINT notify_attempt_pkey PRIMARY KEY (delivery_id, attempt),
    CONSTRAINT notify_attempt_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES notify_delivery (id),
    CONSTRAINT notify_attempt_outcome_check CHECK (outcome IN (
        'delivered', 'sent', 'retry', 'lost', 'temporary-failure', 'permanent-failure', 'technical-failure'
    ))
);
