SET lock_timeout = '2s';

-- Drafts: applications in progress, edited on any of the person's devices and synced as entity
-- "draft". version counts every save and delete; a save names the version it was based on and an
-- older one is a conflict. A deleted draft keeps its row (form cleared) so its version goes on
-- counting and its id is never reused. The form may hold ID numbers and names: encrypted (context
-- "sync_draft.form").
CREATE TABLE sync_draft (
    id                  uuid NOT NULL,
    person_id           uuid NOT NULL,
    account_id          uuid NOT NULL,
    bundle_code         text,
    matter_code         text,
    for_person_id       uuid,
    form                bytea,
    materials           jsonb NOT NULL DEFAULT '[]',
    deferred_materials  text[] NOT NULL DEFAULT '{}',
    version             bigint NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    deleted_at          timestamptz,
    CONSTRAINT sync_draft_pkey PRIMARY KEY (id),
    CONSTRAINT sync_draft_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT sync_draft_target_check CHECK ((bundle_code IS NULL) <> (matter_code IS NULL)),
    CONSTRAINT sync_draft_form_check CHECK ((deleted_at IS NULL) = (form IS NOT NULL)),
    CONSTRAINT sync_draft_version_check CHECK (version >= 1)
);
CREATE INDEX sync_draft_person_idx ON sync_draft (person_id, updated_at DESC);
