SET lock_timeout = '2s';

-- 企业电子印章: the e-seal the platform makes for a business entity on its behalf when its 公章刻制备案
-- is done (the 印章备案回执 issued). Its key is held as a department seal's platform-held key is:
-- PKCS#8 DER encrypted under the master key (context "esign_entity_seal.private_key"); its certificate
-- comes from the platform root. One seal per entity.
CREATE TABLE esign_entity_seal (
    id           uuid NOT NULL,
    org_id       uuid NOT NULL,
    algorithm    text NOT NULL,
    kid          bytea NOT NULL,
    certificate  bytea NOT NULL,
    private_key  bytea NOT NULL,
    status       text NOT NULL,
    valid_from   timestamptz NOT NULL,
    valid_until  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    CONSTRAINT esign_entity_seal_pkey PRIMARY KEY (id),
    CONSTRAINT esign_entity_seal_org_id_key UNIQUE (org_id),
    CONSTRAINT esign_entity_seal_kid_key UNIQUE (kid),
    CONSTRAINT esign_entity_seal_org_id_fkey FOREIGN KEY (org_id) REFERENCES org_entity (id),
    CONSTRAINT esign_entity_seal_status_check CHECK (status IN ('active', 'revoked'))
);

-- What an entity submits is signed with its seal: the application's id, target and form (its
-- declarations), canonical JSON; departments verify it on their task.
ALTER TABLE application ADD COLUMN entity_signature jsonb;
