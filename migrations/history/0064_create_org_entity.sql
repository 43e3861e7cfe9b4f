SET lock_timeout = '2s';

-- Business entities (经营主体) as holders and actors. An entity keeps the same wallet a person does
-- (items, consents, access log, change log are keyed by a holder id), so each entity has a holder
-- row in `person` marked `kind = 'organisation'` — without an ID number, its name sealed as a
-- person's is — and its registry facts here, keyed by the unified social credit code (GB 32100).
-- `legal_rep_index` is the blind index (purpose "id_number") of the legal representative's ID number
-- as the 营业执照 issued or pushed by 市场监管 names it: whoever proves that identity may act as 法定代表人,
-- found by comparing indexes, the number itself never read back.
ALTER TABLE person ADD COLUMN kind text NOT NULL DEFAULT 'person';
ALTER TABLE person ADD CONSTRAINT person_kind_check CHECK (kind IN ('person', 'organisation')) NOT VALID;

CREATE TABLE org_entity (
    id               uuid NOT NULL,
    credit_code      text NOT NULL,
    name             text NOT NULL,
    legal_rep_index  bytea,
    status           text NOT NULL,
    registered_at    timestamptz NOT NULL,
    closed_at        timestamptz,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT org_entity_pkey PRIMARY KEY (id),
    CONSTRAINT org_entity_id_fkey FOREIGN KEY (id) REFERENCES person (id),
    CONSTRAINT org_entity_credit_code_key UNIQUE (credit_code),
    CONSTRAINT org_entity_status_check CHECK (status IN ('active', 'closed')),
    CONSTRAINT org_entity_closed_check CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);

CREATE INDEX org_entity_legal_rep_index_idx ON org_entity (legal_rep_index) WHERE legal_rep_index IS NOT NULL;

-- An organisation's certificate now has a holder row (its wallet), so person_id may be set for it.
ALTER TABLE esign_certificate DROP CONSTRAINT esign_certificate_holder_kind_check;
ALTER TABLE esign_certificate ADD CONSTRAINT esign_certificate_holder_kind_check CHECK (
    (holder_kind = 'person' AND holder_credit_code IS NULL)
    OR (holder_kind = 'organisation' AND holder_credit_code IS NOT NULL)
) NOT VALID;
