SET lock_timeout = '2s';

-- Outbox events the expansion consumed (made notifications of, found nothing to tell, or dead-
-- lettered), written in the expanding transaction. An event the relay published but Redis lost
-- (a restart without persistence, a flush) has no row here: the reconcile job publishes it again.
CREATE TABLE notify_event (
    outbox_id    bigint NOT NULL,
    consumed_at  timestamptz NOT NULL,
    CONSTRAINT notify_event_pkey PRIMARY KEY (outbox_id)
);

-- How far the reconcile job has found every event consumed (outbox ids up to here need no look).
CREATE TABLE notify_reconcile_mark (
    name       text NOT NULL,
    outbox_id  bigint NOT NULL,
    CONSTRAINT notify_reconcile_mark_pkey PRIMARY KEY (name)
);
