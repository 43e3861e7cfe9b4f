SET lock_timeout = '2s';

-- A phone number a person without the app gave (at a service-centre window) for text messages about
-- their applications. Sealed like account phones; used only while the person has no account of
-- their own. No foreign key, as the other notification tables (migration 0036).
CREATE TABLE notify_contact_phone (
    person_id  uuid NOT NULL,
    phone      bytea NOT NULL,
    given_by   text NOT NULL,
    given_at   timestamptz NOT NULL,
    CONSTRAINT notify_contact_phone_pkey PRIMARY KEY (person_id)
);
