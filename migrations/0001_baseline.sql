SET lock_timeout = '2s';

-- The baseline: the whole schema in one file, the squash of migrations 0001 to 0069 (kept in
-- migrations/history/, which the runner does not read). Nothing had been deployed, and 69 files, many
-- reshaping tables made shortly before, told the reader how the schema came to be rather than what
-- it is. tests/test_migrations.py builds one database from this file and one
-- from the history and compares their catalogues (tables, columns, constraints, indexes, functions,
-- triggers, sequences, seeded rows), so the two stay the same shape.
-- Where they differ on purpose: the constraints the history added NOT VALID (wallet_item's three
-- foreign keys, person_kind_check, esign_certificate_holder_kind_check, feedback_text_check) are
-- valid here, since every table starts empty; the test names them.
-- The comments keep the reasons the history gave; "(00NN)" names the history file that says more.
-- Citus: tables are distributed after the migrations by api/kernel/distribution.py, as before.
-- New migrations follow from 0002 (docs/development.md).

-- audit_log's trigger (below): append-only.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Status-list slots come from one sequence: slot s is index s % 131072 of list s / 131072, so a
-- list fills before the next opens and concurrent issuers never wait on each other (a sequence
-- does not roll back: a failed issue leaves an unused slot, which stays "valid" and is named by
-- no token). It starts at 131072 so that the first list is list 1.
CREATE SEQUENCE esign_status_slot_seq START WITH 131072 MINVALUE 0;

-- One counter row per person. Writers bump it with UPDATE ... RETURNING inside their own
-- transaction: the row lock makes commit order equal version order, so a reader paging by
-- version never skips a commit that lands later with a smaller number.
CREATE TABLE sync_head (
    person_id  uuid NOT NULL,
    version    bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sync_head_pkey PRIMARY KEY (person_id)
);

-- A change's data is text, neither jsonb nor json: it is written only through api/kernel/changelog.py, as
-- msgspec's JSON, read whole and never queried inside; the sync pull sends it as it is. jsonb built a
-- tree on every insert (about a sixth of PostgreSQL's work per certificate in batch issuing) and
-- turned it back into text on every sync page (0039); json still checked the text again on every
-- insert, a fifth of what PostgreSQL spent on a change-log entry (0044). Text keeps the same bytes.
CREATE TABLE sync_change (
    person_id uuid NOT NULL,
    version   bigint NOT NULL,
    entity    text NOT NULL,
    entity_id uuid NOT NULL,
    op        text NOT NULL,
    data      text,
    at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sync_change_pkey PRIMARY KEY (person_id, version),
    CONSTRAINT sync_change_data_check CHECK ((op = 'put') = (data IS NOT NULL)),
    CONSTRAINT sync_change_entity_check
        CHECK (entity IN ('wallet_item', 'application', 'draft', 'notification', 'consent')),
    CONSTRAINT sync_change_op_check CHECK (op IN ('put', 'del'))
);
CREATE INDEX sync_change_entity_idx ON sync_change (person_id, entity, entity_id, version DESC);

-- Compaction looks for old entries by time.
CREATE INDEX sync_change_at_idx ON sync_change (at);

-- Rows are written by the business transaction; a relay claims them with
-- FOR UPDATE SKIP LOCKED and hands them on. A crash between commit and hand-off leaves the row
-- unpublished, so it is picked up again: at-least-once, deduplicated downstream by dedup_key.
-- An event's payload is text, for the change log's reasons (sync_change above; 0039, 0045): it is
-- written only through api/kernel/outbox.py, as msgspec's JSON, and read whole by the relay and the
-- reconciler, and jsonb or json only cost a parse or a check on every insert.
CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    topic         text NOT NULL,
    dedup_key     text NOT NULL,
    -- Fairness key: one department's bulk send must not starve another's messages.
    partition_key text NOT NULL DEFAULT '',
    payload       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    available_at  timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    published_at  timestamptz,
    last_error    text,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_dedup_key_key UNIQUE (dedup_key)
);
CREATE INDEX outbox_pending_idx ON outbox (available_at, id) WHERE (published_at IS NULL);

-- Append-only and hash-chained: each entry's hash covers its own content and the previous
-- entry's hash, so editing or deleting any entry breaks every hash after it.
-- The chain is keyed: entries from audit_head.keyed_from on are chained with HMAC-SHA256 under a key
-- derived from the master key (chain_version 2), so write access to these tables does not suffice to
-- forge a consistent chain. chain_version 1 (plain SHA-256 links, verified up to the marker) is the
-- recipe of entries written before the chain was keyed (0052); a new database starts keyed from 1.
CREATE TABLE audit_log (
    seq           bigint NOT NULL,
    at            timestamptz NOT NULL,
    actor         text NOT NULL,
    action        text NOT NULL,
    subject       text NOT NULL DEFAULT '',
    data          jsonb NOT NULL DEFAULT '{}',
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL,
    chain_version smallint NOT NULL DEFAULT 1,
    CONSTRAINT audit_log_pkey PRIMARY KEY (seq),
    CONSTRAINT audit_log_chain_version_check CHECK (chain_version = ANY (ARRAY[1, 2]))
);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);
CREATE TRIGGER audit_log_append_only BEFORE DELETE OR UPDATE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The single head row serialises appends (row lock) and remembers the last hash.
CREATE TABLE audit_head (
    id         boolean NOT NULL DEFAULT true,
    seq        bigint NOT NULL,
    hash       bytea NOT NULL,
    keyed_from bigint NOT NULL,
    CONSTRAINT audit_head_pkey PRIMARY KEY (id),
    CONSTRAINT audit_head_single_check CHECK (id)
);
INSERT INTO audit_head (id, seq, hash, keyed_from)
    VALUES (true, 0, '\x0000000000000000000000000000000000000000000000000000000000000000', 1);

-- The stored response of a creating POST, committed in the same transaction as what it created.
CREATE TABLE idempotency_key (
    scope           text NOT NULL,
    key             text NOT NULL,
    fingerprint     bytea NOT NULL,
    response_status integer NOT NULL,
    response_body   bytea NOT NULL,
    content_type    text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_key_pkey PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_key_created_at_idx ON idempotency_key (created_at);

CREATE TABLE department (
    id          uuid NOT NULL,
    key         text,
    name        text NOT NULL,
    credit_code text NOT NULL,
    region_code text NOT NULL,
    parent_id   uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT department_pkey PRIMARY KEY (id),
    CONSTRAINT department_credit_code_key UNIQUE (credit_code),
    CONSTRAINT department_key_key UNIQUE (key),
    CONSTRAINT department_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES department(id)
);

-- Tokens of format v2 (FORMATS.md "Signed tokens") key a certificate's fields by a number that is
-- stable for ever: the type registry of the trust list names each field by it. Existing fields are
-- numbered in the order the type lists them; last_field_n remembers the highest number a type ever
-- gave, so a field added later takes the next one and a removed field's number is never reused.
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
    last_field_n           integer NOT NULL DEFAULT 0,
    CONSTRAINT certificate_type_pkey PRIMARY KEY (code),
    CONSTRAINT certificate_type_defining_department_id_fkey
        FOREIGN KEY (defining_department_id) REFERENCES department(id),
    CONSTRAINT certificate_type_holder_kind_check CHECK (holder_kind IN ('person', 'organisation'))
);

CREATE TABLE catalog_material (
    code                           text NOT NULL,
    name                           text NOT NULL,
    satisfied_by_certificate_types text[] NOT NULL DEFAULT '{}',
    held_by_department_id          uuid,
    may_defer                      boolean NOT NULL DEFAULT false,
    holder_field                   text,
    CONSTRAINT catalog_material_pkey PRIMARY KEY (code),
    CONSTRAINT catalog_material_held_by_department_id_fkey
        FOREIGN KEY (held_by_department_id) REFERENCES department(id)
);

-- Guide, form and the matter's material list are documents read whole; they stay jsonb.
CREATE TABLE catalog_matter (
    code                    text NOT NULL,
    name                    text NOT NULL,
    kind                    text NOT NULL,
    department_id           uuid NOT NULL,
    guide                   jsonb NOT NULL,
    materials               jsonb NOT NULL,
    form                    jsonb NOT NULL,
    result_certificate_type text,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT catalog_matter_pkey PRIMARY KEY (code),
    CONSTRAINT catalog_matter_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT catalog_matter_result_certificate_type_fkey
        FOREIGN KEY (result_certificate_type) REFERENCES certificate_type(code)
);
CREATE INDEX catalog_matter_department_id_idx ON catalog_matter (department_id, code);

CREATE TABLE catalog_bundle (
    code                text NOT NULL,
    name                text NOT NULL,
    life_stage          text NOT NULL,
    lead_department_id  uuid NOT NULL,
    matters             jsonb NOT NULL,
    promised_limit_days integer NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    subject             text NOT NULL DEFAULT 'self',
    CONSTRAINT catalog_bundle_pkey PRIMARY KEY (code),
    CONSTRAINT catalog_bundle_lead_department_id_fkey
        FOREIGN KEY (lead_department_id) REFERENCES department(id),
    CONSTRAINT catalog_bundle_subject_check CHECK (subject IN ('self', 'newborn', 'deceased'))
);

-- Exceptions to the Monday–Friday week: 法定节假日 (holiday) and 调休 make-up workdays.
CREATE TABLE calendar_day (
    day  date NOT NULL,
    kind text NOT NULL,
    note text NOT NULL DEFAULT '',
    CONSTRAINT calendar_day_pkey PRIMARY KEY (day),
    CONSTRAINT calendar_day_kind_check CHECK (kind IN ('holiday', 'workday'))
);

