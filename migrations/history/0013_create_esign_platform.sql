SET lock_timeout = '2s';

-- The platform root CA: one row, made on first start. The private key is PKCS#8 DER sealed with
-- the keyring (context "esign_platform.root_key"); the certificate is public and pinned by
-- verifiers, so replacing the root is an operation outside the application, not an UPDATE.
CREATE TABLE esign_platform (
    id               boolean NOT NULL DEFAULT true,
    root_certificate bytea NOT NULL,
    root_key         bytea NOT NULL,
    created_at       timestamptz NOT NULL,
    CONSTRAINT esign_platform_pkey PRIMARY KEY (id),
    CONSTRAINT esign_platform_single_check CHECK (id)
);
