SET lock_timeout = '2s';

CREATE TABLE department (
    id           uuid NOT NULL,
    key          text,
    name         text NOT NULL,
    credit_code  text NOT NULL,
    region_code  text NOT NULL,
    parent_id    uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT department_pkey PRIMARY KEY (id),
    CONSTRAINT department_key_key UNIQUE (key),
    CONSTRAINT department_credit_code_key UNIQUE (credit_code),
    CONSTRAINT department_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES department (id)
);

CREATE TABLE certificate_type (
    code                   text NOT NULL,
    name                   text NOT NULL,
    gb_type_code           text NOT NULL,
    holder_kind            text NOT NULL,
    defining_department_id uuid,
    issuer_department_ids  uuid[] NOT NULL DEFAULT '{}',
    fields                 jsonb NOT NULL,
    validity_days          integer,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT certificate_type_pkey PRIMARY KEY (code),
    CONSTRAINT certificate_type_holder_kind_check CHECK (holder_kind IN ('person', 'organisation')),
    CONSTRAINT certificate_type_defining_department_id_fkey
        FOREIGN KEY (defining_department_id) REFERENCES department (id)
);

CREATE TABLE catalog_material (
    code                           text NOT NULL,
    name                           text NOT NULL,
    satisfied_by_certificate_types text[] NOT NULL DEFAULT '{}',
    held_by_department_id          uuid,
    CONSTRAINT catalog_material_pkey PRIMARY KEY (code),
    CONSTRAINT catalog_material_held_by_department_id_fkey
        FOREIGN KEY (held_by_department_id) REFERENCES department (id)
);

-- Guide, form and the matter's material list are documents read whole; they stay jsonb.
CREATE TABLE catalog_matter (
    code                     text NOT NULL,
    name                     text NOT NULL,
    kind                     text NOT NULL,
    department_id            uuid NOT NULL,
    guide                    jsonb NOT NULL,
    materials                jsonb NOT NULL,
    form                     jsonb NOT NULL,
    result_certificate_type  text,
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT catalog_matter_pkey PRIMARY KEY (code),
    CONSTRAINT catalog_matter_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id),
    CONSTRAINT catalog_matter_result_certificate_type_fkey
        FOREIGN KEY (result_certificate_type) REFERENCES certificate_type (code)
);

CREATE INDEX catalog_matter_department_id_idx ON catalog_matter (department_id, code);

CREATE TABLE catalog_bundle (
    code                 text NOT NULL,
    name                 text NOT NULL,
    life_stage           text NOT NULL,
    lead_department_id   uuid NOT NULL,
    matters              jsonb NOT NULL,
    promised_limit_days  integer NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT catalog_bundle_pkey PRIMARY KEY (code),
    CONSTRAINT catalog_bundle_lead_department_id_fkey FOREIGN KEY (lead_department_id) REFERENCES department (id)
);