-- ES256 keys that sign access tokens. The private key is sealed with the keyring (AES-GCM under
-- the master key, context "auth_signing_key.private_key"); the public half is published as a JWK.
-- Exactly one key signs at a time (retired_at IS NULL); a retired key stays published until every
-- token it signed has expired, so rotation never logs anyone out.
-- A revoked key (`zhangban revoke-signing-key`, for a compromised one) is no longer published and
-- none of its tokens verify; a revoked key is retired too.
CREATE TABLE auth_signing_key (
    kid         text NOT NULL,
    algorithm   text NOT NULL DEFAULT 'ES256',
    private_key bytea NOT NULL,
    public_jwk  jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT auth_signing_key_pkey PRIMARY KEY (kid),
    CONSTRAINT auth_signing_key_algorithm_check CHECK (algorithm = 'ES256'),
    CONSTRAINT auth_signing_key_revoked_retired_check CHECK ((revoked_at IS NULL) OR (retired_at IS NOT NULL))
);
CREATE INDEX auth_signing_key_retired_at_idx ON auth_signing_key (retired_at);

-- One row per verified identity (实人): the same ID number always maps to the same person, whichever
-- login proved it. Name and ID number are encrypted (contexts "person.name", "person.id_number");
-- lookups go through the HMAC blind index. Other domains add their own columns later.
-- A newborn is a person before public security assigns its ID number (出生登记).
-- (person.kind was added NOT VALID in 0064; here it is valid.)
-- Business entities (经营主体) as holders and actors. An entity keeps the same wallet a person does
-- (items, consents, access log, change log are keyed by a holder id), so each entity has a holder
-- row in `person` marked `kind = 'organisation'` — without an ID number, its name sealed as a
-- person's is — and its registry facts here, keyed by the unified social credit code (GB 32100).
-- `legal_rep_index` is the blind index (purpose "id_number") of the legal representative's ID number
-- as the 营业执照 issued or pushed by 市场监管 names it: whoever proves that identity may act as 法定代表人,
-- found by comparing indexes, the number itself never read back.
CREATE TABLE person (
    id              uuid NOT NULL,
    id_number       bytea,
    id_number_index bytea,
    name            bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    born_on         date,
    sex             text,
    kind            text NOT NULL DEFAULT 'person',
    CONSTRAINT person_pkey PRIMARY KEY (id),
    CONSTRAINT person_id_number_index_key UNIQUE (id_number_index),
    CONSTRAINT person_id_number_pair_check CHECK ((id_number IS NULL) = (id_number_index IS NULL)),
    CONSTRAINT person_kind_check CHECK (kind IN ('person', 'organisation'))
);

-- A login identity: a WeChat user of our mini-program, a phone number, or an operator.
-- Several accounts may prove the same identity; they then share person_id.
-- wechat_openid stays in the clear: it is a pseudonym that only means something to our appid, and
-- notifications must hand it back to WeChat as `touser`. The phone is encrypted ("auth_account.phone")
-- and found by its blind index; the WeChat session_key is encrypted and never leaves the server.
CREATE TABLE auth_account (
    id                 uuid NOT NULL,
    roles              text[] NOT NULL DEFAULT '{citizen}',
    person_id          uuid,
    assurance_level    smallint NOT NULL DEFAULT 1,
    verified_at        timestamptz,
    phone              bytea,
    phone_index        bytea,
    wechat_openid      text,
    wechat_unionid     text,
    wechat_session_key bytea,
    created_at         timestamptz NOT NULL,
    last_login_at      timestamptz,
    CONSTRAINT auth_account_pkey PRIMARY KEY (id),
    CONSTRAINT auth_account_phone_index_key UNIQUE (phone_index),
    CONSTRAINT auth_account_wechat_openid_key UNIQUE (wechat_openid),
    CONSTRAINT auth_account_wechat_unionid_key UNIQUE (wechat_unionid),
    CONSTRAINT auth_account_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id),
    CONSTRAINT auth_account_assurance_level_check CHECK ((assurance_level >= 1) AND (assurance_level <= 3)),
    CONSTRAINT auth_account_roles_check CHECK (roles <@ ARRAY['citizen', 'operator'])
);
CREATE INDEX auth_account_person_id_idx ON auth_account (person_id);

-- A family is one login on one device; every refresh spends the presented token and issues the next
-- one in the same family. Presenting a spent token again revokes the whole family (theft detection).
CREATE TABLE auth_refresh_family (
    id             uuid NOT NULL,
    account_id     uuid NOT NULL,
    method         text NOT NULL,
    auth_time      timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text,
    CONSTRAINT auth_refresh_family_pkey PRIMARY KEY (id),
    CONSTRAINT auth_refresh_family_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account(id),
    CONSTRAINT auth_refresh_family_method_check CHECK (method IN ('wechat', 'sms', 'operator'))
);
CREATE INDEX auth_refresh_family_account_id_idx ON auth_refresh_family (account_id);

-- Every server process reads the logins revoked in the last quarter hour every few seconds
-- (auth/revocation.py): only revoked families are indexed.
CREATE INDEX auth_refresh_family_revoked_at_idx ON auth_refresh_family (revoked_at)
    WHERE (revoked_at IS NOT NULL);

-- Operator tokens live up to a week, so every server process also reads the operator logins ended
-- within the last week (auth/revocation.py): only those are indexed.
CREATE INDEX auth_refresh_family_operator_revoked_at_idx ON auth_refresh_family (revoked_at)
    WHERE ((method = 'operator') AND (revoked_at IS NOT NULL));

-- Only the SHA-256 of the (256-bit random) token is kept.
CREATE TABLE auth_refresh_token (
    token_hash bytea NOT NULL,
    family_id  uuid NOT NULL,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT auth_refresh_token_pkey PRIMARY KEY (token_hash),
    CONSTRAINT auth_refresh_token_family_id_fkey FOREIGN KEY (family_id) REFERENCES auth_refresh_family(id)
);
CREATE INDEX auth_refresh_token_family_id_idx ON auth_refresh_token (family_id);

-- The hourly auth.prune_refresh_tokens sweep deletes tokens past their expiry in
-- batches: without this index every batch would read the whole table.
CREATE INDEX auth_refresh_token_expires_at_idx ON auth_refresh_token (expires_at);

-- Staff: an account working for one department, with department-scoped roles.
-- The primary key on account_id keeps a staff account in exactly one department.
-- The window clerk's role.
CREATE TABLE auth_staff (
    account_id    uuid NOT NULL,
    department_id uuid NOT NULL,
    roles         text[] NOT NULL,
    granted_by    text NOT NULL,
    granted_at    timestamptz NOT NULL,
    CONSTRAINT auth_staff_pkey PRIMARY KEY (account_id),
    CONSTRAINT auth_staff_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account(id),
    CONSTRAINT auth_staff_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT auth_staff_roles_check
        CHECK ((cardinality(roles) > 0) AND (roles <@ ARRAY['clerk', 'approver', 'issuer', 'dept_admin', 'window_clerk']))
);
CREATE INDEX auth_staff_department_id_idx ON auth_staff (department_id);

-- Department systems (client credentials). Only the SHA-256 of the random secret is kept.
-- A department client's secret can be replaced (the old one stops working at once); when it last was.
CREATE TABLE auth_client (
    id                uuid NOT NULL,
    department_id     uuid NOT NULL,
    name              text NOT NULL,
    secret_hash       bytea NOT NULL,
    scopes            text[] NOT NULL,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL,
    revoked_at        timestamptz,
    secret_rotated_at timestamptz,
    CONSTRAINT auth_client_pkey PRIMARY KEY (id),
    CONSTRAINT auth_client_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id)
);
CREATE INDEX auth_client_department_id_idx ON auth_client (department_id);

-- Identity providers whose signed assertions prove a real name (e.g. the public-security CTID
-- service). Keys are given either as one PEM public key or as a JWKS document.
-- The `aud` an identity provider must put in its assertions for us (our client id with that
-- provider). NULL, for providers registered before it existed, means the public base URL.
CREATE TABLE auth_identity_provider (
    id             uuid NOT NULL,
    name           text NOT NULL,
    issuer         text NOT NULL,
    public_key_pem text,
    jwks           jsonb,
    max_level      smallint NOT NULL DEFAULT 2,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL,
    audience       text,
    CONSTRAINT auth_identity_provider_pkey PRIMARY KEY (id),
    CONSTRAINT auth_identity_provider_issuer_key UNIQUE (issuer),
    CONSTRAINT auth_identity_provider_audience_check
        CHECK ((audience IS NULL) OR ((length(audience) >= 1) AND (length(audience) <= 300))),
    CONSTRAINT auth_identity_provider_key_check CHECK ((public_key_pem IS NULL) <> (jwks IS NULL)),
    CONSTRAINT auth_identity_provider_max_level_check CHECK ((max_level >= 2) AND (max_level <= 3))
);

