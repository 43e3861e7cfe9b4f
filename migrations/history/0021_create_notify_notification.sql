SET lock_timeout = '2s';

-- One row per event and recipient: the in-app inbox item of a person (or of an account that has no
-- person, such as an operator), or the department copy that its webhooks deliver. dedup_key is the
-- event's outbox dedup key plus the recipient, so an event relayed twice still makes one row.
-- The inbox is delivered by the insert itself; the other channels are rows of notify_delivery.
-- title and body are rendered zh-CN text; data holds the event's ids, never personal data.
CREATE TABLE notify_notification (
    id             uuid NOT NULL,
    dedup_key      text NOT NULL,
    event          text NOT NULL,
    kind           text NOT NULL,
    person_id      uuid,
    account_id     uuid,
    department_id  uuid,
    title          text NOT NULL,
    body           text NOT NULL,
    data           jsonb NOT NULL,
    urgent         boolean NOT NULL DEFAULT false,
    lane           text NOT NULL,
    created_at     timestamptz NOT NULL,
    read_at        timestamptz,
    CONSTRAINT notify_notification_pkey PRIMARY KEY (id),
    CONSTRAINT notify_notification_dedup_key_key UNIQUE (dedup_key),
    CONSTRAINT notify_notification_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT notify_notification_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account (id),
    CONSTRAINT notify_notification_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT notify_notification_recipient_check CHECK (num_nonnulls(person_id, account_id, department_id) = 1)
);

-- Inbox pages, newest first (ids are UUIDv7, so id order is creation order).
CREATE INDEX notify_notification_person_id_idx ON notify_notification (person_id, id DESC) WHERE person_id IS NOT NULL;
CREATE INDEX notify_notification_account_id_idx ON notify_notification (account_id, id DESC) WHERE account_id IS NOT NULL;
