SET lock_timeout = '2s';

-- Holders' devices and the presentation credentials issued to them (FORMATS.md "ZB2:"). A device
-- registers its P-256 public key (compressed point) after a recent L3 proof; its label is what the
-- holder typed, sealed (context "esign_device.label"). Revoking a device (by its holder, or by an
-- operator on a reported loss) flips the status slot of each of its credentials.
CREATE TABLE esign_device (
    id                uuid NOT NULL,
    person_id         uuid NOT NULL,
    account_id        uuid NOT NULL,
    label             bytea NOT NULL,
    public_key        bytea NOT NULL,
    key_storage       text NOT NULL,
    status            text NOT NULL DEFAULT 'active',
    created_at        timestamptz NOT NULL,
    revoked_at        timestamptz,
    revoked_by        text,
    CONSTRAINT esign_device_pkey PRIMARY KEY (id),
    CONSTRAINT esign_device_public_key_key UNIQUE (public_key),
    CONSTRAINT esign_device_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT esign_device_public_key_check CHECK (octet_length(public_key) = 33),
    CONSTRAINT esign_device_key_storage_check CHECK (key_storage IN ('non_extractable', 'extractable', 'unknown')),
    CONSTRAINT esign_device_status_check CHECK (status IN ('active', 'revoked'))
);

CREATE INDEX esign_device_person_id_idx ON esign_device (person_id, created_at);

-- One credential per device and certificate, re-issued (new cti, same status slot) before it
-- expires; the credential itself, sealed (context "esign_device_credential.credential"), holds every
-- field of the certificate in its disclosures.
CREATE TABLE esign_device_credential (
    id               uuid NOT NULL,
    device_id        uuid NOT NULL,
    certificate_id   uuid NOT NULL,
    person_id        uuid NOT NULL,
    status_list_id   integer NOT NULL,
    status_index     integer NOT NULL,
    status           text NOT NULL DEFAULT 'valid',
    cti              bytea NOT NULL,
    credential       bytea NOT NULL,
    issued_at        timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    CONSTRAINT esign_device_credential_pkey PRIMARY KEY (id),
    CONSTRAINT esign_device_credential_device_id_certificate_id_key UNIQUE (device_id, certificate_id),
    CONSTRAINT esign_device_credential_status_list_id_status_index_key UNIQUE (status_list_id, status_index),
    CONSTRAINT esign_device_credential_device_id_fkey FOREIGN KEY (device_id) REFERENCES esign_device (id),
    CONSTRAINT esign_device_credential_certificate_id_fkey FOREIGN KEY (certificate_id) REFERENCES esign_certificate (id),
    CONSTRAINT esign_device_credential_status_check CHECK (status IN ('valid', 'revoked'))
);

CREATE INDEX esign_device_credential_expires_at_idx ON esign_device_credential (expires_at) WHERE status = 'valid';
CREATE INDEX esign_device_credential_certificate_id_idx ON esign_device_credential (certificate_id);

-- SM2 certificates get credentials signed by an SM2 presenter seal: one active presenter per algorithm.
-- The exclusion is replaced by a narrower one in the same transaction (an exclusion constraint cannot be
-- added NOT VALID; esign_seal holds a handful of rows, so its scan is instant).
-- squawk-ignore ban-drop-constraint
ALTER TABLE esign_seal DROP CONSTRAINT esign_seal_one_presenter_excl;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE esign_seal ADD CONSTRAINT esign_seal_one_presenter_excl EXCLUDE USING btree (role WITH =, algorithm WITH =)
    WHERE (role = 'presenter' AND status = 'active');

-- Credentials reach their device through the person's change log. The check is replaced by a wider one
-- in the same transaction, so no row is ever without the guarantee; 0010 validates it.
-- squawk-ignore ban-drop-constraint
ALTER TABLE sync_change DROP CONSTRAINT sync_change_entity_check;
ALTER TABLE sync_change ADD CONSTRAINT sync_change_entity_check
    CHECK (entity IN ('wallet_item', 'application', 'draft', 'notification', 'consent', 'device_credential')) NOT VALID;