-- One attempt to prove a claimed identity through one channel. The claimed name and ID number are
-- encrypted while the session is open and erased when it closes; the blind index remains.
-- A session's nonce is used once: an assertion carrying the nonce of a session already closed is a
-- replay. The lookup goes by nonce, which is unique anyway (24 random bytes).
-- The login that opened a real-name session: the one the proof binds to the identity, which the
-- person may then end with "not me"; and how often a window clerk keyed in an ID number that is
-- not the session's (a few mismatches close the session).
CREATE TABLE auth_realname_session (
    id                     uuid NOT NULL,
    account_id             uuid NOT NULL,
    method                 text NOT NULL,
    nonce                  text NOT NULL,
    name                   bytea,
    id_number              bytea,
    id_number_index        bytea NOT NULL,
    status                 text NOT NULL DEFAULT 'open',
    created_at             timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    completed_at           timestamptz,
    wechat_openid          text,
    verify_id              text,
    out_seq_no             text,
    assurance_level        smallint,
    person_id              uuid,
    failure_reason         text,
    attested_by            uuid,
    attested_department_id uuid,
    login_id               uuid,
    id_number_mismatches   smallint NOT NULL DEFAULT 0,
    CONSTRAINT auth_realname_session_pkey PRIMARY KEY (id),
    CONSTRAINT auth_realname_session_nonce_key UNIQUE (nonce),
    CONSTRAINT auth_realname_session_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account(id),
    CONSTRAINT auth_realname_session_attested_by_fkey FOREIGN KEY (attested_by) REFERENCES auth_account(id),
    CONSTRAINT auth_realname_session_attested_department_id_fkey
        FOREIGN KEY (attested_department_id) REFERENCES department(id),
    CONSTRAINT auth_realname_session_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id),
    CONSTRAINT auth_realname_session_method_check CHECK (method IN ('wechat_face', 'assertion', 'counter')),
    CONSTRAINT auth_realname_session_status_check CHECK (status IN ('open', 'verified', 'failed'))
);
CREATE INDEX auth_realname_session_account_id_idx ON auth_realname_session (account_id, created_at);

-- auth.forget_expired_realname_sessions looks for sessions left open that still hold a name and ID
-- number; only those are indexed, so the index stays as small as the sessions under way.
CREATE INDEX auth_realname_session_open_expires_at_idx ON auth_realname_session (expires_at)
    WHERE ((status = 'open') AND (id_number IS NOT NULL));

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

-- Seals (电子印章): a key pair and its certificate from the platform root. Departments' seals
-- sign certificates (role issuer); the platform's presentation seal signs presentations (role
-- presenter, no department). private_key is sealed PKCS#8 DER (context "esign_seal.private_key"),
-- or NULL when the department keeps its key (it sent a CSR and signs for itself).
-- status: active (signs), retired (replaced by a rotation: what it signed stays valid, it signs
-- no more), revoked (its key is no longer trusted: everything it signed fails verification).
CREATE TABLE esign_seal (
    id                uuid NOT NULL,
    department_id     uuid,
    role              text NOT NULL,
    name              text NOT NULL,
    kind              text NOT NULL,
    algorithm         text NOT NULL,
    kid               bytea NOT NULL,
    certificate       bytea NOT NULL,
    private_key       bytea,
    key_custody       text NOT NULL,
    status            text NOT NULL DEFAULT 'active',
    valid_from        timestamptz NOT NULL,
    valid_until       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    retired_at        timestamptz,
    revoked_at        timestamptz,
    revocation_reason text,
    replaces_id       uuid,
    CONSTRAINT esign_seal_pkey PRIMARY KEY (id),
    CONSTRAINT esign_seal_kid_key UNIQUE (kid),
    CONSTRAINT esign_seal_one_presenter_excl
        EXCLUDE USING btree (role WITH =) WHERE (((role = 'presenter') AND (status = 'active'))),
    CONSTRAINT esign_seal_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT esign_seal_replaces_id_fkey FOREIGN KEY (replaces_id) REFERENCES esign_seal(id),
    CONSTRAINT esign_seal_algorithm_check CHECK (algorithm IN ('ES256', 'SM2')),
    CONSTRAINT esign_seal_key_custody_check
        CHECK (((key_custody = 'platform') AND (private_key IS NOT NULL)) OR ((key_custody = 'department') AND (private_key IS NULL))),
    CONSTRAINT esign_seal_role_check
        CHECK (((role = 'issuer') AND (department_id IS NOT NULL) AND (kind IN ('official', 'business'))) OR ((role = 'presenter') AND (department_id IS NULL) AND (kind = 'presentation'))),
    CONSTRAINT esign_seal_status_check CHECK (status IN ('active', 'retired', 'revoked'))
);
CREATE INDEX esign_seal_department_id_idx ON esign_seal (department_id, created_at DESC);

-- One row per status list that has slots in use. version counts status changes; the signed
-- token is a cache, current while signed_version = version and recent enough.
CREATE TABLE esign_status_list (
    id             integer NOT NULL,
    version        bigint NOT NULL DEFAULT 0,
    signed_version bigint,
    signed_token   text,
    signed_at      timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT esign_status_list_pkey PRIMARY KEY (id),
    CONSTRAINT esign_status_list_id_check CHECK (id > 0)
);

-- The signed trust list, cached the same way: version bumps with every change of a seal or a new
-- status list, and the list is signed again when stale or older than the re-signing interval.
CREATE TABLE esign_trust_list (
    id             boolean NOT NULL DEFAULT true,
    version        bigint NOT NULL DEFAULT 0,
    signed_version bigint,
    signed_token   text,
    signed_at      timestamptz,
    CONSTRAINT esign_trust_list_pkey PRIMARY KEY (id),
    CONSTRAINT esign_trust_list_single_check CHECK (id)
);
INSERT INTO esign_trust_list (id, version) VALUES (true, 1);

-- Licence serials (证照标识 serial part), counted per certificate type, issuing department and
-- year: the serial is the year and the count, "2026" + "0000001".
CREATE TABLE esign_serial (
    type_code     text NOT NULL,
    department_id uuid NOT NULL,
    year          integer NOT NULL,
    last_serial   bigint NOT NULL,
    CONSTRAINT esign_serial_pkey PRIMARY KEY (type_code, department_id, year)
);

-- Issued certificates (电子证照). The holder's name and ID number are sealed (contexts
-- "esign_certificate.holder_name", "esign_certificate.holder_id"), found by the blind index, and
-- shown masked; an organisation's credit code is public and kept as it is. fields holds what the
-- type does not mark sensitive; sealed_fields the sensitive ones (sealed JSON).
-- status: pending (waiting for the signature of a department that keeps its seal key), valid,
-- suspended, revoked. Expiry is read from valid_until, never stored.
-- No foreign keys: department, certificate type, seal and person rows are never deleted, the issuing
-- transaction reads each of them before it writes, and the four row-level checks doubled the cost
-- of a bulk insert (batch issuing writes thousands of rows a second).
-- An organisation's certificate has a holder row (its wallet), so person_id may be set for it; the
-- holder-kind check was added NOT VALID in 0064 and is valid here.
-- No index by holder: a holder's certificates are reached through their wallet items
-- (wallet_item_person_id_at_idx), and the jobs that read certificates go by creation time or by end
-- of validity (0043).
-- The 16 random bytes mixed into each certificate's canonical record before it is hashed into the
-- token's "d" claim, so that the digest cannot confirm a guessed name or ID number behind a mask.
-- Kept with the archived certificate only, never put in a token. Certificates issued before have none.
CREATE TABLE esign_certificate (
    id                 uuid NOT NULL,
    department_id      uuid NOT NULL,
    type_code          text NOT NULL,
    licence_id         text NOT NULL,
    holder_kind        text NOT NULL,
    person_id          uuid,
    holder_name        bytea NOT NULL,
    holder_id          bytea,
    holder_index       bytea,
    holder_credit_code text,
    holder_name_masked text NOT NULL,
    holder_id_masked   text NOT NULL,
    fields             jsonb NOT NULL,
    sealed_fields      bytea,
    seal_id            uuid NOT NULL,
    issued_at          timestamptz NOT NULL,
    valid_from         timestamptz NOT NULL,
    valid_until        timestamptz,
    status             text NOT NULL,
    status_reason      text,
    status_changed_at  timestamptz,
    status_list_id     integer NOT NULL,
    status_index       integer NOT NULL,
    record_digest      bytea NOT NULL,
    to_be_signed       bytea,
    token              text,
    external_ref       text NOT NULL,
    request_hash       bytea NOT NULL,
    application_id     uuid,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL,
    record_salt        bytea,
    CONSTRAINT esign_certificate_pkey PRIMARY KEY (id),
    CONSTRAINT esign_certificate_department_id_external_ref_key UNIQUE (department_id, external_ref),
    CONSTRAINT esign_certificate_licence_id_key UNIQUE (licence_id),
    CONSTRAINT esign_certificate_status_slot_key UNIQUE (status_list_id, status_index),
    CONSTRAINT esign_certificate_holder_kind_check
        CHECK (((holder_kind = 'person') AND (holder_credit_code IS NULL)) OR ((holder_kind = 'organisation') AND (holder_credit_code IS NOT NULL))),
    CONSTRAINT esign_certificate_status_check CHECK (status IN ('pending', 'valid', 'suspended', 'revoked')),
    CONSTRAINT esign_certificate_token_check
        CHECK (((status = 'pending') AND (token IS NULL) AND (to_be_signed IS NOT NULL)) OR ((status <> 'pending') AND (token IS NOT NULL) AND (to_be_signed IS NULL))),
    CONSTRAINT esign_certificate_validity_check CHECK ((valid_until IS NULL) OR (valid_until > valid_from))
);

-- Building a status list reads only the entries that are not valid.
CREATE INDEX esign_certificate_status_list_idx ON esign_certificate (status_list_id)
    WHERE (status IN ('revoked', 'suspended'));

-- The sweeps read certificates by creation and by approaching expiry, and bundles by completion.
CREATE INDEX esign_certificate_created_at_idx ON esign_certificate (created_at, id);
CREATE INDEX esign_certificate_valid_until_idx ON esign_certificate (valid_until)
    WHERE ((status = 'valid') AND (person_id IS NOT NULL) AND (valid_until IS NOT NULL));

