SET lock_timeout = '2s';

-- The dispatcher writes notifications, deliveries and attempts by the thousand a second, and a
-- foreign key costs each row a trigger, a lookup and a share lock on the referenced row (on a bulk
-- send, every row of both expanding workers locks the same few department rows). Measured on the
-- 2-core machine, these five keys were a fifth of PostgreSQL's CPU per notification.
-- Nothing deletes persons, accounts or departments; the expansion makes notifications only for
-- recipients it has just read (``notify.recipients.load``), and deliveries and attempts are written
-- in the transactions that made or claimed their parents.
ALTER TABLE notify_notification
    DROP CONSTRAINT notify_notification_person_id_fkey,
    DROP CONSTRAINT notify_notification_account_id_fkey,
    DROP CONSTRAINT notify_notification_department_id_fkey;
ALTER TABLE notify_delivery DROP CONSTRAINT notify_delivery_notification_id_fkey;
ALTER TABLE notify_attempt DROP CONSTRAINT notify_attempt_delivery_id_fkey;
