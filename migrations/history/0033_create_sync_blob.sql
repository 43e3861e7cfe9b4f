SET lock_timeout = '2s';

-- Content-addressed uploads (photos, scans, PDFs), stored once whoever uploads them. The bytes stay
-- in PostgreSQL: they are at most 10 MiB, commit and back up with the applications that name them,
-- and need no second storage system on a laptop or in production. JPEG, PNG and PDF are already
-- compressed, so the column skips TOAST compression (EXTERNAL) and is stored out of line as is.
CREATE TABLE sync_blob (
    sha256        bytea NOT NULL,
    content_type  text NOT NULL,
    size          integer NOT NULL,
    data          bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT sync_blob_pkey PRIMARY KEY (sha256),
    CONSTRAINT sync_blob_sha256_check CHECK (length(sha256) = 32),
    CONSTRAINT sync_blob_content_type_check CHECK (content_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    CONSTRAINT sync_blob_size_check CHECK (size = length(data) AND size <= 10485760)
);
ALTER TABLE sync_blob ALTER COLUMN data SET STORAGE EXTERNAL;

-- Who uploaded a blob (each uploader may read it back): the login's subject ("account:…" or
-- "client:…") and, for a person's login, the person, so every device of that person may read it.
CREATE TABLE sync_blob_uploader (
    sha256       bytea NOT NULL,
    subject      text NOT NULL,
    person_id    uuid,
    uploaded_at  timestamptz NOT NULL,
    CONSTRAINT sync_blob_uploader_pkey PRIMARY KEY (sha256, subject),
    CONSTRAINT sync_blob_uploader_sha256_fkey FOREIGN KEY (sha256) REFERENCES sync_blob (sha256)
);
CREATE INDEX sync_blob_uploader_person_idx ON sync_blob_uploader (person_id, sha256) WHERE person_id IS NOT NULL;