-- The lifelong wallet: one row per thing a person keeps (certificate, department record, life
-- event, application), mirrored to the person's devices through the change log. Certificates
-- link back to esign_certificate; the other kinds carry their own data.
-- Wallet items that no certificate produced: records and life events that departments push
-- (idempotent by the department's external_ref, per kind; request_hash tells a repeat from a
-- different body), and life events the wallet derives from what happened. source_key names where
-- a derived or pushed life event came from, so deriving twice writes once; the events a person has
-- only once are keyed by person ('born:<person id>', 'died:<person id>').
-- sealed_data holds the values a department marked sensitive, sealed with the keyring (context
-- "wallet_item.sealed_data"); data holds the rest and travels to the holder's devices.
-- The keys to person, esign_certificate and department are checked: in a system of record a wallet
-- item names a person and a certificate that exist, and the database should say so, not only the
-- code that writes it. 0038 dropped them for batch issuing's speed and 0063 restored them; their
-- cost, measured with bench/issue.py (a wallet item per certificate) alternated without and with
-- them in one sitting: about 7 µs of PostgreSQL CPU per certificate (49 → 56 µs, some 4 % of all the
-- CPU a certificate takes) and no loss of throughput the machine's swing could show
-- (docs/performance.md). A certificate's item has no department_id (only a department's pushed
-- record has), so that key costs the certificate path nothing; the other two check rows the same
-- transaction has just written. 0063 added them NOT VALID (rows written while they were away were
-- not checked); here the table starts empty, so they are valid from the start.
-- Certificates are most of the wallet, and batch issuing writes thousands of their items a second,
-- so an item pays for no index it never uses (0038): the two provenance columns, NULL for a
-- certificate's item, have partial indexes that leave those out, and the listing reads
-- (person_id, at DESC, id DESC) and filters the kind from a person's few items.
-- A wallet item's summary and data are json, not jsonb: written whole (thousands a second in batch
-- issuing) and read whole, json keeps the text as written, where jsonb parsed it on every insert and
-- printed it again on every read. The one update that merges keys into them (a certificate's status)
-- goes through jsonb for that statement (wallet/store.py) (0040).
-- A certificate item's data holds no token: the token is kept once, in esign_certificate, and the
-- item's change-log entry (what the holder's devices receive) carries it (esign/delivery.py); a copy
-- in every item was a third of what batch issuing wrote per certificate (0042).
CREATE TABLE wallet_item (
    id             uuid NOT NULL,
    person_id      uuid NOT NULL,
    kind           text NOT NULL,
    title          text NOT NULL,
    at             timestamptz NOT NULL,
    summary        json NOT NULL DEFAULT '{}',
    certificate_id uuid,
    application_id uuid,
    bundle_code    text,
    data           json NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    department_id  uuid,
    external_ref   text,
    request_hash   bytea,
    sealed_data    bytea,
    source_key     text,
    CONSTRAINT wallet_item_pkey PRIMARY KEY (id),
    CONSTRAINT wallet_item_certificate_id_key UNIQUE (certificate_id),
    CONSTRAINT wallet_item_certificate_id_fkey FOREIGN KEY (certificate_id) REFERENCES esign_certificate(id),
    CONSTRAINT wallet_item_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT wallet_item_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id),
    CONSTRAINT wallet_item_certificate_check CHECK ((kind = 'certificate') = (certificate_id IS NOT NULL)),
    CONSTRAINT wallet_item_external_ref_check
        CHECK (((external_ref IS NULL) = (department_id IS NULL)) AND ((external_ref IS NULL) = (request_hash IS NULL))),
    CONSTRAINT wallet_item_kind_check CHECK (kind IN ('certificate', 'record', 'event', 'application'))
);

-- The wallet lists every kind together, newest first.
CREATE INDEX wallet_item_person_id_at_idx ON wallet_item (person_id, at DESC, id DESC);
CREATE UNIQUE INDEX wallet_item_department_id_kind_external_ref_key ON wallet_item (department_id, kind, external_ref)
    WHERE (external_ref IS NOT NULL);
CREATE UNIQUE INDEX wallet_item_source_key_key ON wallet_item (source_key) WHERE (source_key IS NOT NULL);

-- Who may see and act for whom: parents for a newborn (from 出生一件事), or set by a department.
-- A child who comes of age (18) is no longer a dependent: until is set to the 18th birthday
-- unless a department says otherwise (beyond_majority: guardianship of an adult, e.g. 成年监护
-- ordered by a court). department_id and basis record who set a guardianship and on what grounds.
CREATE TABLE guardianship (
    guardian_person_id  uuid NOT NULL,
    dependent_person_id uuid NOT NULL,
    source              text NOT NULL,
    since               timestamptz NOT NULL,
    until               timestamptz,
    beyond_majority     boolean NOT NULL DEFAULT false,
    department_id       uuid,
    basis               text,
    CONSTRAINT guardianship_pkey PRIMARY KEY (guardian_person_id, dependent_person_id),
    CONSTRAINT guardianship_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT guardianship_dependent_person_id_fkey FOREIGN KEY (dependent_person_id) REFERENCES person(id),
    CONSTRAINT guardianship_guardian_person_id_fkey FOREIGN KEY (guardian_person_id) REFERENCES person(id),
    CONSTRAINT guardianship_not_self_check CHECK (guardian_person_id <> dependent_person_id)
);
CREATE INDEX guardianship_dependent_idx ON guardianship (dependent_person_id);

-- The coming-of-age sweep looks only at open guardianships of minors.
CREATE INDEX guardianship_open_idx ON guardianship (dependent_person_id)
    WHERE ((until IS NULL) AND (NOT beyond_majority));

-- A citizen who walks in without an account applies all the same: the application is theirs.
-- What an entity submits is signed with its seal: the application's id, target and form (its
-- declarations), canonical JSON; departments verify it on their task.
CREATE TABLE application (
    id                   uuid NOT NULL,
    bundle_code          text,
    matter_code          text,
    applicant_account_id uuid,
    applicant_person_id  uuid NOT NULL,
    for_person_id        uuid NOT NULL,
    status               text NOT NULL,
    -- The form carries ID numbers and names: encrypted (context "application.form").
    form                 bytea NOT NULL,
    materials            jsonb NOT NULL,
    deferred_materials   text[] NOT NULL DEFAULT '{}',
    fingerprint          bytea NOT NULL,
    submitted_at         timestamptz NOT NULL,
    due_at               timestamptz NOT NULL,
    supplement_due_at    timestamptz,
    completed_at         timestamptz,
    updated_at           timestamptz NOT NULL,
    entity_signature     jsonb,
    CONSTRAINT application_pkey PRIMARY KEY (id),
    CONSTRAINT application_applicant_person_id_fkey FOREIGN KEY (applicant_person_id) REFERENCES person(id),
    CONSTRAINT application_for_person_id_fkey FOREIGN KEY (for_person_id) REFERENCES person(id),
    CONSTRAINT application_status_check
        CHECK (status IN ('submitted', 'in_progress', 'needs_supplement', 'completed', 'rejected', 'withdrawn')),
    CONSTRAINT application_target_check CHECK ((bundle_code IS NULL) <> (matter_code IS NULL))
);
CREATE INDEX application_applicant_idx ON application (applicant_person_id, submitted_at DESC);
CREATE INDEX application_for_person_idx ON application (for_person_id, submitted_at DESC);
CREATE INDEX application_stats_idx ON application (submitted_at, bundle_code);
CREATE INDEX application_completed_at_idx ON application (completed_at, id) WHERE (status = 'completed');

-- Departments may read a blob when an application they handle names it in its materials
-- (`[{"code": …, "blob_sha256": …}]`); the containment test uses this index instead of scanning
-- every application of the department.
CREATE INDEX application_materials_idx ON application USING gin (materials jsonb_path_ops);

CREATE TABLE application_task (
    id                    uuid NOT NULL,
    application_id        uuid NOT NULL,
    matter_code           text NOT NULL,
    department_id         uuid NOT NULL,
    required              boolean NOT NULL,
    after_matters         text[] NOT NULL DEFAULT '{}',
    status                text NOT NULL,
    claimed_by            text,
    started_at            timestamptz,
    due_at                timestamptz,
    paused_at             timestamptz,
    decided_at            timestamptz,
    reasons               jsonb NOT NULL DEFAULT '[]',
    required_materials    jsonb NOT NULL DEFAULT '[]',
    note                  text NOT NULL DEFAULT '',
    result_certificate_id uuid,
    overdue_flagged_at    timestamptz,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT application_task_pkey PRIMARY KEY (id),
    CONSTRAINT application_task_application_id_matter_code_key UNIQUE (application_id, matter_code),
    CONSTRAINT application_task_application_id_fkey FOREIGN KEY (application_id) REFERENCES application(id),
    CONSTRAINT application_task_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT application_task_status_check
        CHECK (status IN ('waiting', 'pending', 'claimed', 'approved', 'rejected', 'needs_supplement', 'cancelled'))
);
CREATE INDEX application_task_department_idx ON application_task (department_id, status, due_at);
CREATE INDEX application_task_open_due_idx ON application_task (due_at)
    WHERE ((status IN ('pending', 'claimed')) AND (overdue_flagged_at IS NULL));

-- The timeline a citizen sees: every event of the application, in order.
CREATE TABLE application_event (
    id             bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    application_id uuid NOT NULL,
    at             timestamptz NOT NULL,
    event          text NOT NULL,
    actor          text NOT NULL,
    detail         jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT application_event_pkey PRIMARY KEY (id),
    CONSTRAINT application_event_application_id_fkey FOREIGN KEY (application_id) REFERENCES application(id)
);
CREATE INDEX application_event_application_idx ON application_event (application_id, id);

-- 好差评: one rating per application, once it is completed or rejected.
CREATE TABLE evaluation (
    application_id uuid NOT NULL,
    person_id      uuid NOT NULL,
    level          smallint NOT NULL,
    comment        text,
    tags           text[] NOT NULL DEFAULT '{}',
    at             timestamptz NOT NULL,
    comment_sealed bytea,
    CONSTRAINT evaluation_pkey PRIMARY KEY (application_id),
    CONSTRAINT evaluation_application_id_fkey FOREIGN KEY (application_id) REFERENCES application(id),
    CONSTRAINT evaluation_level_check CHECK ((level >= 1) AND (level <= 5))
);
CREATE INDEX evaluation_at_idx ON evaluation (at);

-- A bad rating (level ≤ 2) opens a case the responsible department must answer by a deadline.
CREATE TABLE rectification (
    id             uuid NOT NULL,
    application_id uuid NOT NULL,
    department_id  uuid NOT NULL,
    level          smallint NOT NULL,
    status         text NOT NULL DEFAULT 'open',
    due_at         timestamptz NOT NULL,
    answer         text,
    answered_by    text,
    answered_at    timestamptz,
    created_at     timestamptz NOT NULL,
    CONSTRAINT rectification_pkey PRIMARY KEY (id),
    CONSTRAINT rectification_application_id_key UNIQUE (application_id),
    CONSTRAINT rectification_application_id_fkey FOREIGN KEY (application_id) REFERENCES application(id),
    CONSTRAINT rectification_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT rectification_status_check CHECK (status IN ('open', 'answered'))
);
CREATE INDEX rectification_department_idx ON rectification (department_id, status, due_at);

-- 请你来找茬: complaints, suggestions and error reports, routed to a department or the operators.
-- What citizens write in their own words (找茬 feedback, a rating's comment) is personal data: it is
-- stored sealed (AES-GCM under the master key, like ID numbers) in *_sealed, and the clear columns
-- (feedback.text, evaluation.comment) stay empty; they hold only what was written before sealing
-- (0058), which is why the check accepts either. 0058 added that check NOT VALID; here it is valid.
CREATE TABLE feedback (
    id             uuid NOT NULL,
    kind           text NOT NULL,
    text           text,
    account_id     uuid NOT NULL,
    application_id uuid,
    matter_code    text,
    department_id  uuid,
    status         text NOT NULL DEFAULT 'open',
    answer         text,
    answered_by    text,
    answered_at    timestamptz,
    created_at     timestamptz NOT NULL,
    text_sealed    bytea,
    CONSTRAINT feedback_pkey PRIMARY KEY (id),
    CONSTRAINT feedback_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT feedback_kind_check CHECK (kind IN ('complaint', 'suggestion', 'error_report')),
    CONSTRAINT feedback_status_check CHECK (status IN ('open', 'answered')),
    CONSTRAINT feedback_text_check CHECK ((text IS NOT NULL) OR (text_sealed IS NOT NULL))
);
CREATE INDEX feedback_department_idx ON feedback (department_id, status, created_at);
CREATE INDEX feedback_account_idx ON feedback (account_id, created_at);

-- One row per event and recipient: the in-app inbox item of a person (or of an account that has no
-- person, such as an operator), or the department copy that its webhooks deliver. dedup_key is the
-- event's outbox dedup key plus the recipient, so an event relayed twice still makes one row.
-- The inbox is delivered by the insert itself; the other channels are rows of notify_delivery.
-- title and body are rendered zh-CN text; data holds the event's ids, never personal data.
-- No foreign keys on notifications, deliveries and attempts (dropped in 0036, and left so when 0063
-- restored the wallet's; docs/performance.md): the dispatcher writes notifications, deliveries and
-- attempts by the thousand a second, and a foreign key costs each row a trigger, a lookup and a share
-- lock on the referenced row (on a bulk send, every row of both expanding workers locks the same few
-- department rows). Measured on the 2-core machine, these five keys (to person, account and
-- department, delivery to notification, attempt to delivery) were a fifth of PostgreSQL's CPU per
-- notification; restored, they would cost the dispatcher about as much again. Nothing deletes
-- persons, accounts or departments; the expansion makes notifications only for recipients it has
-- just read (``notify.recipients.load``), and deliveries and attempts are written in the
-- transactions that made or claimed their parents.
CREATE TABLE notify_notification (
    id            uuid NOT NULL,
    dedup_key     text NOT NULL,
    event         text NOT NULL,
    kind          text NOT NULL,
    person_id     uuid,
    account_id    uuid,
    department_id uuid,
    title         text NOT NULL,
    body          text NOT NULL,
    data          jsonb NOT NULL,
    urgent        boolean NOT NULL DEFAULT false,
    lane          text NOT NULL,
    created_at    timestamptz NOT NULL,
    read_at       timestamptz,
    CONSTRAINT notify_notification_pkey PRIMARY KEY (id),
    CONSTRAINT notify_notification_dedup_key_key UNIQUE (dedup_key),
    CONSTRAINT notify_notification_recipient_check
        CHECK (num_nonnulls(person_id, account_id, department_id) = 1)
);

-- Inbox pages, newest first (ids are UUIDv7, so id order is creation order).
CREATE INDEX notify_notification_person_id_idx ON notify_notification (person_id, id DESC)
    WHERE (person_id IS NOT NULL);
CREATE INDEX notify_notification_account_id_idx ON notify_notification (account_id, id DESC)
    WHERE (account_id IS NOT NULL);

-- A department's events in order, for a system catching up on what it missed ("everything since").
CREATE INDEX notify_notification_department_id_idx ON notify_notification (department_id, id)
    WHERE (department_id IS NOT NULL);

-- A notification on one outside channel to one target (the account for wechat and sms, the webhook
-- for webhook). Status machine after GOV.UK Notify: created -> sending -> delivered | sent |
-- temporary-failure | permanent-failure | technical-failure; only created and sending move.
-- not_before holds a delivery (quiet hours, the next retry); lease_until is set while an attempt
-- is in flight, so an attempt whose worker died can be taken again once it passes; queued_at says
-- when the row was last handed to the dispatch stream; credit_spent, that a one-time WeChat grant
-- was spent on it (given back when WeChat never took the message). content is what the channel
-- sends, rendered when the notification was made (SMS text; WeChat template and values); webhooks
-- send the notification's event and data.
-- A delivery is claimed (created -> sending) once per attempt, by the thousand a second. With the
-- open-deliveries index keyed on status, every claim wrote a new row version and an entry in each
-- of the table's four indexes. Keyed on a stored "open" flag instead, which a claim leaves as it
-- was, and with room left in each page for the new version, a claim can be a heap-only update:
-- measured, a claim's WAL fell by about 30%. Settling (sending -> a final status) still leaves the index.
CREATE TABLE notify_delivery (
    id              uuid NOT NULL,
    notification_id uuid NOT NULL,
    channel         text NOT NULL,
    target          uuid NOT NULL,
    lane            text NOT NULL,
    status          text NOT NULL DEFAULT 'created',
    attempts        integer NOT NULL DEFAULT 0,
    not_before      timestamptz,
    lease_until     timestamptz,
    queued_at       timestamptz,
    sending_since   timestamptz,
    credit_spent    boolean NOT NULL DEFAULT false,
    content         jsonb,
    reason          text,
    provider_ref    text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    open            boolean GENERATED ALWAYS AS ((status IN ('created', 'sending'))) STORED,
    CONSTRAINT notify_delivery_pkey PRIMARY KEY (id),
    CONSTRAINT notify_delivery_notification_id_channel_target_key UNIQUE (notification_id, channel, target),
    CONSTRAINT notify_delivery_channel_check CHECK (channel IN ('wechat', 'sms', 'webhook')),
    CONSTRAINT notify_delivery_status_check
        CHECK (status IN ('created', 'sending', 'delivered', 'sent', 'temporary-failure', 'permanent-failure', 'technical-failure'))
) WITH (fillfactor=70);
CREATE INDEX notify_delivery_webhook_idx ON notify_delivery (target, id DESC) WHERE (channel = 'webhook');

-- The requeue job scans only what can still move, and takes what waits longest first: unheld (NULL)
-- rows, then by not_before.
CREATE INDEX notify_delivery_open_idx ON notify_delivery (not_before NULLS FIRST) WHERE open;

-- Every attempt at a delivery, with what came of it (shown to operators).
CREATE TABLE notify_attempt (
    delivery_id uuid NOT NULL,
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    outcome     text NOT NULL,
    detail      text,
    CONSTRAINT notify_attempt_pkey PRIMARY KEY (delivery_id, attempt),
    CONSTRAINT notify_attempt_outcome_check
        CHECK (outcome IN ('delivered', 'sent', 'retry', 'lost', 'temporary-failure', 'permanent-failure', 'technical-failure'))
);

-- A department system's endpoint for the events it names. The signing secret is sealed with the
-- keyring (context "notify_webhook.secret"): it is needed in the clear only to sign deliveries.
-- Rotating a webhook's secret keeps the one it replaces for an overlap: until
-- previous_secret_expires_at, deliveries carry a signature under each (Standard Webhooks allows
-- several space-separated "v1," signatures), so the receiver can switch when it is ready.
CREATE TABLE notify_webhook (
    id                         uuid NOT NULL,
    department_id              uuid NOT NULL,
    url                        text NOT NULL,
    events                     text[] NOT NULL,
    secret                     bytea NOT NULL,
    created_by                 text NOT NULL,
    created_at                 timestamptz NOT NULL,
    disabled_at                timestamptz,
    previous_secret            bytea,
    previous_secret_expires_at timestamptz,
    rotated_at                 timestamptz,
    CONSTRAINT notify_webhook_pkey PRIMARY KEY (id),
    CONSTRAINT notify_webhook_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT notify_webhook_events_check CHECK (cardinality(events) > 0),
    CONSTRAINT notify_webhook_previous_secret_check
        CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);
CREATE INDEX notify_webhook_department_id_idx ON notify_webhook (department_id) WHERE (disabled_at IS NULL);

-- Per account: which outside channels it wants, and quiet hours in China time (from may be later
-- than to: 22:00-07:00 spans midnight). No row means both channels on and no quiet hours.
CREATE TABLE notify_preference (
    account_id uuid NOT NULL,
    wechat     boolean NOT NULL,
    sms        boolean NOT NULL,
    quiet_from time without time zone,
    quiet_to   time without time zone,
    updated_at timestamptz NOT NULL,
    CONSTRAINT notify_preference_pkey PRIMARY KEY (account_id),
    CONSTRAINT notify_preference_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account(id),
    CONSTRAINT notify_preference_quiet_hours_check CHECK ((quiet_from IS NULL) = (quiet_to IS NULL))
);

-- What wx.requestSubscribeMessage returned, per account and template: one-time acceptances add a
-- credit that one message spends; a long-term grant is kept. WeChat's 43101 (the user refused)
-- clears both and records the opt-out until the user accepts again.
CREATE TABLE notify_wechat_grant (
    account_id   uuid NOT NULL,
    template_key text NOT NULL,
    credits      integer NOT NULL DEFAULT 0,
    long_term    boolean NOT NULL DEFAULT false,
    opted_out_at timestamptz,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT notify_wechat_grant_pkey PRIMARY KEY (account_id, template_key),
    CONSTRAINT notify_wechat_grant_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account(id),
    CONSTRAINT notify_wechat_grant_credits_check CHECK (credits >= 0)
);

-- 授权用证: a holder (or their guardian) lets one department read named wallet items for a
-- purpose, until expires_at and for at most max_uses reads. uses counts the reads served; a read
-- takes a use with one conditional UPDATE, so two concurrent reads never overspend.
-- The fields a consent discloses, per item: {"<item id>": ["key", ...]}. An item the map does not
-- name is shown to the grantee without its sensitive values (as to anyone but the holder).
CREATE TABLE wallet_consent (
    id                    uuid NOT NULL,
    person_id             uuid NOT NULL,
    grantee_department_id uuid NOT NULL,
    item_ids              uuid[] NOT NULL,
    purpose               text NOT NULL,
    matter_code           text,
    expires_at            timestamptz NOT NULL,
    max_uses              integer,
    uses                  integer NOT NULL DEFAULT 0,
    granted_by            text NOT NULL,
    created_at            timestamptz NOT NULL,
    revoked_at            timestamptz,
    updated_at            timestamptz NOT NULL,
    fields                jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT wallet_consent_pkey PRIMARY KEY (id),
    CONSTRAINT wallet_consent_grantee_department_id_fkey
        FOREIGN KEY (grantee_department_id) REFERENCES department(id),
    CONSTRAINT wallet_consent_matter_code_fkey FOREIGN KEY (matter_code) REFERENCES catalog_matter(code),
    CONSTRAINT wallet_consent_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id),
    CONSTRAINT wallet_consent_fields_check CHECK (jsonb_typeof(fields) = 'object'),
    CONSTRAINT wallet_consent_item_ids_check
        CHECK ((cardinality(item_ids) >= 1) AND (cardinality(item_ids) <= 100)),
    CONSTRAINT wallet_consent_max_uses_check CHECK ((max_uses IS NULL) OR (max_uses >= 1)),
    CONSTRAINT wallet_consent_uses_check CHECK ((uses >= 0) AND ((max_uses IS NULL) OR (uses <= max_uses)))
);
CREATE INDEX wallet_consent_person_id_idx ON wallet_consent (person_id, created_at DESC, id DESC);
CREATE INDEX wallet_consent_grantee_department_id_idx ON wallet_consent (grantee_department_id, created_at DESC, id DESC);

-- Every read of a consent by its grantee, served or refused, shown to the holder. actor is
-- "account:<id>" (staff) or "client:<id>" (a department system); purpose is the consent's.
-- 免提交: a department handling a task reads the certificates and uploads of its matter's
-- materials, and each read is shown to the holder beside the reads under consents. Such a read
-- names the task (and the material) instead of a consent.
CREATE TABLE wallet_access_log (
    id            bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    person_id     uuid NOT NULL,
    consent_id    uuid,
    department_id uuid NOT NULL,
    actor         text NOT NULL,
    purpose       text NOT NULL,
    item_ids      uuid[] NOT NULL,
    outcome       text NOT NULL,
    reason        text,
    at            timestamptz NOT NULL,
    task_id       uuid,
    material      text,
    CONSTRAINT wallet_access_log_pkey PRIMARY KEY (id),
    CONSTRAINT wallet_access_log_consent_id_fkey FOREIGN KEY (consent_id) REFERENCES wallet_consent(id),
    CONSTRAINT wallet_access_log_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT wallet_access_log_task_id_fkey FOREIGN KEY (task_id) REFERENCES application_task(id),
    CONSTRAINT wallet_access_log_basis_check CHECK ((consent_id IS NOT NULL) OR (task_id IS NOT NULL)),
    CONSTRAINT wallet_access_log_outcome_check CHECK (outcome IN ('served', 'refused'))
);
CREATE INDEX wallet_access_log_person_id_idx ON wallet_access_log (person_id, id DESC);

-- 身后: the wallet of a person who died is closed to new writes (no records, consents or
-- presentations) and stays readable by the family members who applied for 身后一件事.
CREATE TABLE wallet_closure (
    person_id uuid NOT NULL,
    closed_at timestamptz NOT NULL,
    source    text NOT NULL,
    CONSTRAINT wallet_closure_pkey PRIMARY KEY (person_id),
    CONSTRAINT wallet_closure_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id)
);

CREATE TABLE wallet_family_reader (
    person_id        uuid NOT NULL,
    reader_person_id uuid NOT NULL,
    application_id   uuid NOT NULL,
    since            timestamptz NOT NULL,
    CONSTRAINT wallet_family_reader_pkey PRIMARY KEY (person_id, reader_person_id),
    CONSTRAINT wallet_family_reader_application_id_fkey
        FOREIGN KEY (application_id) REFERENCES application(id),
    CONSTRAINT wallet_family_reader_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id),
    CONSTRAINT wallet_family_reader_reader_person_id_fkey FOREIGN KEY (reader_person_id) REFERENCES person(id)
);
CREATE INDEX wallet_family_reader_reader_idx ON wallet_family_reader (reader_person_id);

-- How far the derivation sweep has read each source (certificates by created_at, applications by
-- completed_at). It re-reads a margin behind the mark, because a row can commit after a later one;
-- what it writes is keyed (wallet_item.source_key), so reading a row twice writes once.
CREATE TABLE wallet_job_mark (
    name     text NOT NULL,
    position timestamptz NOT NULL,
    CONSTRAINT wallet_job_mark_pkey PRIMARY KEY (name)
);

-- Expiry reminders already queued: one per certificate and threshold (30, 7, 1 days).
CREATE TABLE wallet_expiry_reminder (
    certificate_id uuid NOT NULL,
    days           integer NOT NULL,
    queued_at      timestamptz NOT NULL,
    CONSTRAINT wallet_expiry_reminder_pkey PRIMARY KEY (certificate_id, days),
    CONSTRAINT wallet_expiry_reminder_certificate_id_fkey
        FOREIGN KEY (certificate_id) REFERENCES esign_certificate(id),
    CONSTRAINT wallet_expiry_reminder_days_check CHECK (days = ANY (ARRAY[1, 7, 30]))
);

-- The server's sync epoch: one row, created when the database is. Pull cursors carry it, so a
-- cursor from another database (a restored backup, a rebuilt server, another environment) is
-- recognised and answered with a full reset instead of a silent gap. Operators start a new epoch
-- after restoring a backup: UPDATE sync_epoch SET epoch = gen_random_uuid(), started_at = now();
CREATE TABLE sync_epoch (
    id         boolean NOT NULL DEFAULT true,
    epoch      uuid NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sync_epoch_pkey PRIMARY KEY (id),
    CONSTRAINT sync_epoch_id_check CHECK (id)
);
INSERT INTO sync_epoch (id, epoch) VALUES (true, gen_random_uuid());

-- The tombstone horizon per person: compaction removes `del` entries older than the retention
-- window and raises `version` to the highest version it removed. A cursor below it may have missed
-- a deletion, so its owner gets a reset.
CREATE TABLE sync_horizon (
    person_id    uuid NOT NULL,
    version      bigint NOT NULL,
    compacted_at timestamptz NOT NULL,
    CONSTRAINT sync_horizon_pkey PRIMARY KEY (person_id)
);

-- One row per (account, client install): the last mutation sequence number processed. Pushes lock
-- it for each mutation, so two pushes from the same client take turns and seq stays gap-free.
CREATE TABLE sync_client (
    account_id uuid NOT NULL,
    client_id  uuid NOT NULL,
    last_seq   bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT sync_client_pkey PRIMARY KEY (account_id, client_id),
    CONSTRAINT sync_client_last_seq_check CHECK (last_seq >= 0)
);

-- The ledger: every processed mutation and its result, committed with the mutation's effect, so a
-- retry finds it and gets the same answer. fingerprint is a keyed hash of (name, args,
-- base_version): it tells a retry from a reused id without keeping the args (they may hold ID
-- numbers). result holds what the answer carried (draft forms only sealed).
CREATE TABLE sync_mutation (
    account_id  uuid NOT NULL,
    id          uuid NOT NULL,
    n           bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    client_id   uuid NOT NULL,
    seq         bigint NOT NULL,
    name        text NOT NULL,
    fingerprint bytea NOT NULL,
    status      text NOT NULL,
    code        text,
    version     bigint,
    result      jsonb,
    recorded_at timestamptz NOT NULL,
    CONSTRAINT sync_mutation_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT sync_mutation_code_check CHECK ((status = 'rejected') = (code IS NOT NULL)),
    CONSTRAINT sync_mutation_status_check CHECK (status IN ('applied', 'rejected', 'conflict'))
);
CREATE INDEX sync_mutation_recorded_at_idx ON sync_mutation (recorded_at);

-- Drafts: applications in progress, edited on any of the person's devices and synced as entity
-- "draft". version counts every save and delete; a save names the version it was based on and an
-- older one is a conflict. A deleted draft keeps its row (form cleared) so its version goes on
-- counting and its id is never reused. The form may hold ID numbers and names: encrypted (context
-- "sync_draft.form").
CREATE TABLE sync_draft (
    id                 uuid NOT NULL,
    person_id          uuid NOT NULL,
    account_id         uuid NOT NULL,
    bundle_code        text,
    matter_code        text,
    for_person_id      uuid,
    form               bytea,
    materials          jsonb NOT NULL DEFAULT '[]',
    deferred_materials text[] NOT NULL DEFAULT '{}',
    version            bigint NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    deleted_at         timestamptz,
    CONSTRAINT sync_draft_pkey PRIMARY KEY (id),
    CONSTRAINT sync_draft_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id),
    CONSTRAINT sync_draft_form_check CHECK ((deleted_at IS NULL) = (form IS NOT NULL)),
    CONSTRAINT sync_draft_target_check CHECK ((bundle_code IS NULL) <> (matter_code IS NULL)),
    CONSTRAINT sync_draft_version_check CHECK (version >= 1)
);
CREATE INDEX sync_draft_person_idx ON sync_draft (person_id, updated_at DESC);

-- Content-addressed uploads (photos, scans, PDFs), stored once whoever uploads them. The bytes stay
-- in PostgreSQL: they are at most 10 MiB, commit and back up with the applications that name them,
-- and need no second storage system on a laptop or in production. JPEG, PNG and PDF are already
-- compressed, so the column skips TOAST compression (EXTERNAL) and is stored out of line as is.
CREATE TABLE sync_blob (
    sha256       bytea NOT NULL,
    content_type text NOT NULL,
    size         integer NOT NULL,
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    CONSTRAINT sync_blob_pkey PRIMARY KEY (sha256),
    CONSTRAINT sync_blob_content_type_check
        CHECK (content_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    CONSTRAINT sync_blob_sha256_check CHECK (length(sha256) = 32),
    CONSTRAINT sync_blob_size_check CHECK ((size = length(data)) AND (size <= 10485760))
);
ALTER TABLE sync_blob ALTER COLUMN data SET STORAGE EXTERNAL;

-- Who uploaded a blob (each uploader may read it back): the login's subject ("account:…" or
-- "client:…") and, for a person's login, the person, so every device of that person may read it.
CREATE TABLE sync_blob_uploader (
    sha256      bytea NOT NULL,
    subject     text NOT NULL,
    person_id   uuid,
    uploaded_at timestamptz NOT NULL,
    CONSTRAINT sync_blob_uploader_pkey PRIMARY KEY (sha256, subject),
    CONSTRAINT sync_blob_uploader_sha256_fkey FOREIGN KEY (sha256) REFERENCES sync_blob(sha256)
);
CREATE INDEX sync_blob_uploader_person_idx ON sync_blob_uploader (person_id, sha256)
    WHERE (person_id IS NOT NULL);

-- Outbox events the expansion consumed (made notifications of, found nothing to tell, or dead-
-- lettered), written in the expanding transaction. An event the relay published but Redis lost
-- (a restart without persistence, a flush) has no row here: the reconcile job publishes it again.
CREATE TABLE notify_event (
    outbox_id   bigint NOT NULL,
    consumed_at timestamptz NOT NULL,
    CONSTRAINT notify_event_pkey PRIMARY KEY (outbox_id)
);

-- How far the reconcile job has found every event consumed (outbox ids up to here need no look).
CREATE TABLE notify_reconcile_mark (
    name      text NOT NULL,
    outbox_id bigint NOT NULL,
    CONSTRAINT notify_reconcile_mark_pkey PRIMARY KEY (name)
);

-- A department's listed powers (权责清单) besides the certificate types it issues, which
-- certificate_type.issuer_department_ids states, and the matters it handles (catalog_matter).
-- The window's power in the catalogue (权责清单): its clerks take applications for others.
CREATE TABLE department_authority (
    department_id     uuid NOT NULL,
    record_kinds      text[] NOT NULL DEFAULT '{}',
    life_events       text[] NOT NULL DEFAULT '{}',
    guardianship      boolean NOT NULL DEFAULT false,
    realname_proofing boolean NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    window_intake     boolean NOT NULL DEFAULT false,
    CONSTRAINT department_authority_pkey PRIMARY KEY (department_id),
    CONSTRAINT department_authority_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id)
);

-- 出生一件事: one birth, one child. A birth case is known by the 出生医学证明 number or the
-- hospital's delivery record number the parents give (blind-indexed, never stored in the clear);
-- each names the child the case created and the application that carries it now. The second
-- parent applying for the same baby joins that application instead of creating another child.
CREATE TABLE application_birth_key (
    key_index       bytea NOT NULL,
    child_person_id uuid NOT NULL,
    application_id  uuid NOT NULL,
    created_at      timestamptz NOT NULL,
    CONSTRAINT application_birth_key_pkey PRIMARY KEY (key_index),
    CONSTRAINT application_birth_key_application_id_fkey
        FOREIGN KEY (application_id) REFERENCES application(id),
    CONSTRAINT application_birth_key_child_person_id_fkey FOREIGN KEY (child_person_id) REFERENCES person(id)
);
CREATE INDEX application_birth_key_application_id_idx ON application_birth_key (application_id);
CREATE INDEX application_birth_key_child_person_id_idx ON application_birth_key (child_person_id);

-- Batch issuing as a job (esign/batches.py): POST /v1/dept/certificates:batch stores the request
-- here and answers 202; a worker claims the batch (state running, claim and lease_until, renewed
-- while it works; a worker killed mid-batch lets the lease run out and another takes the batch up
-- again) and issues it chunk by chunk. The items hold holders' ID numbers and names, so they are
-- stored sealed (AES-GCM under the master key, context "esign_certificate_batch.items") and
-- dropped once the batch has finished. The counts move with each chunk, in its transaction.
CREATE TABLE esign_certificate_batch (
    id             uuid NOT NULL,
    department_id  uuid NOT NULL,
    actor          text NOT NULL,
    state          text NOT NULL DEFAULT 'queued',
    total          integer NOT NULL,
    issued         integer NOT NULL DEFAULT 0,
    existing       integer NOT NULL DEFAULT 0,
    failed         integer NOT NULL DEFAULT 0,
    items          bytea,
    route          text NOT NULL,
    client_address text,
    attempts       integer NOT NULL DEFAULT 0,
    claim          uuid,
    lease_until    timestamptz,
    error          json,
    created_at     timestamptz NOT NULL,
    started_at     timestamptz,
    finished_at    timestamptz,
    CONSTRAINT esign_certificate_batch_pkey PRIMARY KEY (id),
    CONSTRAINT esign_certificate_batch_department_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT esign_certificate_batch_finished_check
        CHECK ((state IN ('done', 'failed')) = (finished_at IS NOT NULL)),
    CONSTRAINT esign_certificate_batch_state_check CHECK (state IN ('queued', 'running', 'done', 'failed')),
    CONSTRAINT esign_certificate_batch_total_check CHECK (total > 0)
);
CREATE INDEX esign_certificate_batch_department_idx ON esign_certificate_batch (department_id, id);

-- What the workers poll: the few batches not finished.
CREATE INDEX esign_certificate_batch_open_idx ON esign_certificate_batch (created_at)
    WHERE (state IN ('queued', 'running'));

-- One row per item once it is settled, written in the transaction that settles it (the chunk that
-- issues it, or the one-by-one retry), so a batch taken up again skips exactly what was done.
-- error: the problem document a single request would have received.
CREATE TABLE esign_certificate_batch_result (
    batch_id       uuid NOT NULL,
    index          integer NOT NULL,
    status         text NOT NULL,
    certificate_id uuid,
    error          json,
    CONSTRAINT esign_certificate_batch_result_pkey PRIMARY KEY (batch_id, index),
    CONSTRAINT esign_certificate_batch_result_batch_fkey
        FOREIGN KEY (batch_id) REFERENCES esign_certificate_batch(id) ON DELETE CASCADE,
    CONSTRAINT esign_certificate_batch_result_status_check CHECK (status IN ('issued', 'existing', 'failed'))
);

-- Each time a login is bound to a verified identity (a login of an account that has one, or the
-- real-name proof that gives it one) the person is told, with a one-tap "not me". The token of that
-- link is kept only as its SHA-256; it works once and expires.
CREATE TABLE auth_login_alert (
    id         uuid NOT NULL,
    login_id   uuid,
    account_id uuid NOT NULL,
    person_id  uuid NOT NULL,
    method     text NOT NULL,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT auth_login_alert_pkey PRIMARY KEY (id),
    CONSTRAINT auth_login_alert_token_hash_key UNIQUE (token_hash),
    CONSTRAINT auth_login_alert_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account(id),
    CONSTRAINT auth_login_alert_login_id_fkey FOREIGN KEY (login_id) REFERENCES auth_refresh_family(id),
    CONSTRAINT auth_login_alert_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id)
);
CREATE INDEX auth_login_alert_login_id_idx ON auth_login_alert (login_id);
CREATE INDEX auth_login_alert_account_id_idx ON auth_login_alert (account_id);

-- A person said "not me" about a login bound to their identity: the login was ended and the
-- operators look into it. One case per alert; closed with a resolution.
CREATE TABLE auth_identity_case (
    id               uuid NOT NULL,
    alert_id         uuid NOT NULL,
    person_id        uuid NOT NULL,
    account_id       uuid NOT NULL,
    login_id         uuid,
    method           text NOT NULL,
    reported_via     text NOT NULL,
    reported_by      uuid,
    identity_unbound boolean NOT NULL,
    status           text NOT NULL DEFAULT 'open',
    opened_at        timestamptz NOT NULL,
    closed_at        timestamptz,
    closed_by        text,
    resolution       text,
    CONSTRAINT auth_identity_case_pkey PRIMARY KEY (id),
    CONSTRAINT auth_identity_case_alert_id_key UNIQUE (alert_id),
    CONSTRAINT auth_identity_case_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account(id),
    CONSTRAINT auth_identity_case_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES auth_login_alert(id),
    CONSTRAINT auth_identity_case_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id),
    CONSTRAINT auth_identity_case_reported_by_fkey FOREIGN KEY (reported_by) REFERENCES auth_account(id),
    CONSTRAINT auth_identity_case_reported_via_check CHECK (reported_via IN ('app', 'link')),
    CONSTRAINT auth_identity_case_status_check CHECK (status IN ('open', 'closed'))
);
CREATE INDEX auth_identity_case_status_id_idx ON auth_identity_case (status, id);

CREATE TABLE org_entity (
    id              uuid NOT NULL,
    credit_code     text NOT NULL,
    name            text NOT NULL,
    legal_rep_index bytea,
    status          text NOT NULL,
    registered_at   timestamptz NOT NULL,
    closed_at       timestamptz,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT org_entity_pkey PRIMARY KEY (id),
    CONSTRAINT org_entity_credit_code_key UNIQUE (credit_code),
    CONSTRAINT org_entity_id_fkey FOREIGN KEY (id) REFERENCES person(id),
    CONSTRAINT org_entity_closed_check CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
    CONSTRAINT org_entity_status_check CHECK (status IN ('active', 'closed'))
);
CREATE INDEX org_entity_legal_rep_index_idx ON org_entity (legal_rep_index)
    WHERE (legal_rep_index IS NOT NULL);

-- 代办: a principal (a person; an organisation for its 经办人) lets an agent act for them, for some
-- matters and some actions, until a time or until revoked. Every use is logged.
CREATE TABLE delegation (
    id              uuid NOT NULL,
    principal_kind  text NOT NULL,
    principal_id    uuid NOT NULL,
    agent_person_id uuid NOT NULL,
    matters         text[] NOT NULL,
    actions         text[] NOT NULL,
    note            text,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    CONSTRAINT delegation_pkey PRIMARY KEY (id),
    CONSTRAINT delegation_agent_person_id_fkey FOREIGN KEY (agent_person_id) REFERENCES person(id),
    CONSTRAINT delegation_actions_check
        CHECK ((cardinality(actions) > 0) AND (actions <@ ARRAY['apply', 'supplement', 'collect'])),
    CONSTRAINT delegation_expiry_check CHECK (expires_at > created_at),
    CONSTRAINT delegation_matters_check CHECK (cardinality(matters) > 0),
    CONSTRAINT delegation_principal_kind_check CHECK (principal_kind IN ('person', 'organisation'))
);
CREATE INDEX delegation_principal_idx ON delegation (principal_kind, principal_id);
CREATE INDEX delegation_agent_person_id_idx ON delegation (agent_person_id);

CREATE TABLE delegation_use (
    id             bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    delegation_id  uuid NOT NULL,
    action         text NOT NULL,
    outcome        text NOT NULL,
    reason         text,
    matter_code    text,
    application_id uuid,
    department_id  uuid,
    actor          text NOT NULL,
    at             timestamptz NOT NULL,
    CONSTRAINT delegation_use_pkey PRIMARY KEY (id),
    CONSTRAINT delegation_use_delegation_id_fkey FOREIGN KEY (delegation_id) REFERENCES delegation(id),
    CONSTRAINT delegation_use_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT delegation_use_outcome_check CHECK (outcome IN ('served', 'refused'))
);
CREATE INDEX delegation_use_delegation_id_idx ON delegation_use (delegation_id, id DESC);

-- One visit at a window: who came (and who for), which clerk of which centre, the consent given
-- there for 免提交, and the application taken. Its times are the window's numbers.
-- When the window was told an application is ready (its last task done), for the pick-up queue.
CREATE TABLE window_intake (
    id               uuid NOT NULL,
    department_id    uuid NOT NULL,
    window_label     text,
    clerk_account_id uuid NOT NULL,
    person_id        uuid NOT NULL,
    delegation_id    uuid,
    agent_person_id  uuid,
    ticket_issued_at timestamptz,
    opened_at        timestamptz NOT NULL,
    consent_id       uuid,
    consented_at     timestamptz,
    application_id   uuid,
    submitted_at     timestamptz,
    ready_at         timestamptz,
    CONSTRAINT window_intake_pkey PRIMARY KEY (id),
    CONSTRAINT window_intake_application_id_key UNIQUE (application_id),
    CONSTRAINT window_intake_application_id_fkey FOREIGN KEY (application_id) REFERENCES application(id),
    CONSTRAINT window_intake_clerk_account_id_fkey FOREIGN KEY (clerk_account_id) REFERENCES auth_account(id),
    CONSTRAINT window_intake_consent_id_fkey FOREIGN KEY (consent_id) REFERENCES wallet_consent(id),
    CONSTRAINT window_intake_delegation_id_fkey FOREIGN KEY (delegation_id) REFERENCES delegation(id),
    CONSTRAINT window_intake_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT window_intake_person_id_fkey FOREIGN KEY (person_id) REFERENCES person(id)
);
CREATE INDEX window_intake_department_id_opened_at_idx ON window_intake (department_id, opened_at);
CREATE INDEX window_intake_department_id_ready_at_idx ON window_intake (department_id, ready_at)
    WHERE (ready_at IS NOT NULL);

-- 统一窗口出件: results handed over on paper at the window that took the application — who handed
-- them, when, to whom (the citizen or their 代办人), and that the recipient's ID card was checked.
CREATE TABLE window_handover (
    id                  uuid NOT NULL,
    application_id      uuid NOT NULL,
    department_id       uuid NOT NULL,
    clerk_account_id    uuid NOT NULL,
    recipient_person_id uuid NOT NULL,
    delegation_id       uuid,
    id_checked          boolean NOT NULL,
    certificate_ids     uuid[] NOT NULL,
    handed_at           timestamptz NOT NULL,
    CONSTRAINT window_handover_pkey PRIMARY KEY (id),
    CONSTRAINT window_handover_application_id_key UNIQUE (application_id),
    CONSTRAINT window_handover_application_id_fkey FOREIGN KEY (application_id) REFERENCES application(id),
    CONSTRAINT window_handover_clerk_account_id_fkey
        FOREIGN KEY (clerk_account_id) REFERENCES auth_account(id),
    CONSTRAINT window_handover_delegation_id_fkey FOREIGN KEY (delegation_id) REFERENCES delegation(id),
    CONSTRAINT window_handover_department_id_fkey FOREIGN KEY (department_id) REFERENCES department(id),
    CONSTRAINT window_handover_recipient_person_id_fkey
        FOREIGN KEY (recipient_person_id) REFERENCES person(id),
    CONSTRAINT window_handover_id_checked_check CHECK (id_checked)
);

-- A phone number a person without the app gave (at a service-centre window) for text messages about
-- their applications. Sealed like account phones; used only while the person has no account of
-- their own. No foreign key, as the other notification tables (migration 0036).
CREATE TABLE notify_contact_phone (
    person_id uuid NOT NULL,
    phone     bytea NOT NULL,
    given_by  text NOT NULL,
    given_at  timestamptz NOT NULL,
    CONSTRAINT notify_contact_phone_pkey PRIMARY KEY (person_id)
);

-- 企业电子印章: the e-seal the platform makes for a business entity on its behalf when its 公章刻制备案
-- is done (the 印章备案回执 issued). Its key is held as a department seal's platform-held key is:
-- PKCS#8 DER encrypted under the master key (context "esign_entity_seal.private_key"); its certificate
-- comes from the platform root. One seal per entity.
CREATE TABLE esign_entity_seal (
    id          uuid NOT NULL,
    org_id      uuid NOT NULL,
    algorithm   text NOT NULL,
    kid         bytea NOT NULL,
    certificate bytea NOT NULL,
    private_key bytea NOT NULL,
    status      text NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    CONSTRAINT esign_entity_seal_pkey PRIMARY KEY (id),
    CONSTRAINT esign_entity_seal_kid_key UNIQUE (kid),
    CONSTRAINT esign_entity_seal_org_id_key UNIQUE (org_id),
    CONSTRAINT esign_entity_seal_org_id_fkey FOREIGN KEY (org_id) REFERENCES org_entity(id),
    CONSTRAINT esign_entity_seal_status_check CHECK (status IN ('active', 'revoked'))
);
